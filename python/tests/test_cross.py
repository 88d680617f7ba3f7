"""Cross-implementation tests against the Go CLI (built once per run; skipped
without Go): Python writes → Go check passes and Go reads the same lists; Go
writes → Python reads them; the same seeded random operations applied through
both give identical lists; each implementation continues the other's file."""

from __future__ import annotations

import os
import random
import tempfile
import unittest

from helpers import KEY_HEX, go, go_check, go_cli, go_read_all, read_all, scdb
from workload import apply_go, apply_py, gen_batches


def setUpModule():
    go_cli()


class TestCross(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_python_writes_go_reads(self):
        for seed in (1, 2):
            rng = random.Random(seed)
            model = {}
            p = self.path(f"py{seed}.scdb")
            with scdb.create(p, key=KEY_HEX, page_size=1024) as db:
                pass
            for step in range(4):
                batches = list(gen_batches(rng, model, 6, 25))
                with scdb.open(p, "w", key=KEY_HEX) as db:
                    for b in batches:
                        apply_py(db, b, rng)
                    self.assertEqual(read_all(db), model)
                go_check(p)
                self.assertEqual(go_read_all(p), model, f"seed {seed} step {step}")

    def test_go_writes_python_reads_and_continues(self):
        rng = random.Random(7)
        model = {}
        p = self.path("go.scdb")
        go(["create", "--page-size", "1024", p])
        for b in gen_batches(rng, model, 10, 20):
            apply_go(p, b)
        with scdb.open(p, "r", key=KEY_HEX) as db:
            self.assertEqual(read_all(db), model)
        # Python continues the Go file (loading Go's freelist), Go checks and reads it.
        with scdb.open(p, "w", key=KEY_HEX) as db:
            for b in gen_batches(rng, model, 8, 25):
                apply_py(db, b, rng)
        go_check(p)
        self.assertEqual(go_read_all(p), model)
        # And Go continues the Python-written state.
        for b in gen_batches(rng, model, 4, 10):
            apply_go(p, b)
        go_check(p)
        with scdb.open(p, "r", key=KEY_HEX) as db:
            self.assertEqual(read_all(db), model)

    def test_tree_churn_keeps_invariants(self):
        """Many inserts then deletes in one list (splits, merges, even sharing of
        leaves and branches): Go's check verifies every tree invariant."""
        rng = random.Random(5)
        p = self.path("churn.scdb")
        model = {}
        scdb.create(p, key=KEY_HEX, page_size=1024).close()
        for round_ in range(3):
            with scdb.open(p, "w", key=KEY_HEX) as db:
                with db.transaction():
                    for _ in range(1500):
                        k = rng.randbytes(rng.randint(1, 40))
                        v = rng.randbytes(rng.choice((0, 5, 60, 200)))
                        db.put("t", k, v)
                        model[k] = v
                with db.transaction():
                    for k in rng.sample(sorted(model), int(len(model) * 0.7)):
                        db.delete("t", k)
                        del model[k]
            go_check(p)
        self.assertEqual(go_read_all(p), {b"t": model} if model else {})

    def test_same_operations_through_both(self):
        rng = random.Random(11)
        model = {}
        pp, gp = self.path("same-py.scdb"), self.path("same-go.scdb")
        go(["create", "--page-size", "1024", gp])
        batches = list(gen_batches(rng, model, 10, 20))
        with scdb.create(pp, key=KEY_HEX, page_size=1024) as db:
            for b in batches:
                apply_py(db, b, rng)
        for b in batches:
            apply_go(gp, b)
        go_check(pp)
        with scdb.open(gp, key=KEY_HEX) as db:
            from_go_file = read_all(db)
        self.assertEqual(go_read_all(pp), from_go_file)
        self.assertEqual(from_go_file, model)

    def test_large_streamed_value_and_passphrase(self):
        p = self.path("big.scdb")
        data = os.urandom(3 * 1024 * 1024 + 17)
        import io
        with scdb.create(p, passphrase="pw", kdf=(1, 64, 1)) as db:
            db.put("blobs", "big", io.BytesIO(data))
            db.put("blobs", "small", b"s")
        import subprocess
        r = subprocess.run([go_cli(), "get", p, "blobs", "big"], capture_output=True,
                           env=dict(os.environ, SCDB_PASSPHRASE="pw", SCDB_KEY=""))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, data)
        r = subprocess.run([go_cli(), "check", p], capture_output=True,
                           env=dict(os.environ, SCDB_PASSPHRASE="pw", SCDB_KEY=""))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with scdb.open(p, passphrase=b"pw") as db:
            rec = db.get("blobs", "big")
            self.assertEqual(rec.size, len(data))
            with rec.open() as f:
                got = bytearray()
                while True:
                    chunk = f.read(100000)
                    if not chunk:
                        break
                    got += chunk
            self.assertEqual(bytes(got), data)


if __name__ == "__main__":
    unittest.main()
