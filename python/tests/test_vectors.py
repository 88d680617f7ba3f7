"""Every conformance vector of conformance/vectors.json: the outcome (error
class, or generation and every list with every record) must match exactly."""

from __future__ import annotations

import json
import os
import unittest

from helpers import CONFORMANCE, scdb


def load_vectors():
    with open(os.path.join(CONFORMANCE, "vectors.json")) as f:
        return json.load(f)["vectors"]


def outcome(path, v):
    kw = {"key": v["key_hex"]} if "key_hex" in v else {"passphrase": v["passphrase"].encode()}
    try:
        with scdb.open(path, "r", **kw) as db:
            lists = []
            for name in db.lists():
                recs = [{"id_hex": r.id_bytes.hex(), "value_hex": r.value.hex()} for r in db.list(name)]
                # the streamed reader must agree with .value
                for r in db.list(name):
                    with r.open() as f:
                        assert f.read() == r.value
                lists.append({"name_hex": name.encode("utf-8", "surrogateescape").hex(), "records": recs})
            return "ok", db.generation, lists
    except scdb.SCDBError as e:
        return type(e).__name__, None, None


class TestVectors(unittest.TestCase):
    def test_every_vector(self):
        vectors = load_vectors()
        self.assertGreater(len(vectors), 20)
        for v in vectors:
            with self.subTest(v["name"]):
                got, gen, lists = outcome(os.path.join(CONFORMANCE, v["file"]), v)
                self.assertEqual(got, v["expect"], v["description"])
                if v["expect"] == "ok":
                    self.assertEqual(gen, v.get("generation", 0))
                    self.assertEqual(lists, v.get("lists", []))

    def test_worked_example_file(self):
        path = os.path.join(CONFORMANCE, "vectors", "worked-example.scdb")
        with scdb.open(path, key=bytes(range(32))) as db:
            self.assertEqual(db.generation, 1)
            self.assertEqual(list(db.lists()), ["l"])
            self.assertEqual([(r.id, r.value) for r in db.list("l")], [("a", b"hi")])


if __name__ == "__main__":
    unittest.main()
