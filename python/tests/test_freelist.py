"""The free set of FORMAT.md §8: a checkpoint (type 2) plus a per-commit log
(type 6). The pages of vector freelist-log-1k decoded and compared with
conformance/worked-example.md; forged freelist pages refused with ErrCorrupt
naming the page; and Go-written free sets with log pages loaded by Python,
written on by both, checked by Go (the cross tests are skipped without Go)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import struct
import tempfile
import unittest

from helpers import CONFORMANCE, KEY_HEX, go, go_check, go_cli, go_read_all, read_all, scdb
from scdb import freelist as fl
from scdb.meta import TYPE_FREELIST, TYPE_FREELIST_LOG
from scdb.txn import View

VECTOR = os.path.join(CONFORMANCE, "vectors", "freelist-log-1k.scdb")
VECTOR_KEY = bytes(range(32))
WORKED = os.path.join(CONFORMANCE, "worked-example.md")


def state(db):
    """(view, meta) of an open handle's committed state."""
    p = db._pager
    m = p.meta
    return View(p, lambda: m.page_count), m


def worked_freelist_pages():
    """{page: {"gen", "type", "hex": payload prefix, "fields": [bullet lines]}} of
    worked-example.md's freelist section."""
    with open(WORKED, encoding="utf-8") as f:
        text = f.read()
    text = text[text.index("## Freelist pages of `freelist-log-1k.scdb`"):]
    out = {}
    for m in re.finditer(r"### Page (\d+): freelist (log|checkpoint), generation (\d+)\n\n```\n(.*?)```\n\n((?:- [^\n]*\n)+)",
                         text, re.S):
        dump = bytearray()
        for line in m.group(4).splitlines():
            off, *hx = line.split()
            assert int(off, 16) == len(dump)
            dump += bytes(int(h, 16) for h in hx)
        out[int(m.group(1))] = {"type": m.group(2), "gen": int(m.group(3)), "hex": bytes(dump),
                                "fields": [ln[2:] for ln in m.group(5).splitlines()]}
    return out


def fmt_runs(runs):
    s = [f"({a}, {b})" for a, b in runs]
    if len(s) > 12:
        s = s[:12] + [f"… {len(s) - 12} more"]
    return ", ".join(s)


class TestLogVector(unittest.TestCase):
    def test_decode_matches_worked_example(self):
        want = worked_freelist_pages()
        self.assertEqual(sorted(want), [13, 21, 191, 192])
        with scdb.open(VECTOR, key=VECTOR_KEY) as db:
            view, m = state(db)
            self.assertEqual((m.gen, m.page_count, m.freelist), (4, 193, (21, 4)))
            pages = list(fl.walk(view, m))
            self.assertEqual([ref for ref, _ in pages], [(21, 4), (13, 3), (191, 2), (192, 2)])
            per_log = fl.log_entries_per_page(view.payload_size)
            for ref, runs in pages:
                w = want[ref[0]]
                self.assertEqual(w["gen"], ref[1])
                b = view.read_page(ref)
                self.assertEqual(b[:len(w["hex"])], w["hex"], f"page {ref[0]} bytes")
                self.assertFalse(any(b[len(w["hex"]):]), f"page {ref[0]}: the rest is zero")
                if w["type"] == "log":
                    self.assertEqual(b[0], TYPE_FREELIST_LOG)
                    lp = fl.LogPage(ref, b, per_log)
                    rem, add = runs
                    self.assertEqual(w["fields"], [
                        f"removed count {lp.removed}, added count {lp.added}; previous "
                        f"`{b[16:32].hex()}` (page {lp.prev[0]}, generation {lp.prev[1]}); "
                        f"sequence {lp.seq}; free pages {lp.free_pages}",
                        f"removed: {fmt_runs(rem)}",
                        f"added: {fmt_runs(add)}",
                    ])
                else:
                    self.assertEqual(b[0], TYPE_FREELIST)
                    count, nxt = struct.unpack_from("<IQ", b, 4)
                    self.assertEqual(w["fields"], [
                        f"entry count {count}, next checkpoint page {nxt} (same generation)",
                        f"runs: {fmt_runs(runs)}",
                    ])
            # The fields the worked example states, spelled out once more.
            lp21 = fl.LogPage((21, 4), view.read_page((21, 4)), per_log)
            self.assertEqual((lp21.prev, lp21.seq, lp21.free_pages), ((13, 3), 2, 95))
            lp13 = fl.LogPage((13, 3), view.read_page((13, 3)), per_log)
            self.assertEqual((lp13.prev, lp13.seq, lp13.free_pages), ((191, 2), 1, 96))
            # §8.3: checkpoint, then sequence 1, then 2; the set of the head.
            fs, ckpt, log = fl.read_state(view, m)
            self.assertEqual((ckpt, log), ([(191, 2), (192, 2)], [(13, 3), (21, 4)]))
            self.assertEqual(fs.pages, 95)
            ck = [r for ref, rs in pages[2:] for r in rs]
            expect = fl.RunSet(ck)
            for s, n in [(7, 1), (9, 1), (11, 1), (13, 1), (15, 1), (17, 1), (19, 1), (21, 1)]:
                self.assertTrue(expect.remove(s, n))
            for s, n in [(182, 1), (188, 1), (190, 1), (7, 1), (9, 1), (11, 1)]:
                self.assertTrue(expect.add(s, n))
            self.assertEqual(fs.runs(), expect.runs())
            for pg in (13, 21, 191, 192):
                self.assertFalse(fs.contains(pg))

    def test_write_on_the_vector(self):
        """A writer loads the checkpoint + log, reuses its pages, writes a fresh
        checkpoint and frees the old freelist pages."""
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "v.scdb")
            shutil.copy(VECTOR, p)
            with scdb.open(p, key=VECTOR_KEY) as db:
                model = read_all(db)
            with scdb.open(p, "w", key=VECTOR_KEY) as db:
                before = db._pager.meta.page_count
                with db.transaction():
                    for i in range(5):
                        db.put("f", f"x{i}", bytes([i]) * 1500)  # 2 chain pages each
                        model.setdefault(b"f", {})[f"x{i}".encode()] = bytes([i]) * 1500
                view, m = state(db)
                fs, ckpt, log = fl.read_state(view, m)
                self.assertEqual(log, [])
                self.assertEqual({r[1] for r in ckpt}, {m.gen})
                for pg in (13, 21, 191, 192):  # the old freelist pages are free again
                    self.assertTrue(fs.contains(pg) or pg >= m.page_count, pg)
                self.assertLessEqual(m.page_count, before)
                for i in range(5, 8):  # and more commits, reusing those pages
                    db.put("f", f"x{i}", bytes([i]) * 1500)
                    model[b"f"][f"x{i}".encode()] = bytes([i]) * 1500
                self.assertLessEqual(db._pager.meta.page_count, before)
                self.assertEqual(read_all(db), model)
            if not have_go():
                return
            self.assertIn(" 0 leaked", go_check_key(p, VECTOR_KEY.hex()))
            self.assertEqual(go_read_all_key(p, VECTOR_KEY.hex()), model)


def have_go() -> bool:
    try:
        go_cli()
        return True
    except unittest.SkipTest:
        return False


def go_check_key(path, key_hex):
    r = go(["check", path], check=False, key=key_hex)
    if r.returncode != 0:
        raise AssertionError(f"scdb check failed: {r.stdout.decode()} {r.stderr.decode()}")
    return r.stdout.decode()


def go_read_all_key(path, key_hex):
    out = {}
    for line in go(["lists", "--json", path], key=key_hex).stdout.splitlines():
        o = json.loads(line)
        name = base64.b64decode(o["name_b64"]) if "name_b64" in o else o["name"].encode()
        recs = {}
        for ln in go(["export", path, name.decode()], key=key_hex).stdout.splitlines():
            r = json.loads(ln)
            rid = base64.b64decode(r["id_b64"]) if "id_b64" in r else r["id"].encode()
            recs[rid] = base64.b64decode(r["value_b64"]) if "value_b64" in r else r["value_text"].encode()
        out[name] = recs
    return out


class TestHostileLog(unittest.TestCase):
    """Forged freelist pages of the vector, re-sealed with the data key so they
    authenticate: a writer must refuse them with ErrCorrupt naming the page."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.path = os.path.join(self.tmp.name, "h.scdb")
        shutil.copy(VECTOR, self.path)

    def forge(self, ref, edit):
        """Decrypt page ref, apply edit(bytearray) and seal it back at the same generation."""
        with scdb.open(self.path, key=VECTOR_KEY) as db:
            p = db._pager
            b = bytearray(p.read_page(ref))
            edit(b)
            sealed = p.seal(ref[0], ref[1], bytes(b))
        with open(self.path, "r+b") as f:
            f.seek(ref[0] * 1024)
            f.write(sealed)

    def refused(self, page, why):
        # Reading records never opens the freelist (§7): still fine.
        with scdb.open(self.path, key=VECTOR_KEY) as db:
            self.assertTrue(read_all(db))
        with scdb.open(self.path, "w", key=VECTOR_KEY) as db:
            with self.assertRaises(scdb.ErrCorrupt) as cm:
                db.put("x", "y", b"z")
        self.assertEqual(cm.exception.page, page, str(cm.exception))
        self.assertIn(why, str(cm.exception))
        if have_go():  # Go's check refuses the same page
            r = go(["check", self.path], check=False, key=VECTOR_KEY.hex())
            self.assertEqual(r.returncode, 4, r.stdout + r.stderr)
            self.assertIn(f"problem: page {page}: corrupt page {page}:", r.stdout.decode())

    @staticmethod
    def set_run(off, start, n):
        return lambda b: struct.pack_into("<QI", b, off, start, n)

    def test_back_pointer_loops(self):
        self.forge((13, 3), lambda b: struct.pack_into("<QQ", b, 16, 13, 3))  # page 13's previous: itself
        self.refused(13, "loop")

    def test_back_pointer_to_the_head(self):
        # page 13 -> page 21 at generation 3: 21 was read already (a loop), found before opening it
        self.forge((13, 3), lambda b: struct.pack_into("<QQ", b, 16, 21, 3))
        self.refused(21, "loop")

    def test_checkpoint_next_loops(self):
        self.forge((192, 2), lambda b: struct.pack_into("<Q", b, 8, 191))
        self.refused(191, "loop")

    def test_removal_of_a_page_not_free(self):
        # page 21 removes (15, 1), (17, 1), ...: make the first (14, 1); 14 is live
        self.forge((21, 4), self.set_run(48, 14, 1))
        self.refused(21, "not all free")

    def test_addition_of_a_free_page(self):
        # page 13 adds (182, 1), (188, 1), (190, 1): make the last (189, 1), free in the checkpoint
        self.forge((13, 3), self.set_run(48 + 12 * 6, 189, 1))
        self.refused(13, "free already")

    def test_free_pages_total_wrong(self):
        self.forge((21, 4), lambda b: struct.pack_into("<Q", b, 40, 94))
        self.refused(21, "pages are free")

    def test_sequence_gap(self):
        self.forge((21, 4), lambda b: struct.pack_into("<Q", b, 32, 3))
        self.refused(13, "sequence number 1")

    def test_first_log_page_not_sequence_1(self):
        def edit(b):
            struct.pack_into("<Q", b, 32, 2)
        self.forge((13, 3), edit)
        self.forge((21, 4), lambda b: struct.pack_into("<Q", b, 32, 3))
        self.refused(13, "points at no log page")

    def test_previous_of_newer_generation(self):
        self.forge((13, 3), lambda b: struct.pack_into("<QQ", b, 16, 191, 4))
        self.refused(13, "generation")

    def test_previous_out_of_bounds(self):
        self.forge((13, 3), lambda b: struct.pack_into("<QQ", b, 16, 193, 2))
        self.refused(193, "outside the file")

    def test_previous_is_not_a_freelist_page(self):
        # page 21's previous: the directory root (a tree page that opens at its generation)
        with scdb.open(self.path, key=VECTOR_KEY) as db:
            view, m = state(db)
            root = m.tree
        self.forge((21, 4), lambda b: struct.pack_into("<QQ", b, 16, root[0], root[1]))
        self.refused(root[0], "not a freelist page")

    def test_reserved_not_zero(self):
        self.forge((21, 4), lambda b: b.__setitem__(12, 1))
        self.refused(21, "not a freelist page")

    def test_counts_too_large(self):
        self.forge((21, 4), lambda b: struct.pack_into("<I", b, 4, 200))
        self.refused(21, "room for")

    def test_run_out_of_bounds(self):
        self.forge((21, 4), self.set_run(48 + 12 * 6, 191, 3))  # last added run past page 192
        self.refused(21, "outside pages")

    def test_removed_runs_out_of_order(self):
        self.forge((21, 4), self.set_run(48 + 12, 15, 1))  # (15,1), (15,1)
        self.refused(21, "out of order")

    def test_addition_of_a_freelist_page(self):
        # page 21 adds (7,1),(9,1),(11,1); make the last (13, 1): log page 13 itself
        def edit(b):
            struct.pack_into("<QI", b, 48 + 12 * 6, 13, 1)
        self.forge((21, 4), edit)
        self.refused(13, "itself recorded as free")

    def test_addition_of_the_directory_root(self):
        with scdb.open(self.path, key=VECTOR_KEY) as db:
            root = db._pager.meta.tree[0]
        # The root (page 19) was taken from the set by page 21 itself; make page 21
        # add it back in place of its last added run, (11, 1): same total.
        self.assertEqual(root, 19)
        self.forge((21, 4), self.set_run(48 + 12 * 6, root, 1))
        self.refused(21, f"directory root, page {root}")


class TestGoLog(unittest.TestCase):
    """Go writes a fragmented file whose free set ends in log pages; Python loads
    it, commits on it reusing pages; Go checks, reads, and writes on; Python
    reads and writes again."""

    def setUp(self):
        go_cli()
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def head(self, p):
        """(type of the head page, log page refs, checkpoint refs) of p's free set."""
        with scdb.open(p, key=KEY_HEX) as db:
            view, m = state(db)
            t = view.read_page(m.freelist)[0] if m.freelist[0] else None
            fs, ckpt, log = fl.read_state(view, m)
            return t, log, ckpt, m.page_count

    def test_go_log_python_continues(self):
        p = os.path.join(self.tmp.name, "g.scdb")
        model = {}
        go(["create", "--page-size", "1024", p])
        lines = []
        for i in range(400):
            v = os.urandom(1500)  # 2 chain pages at 1 KiB
            lines.append(json.dumps({"id": f"r{i:03d}", "value_b64": base64.b64encode(v).decode()}))
            model[f"r{i:03d}".encode()] = v
        go(["import", p, "l"], input=("\n".join(lines) + "\n").encode())
        for i in range(1, 400, 2):  # one commit each: the free set fragments
            go(["rm", p, "l", f"r{i:03d}"])
            del model[f"r{i:03d}".encode()]
        small = {}
        for i in range(8):  # small commits: the log grows until Go checkpoints
            go(["put", p, "s", f"k{i}", f"v{i}"])
            small[f"k{i}".encode()] = f"v{i}".encode()
            t, log, ckpt, _ = self.head(p)
            if t == TYPE_FREELIST_LOG and len(log) >= 2:
                break
        full = {b"l": model, b"s": small}
        self.assertEqual(t, TYPE_FREELIST_LOG, "Go's head should be a log page")
        self.assertGreaterEqual(len(log), 2)
        self.assertGreaterEqual(len(ckpt), 2)
        go_check(p)

        # Python loads the checkpoint + log and commits several transactions.
        _, _, _, pc0 = self.head(p)
        with scdb.open(p, "w", key=KEY_HEX) as db:
            for t_ in range(4):
                with db.transaction():
                    for i in range(t_ * 10, t_ * 10 + 10):
                        v = os.urandom(1500)
                        db.put("l", f"n{i:03d}", v)
                        model[f"n{i:03d}".encode()] = v
                    for i in range(t_ * 8, t_ * 8 + 8, 2):
                        db.delete("l", f"r{i:03d}")
                        del model[f"r{i:03d}".encode()]
            db.put("s", "py", b"python")
            small[b"py"] = b"python"
            self.assertEqual(read_all(db), full)
        t, log, py_ckpt, pc1 = self.head(p)
        self.assertEqual((t, log), (TYPE_FREELIST, []))
        self.assertLessEqual(pc1, pc0, "Python reused the free pages rather than grow the file")
        self.assertIn(" 0 leaked", go_check(p))
        self.assertEqual(go_read_all(p), full)

        # Go writes log pages on top of Python's checkpoint; Python reads and writes.
        for i in range(2):
            go(["put", p, "s", f"g{i}", f"go{i}"])
            small[f"g{i}".encode()] = f"go{i}".encode()
        t, log, ckpt, _ = self.head(p)
        self.assertEqual(t, TYPE_FREELIST_LOG)
        self.assertEqual(len(log), 2)
        self.assertEqual(ckpt, py_ckpt, "Go's log starts from Python's checkpoint")
        self.assertIn(" 0 leaked", go_check(p))
        with scdb.open(p, key=KEY_HEX) as db:
            self.assertEqual(read_all(db), full)
        with scdb.open(p, "w", key=KEY_HEX) as db:
            db.delete("l", "r102")
            del model[b"r102"]
            db.delete("l", "r100")
            del model[b"r100"]
            db.put("l", "last", os.urandom(3000))
            model[b"last"] = db.get("l", "last").value
        self.assertIn(" 0 leaked", go_check(p))
        self.assertEqual(go_read_all(p), full)
        go(["rm", p, "l", "r104"])  # and Go once more, on Python's last checkpoint
        del model[b"r104"]
        self.assertIn(" 0 leaked", go_check(p))
        with scdb.open(p, key=KEY_HEX) as db:
            self.assertEqual(read_all(db), full)


if __name__ == "__main__":
    unittest.main()


class TestHold(unittest.TestCase):
    """Runs held for another open's snapshot (FORMAT.md §9.5) are neither reused
    nor given back, and are carried to the next checkpoint."""

    def test_subtract_and_union(self):
        from scdb.freelist import _subtract, _union
        self.assertEqual(_union([(10, 5), (3, 2), (12, 10), (5, 1)]), [(3, 3), (10, 12)])
        a = [(3, 5), (10, 10), (30, 1)]
        b = [(1, 3), (6, 1), (12, 2), (15, 10)]
        keep, cut = _subtract(a, b)
        self.assertEqual(keep, [(4, 2), (7, 1), (10, 2), (14, 1)] + [(30, 1)])
        self.assertEqual(cut, [(3, 1), (6, 1), (12, 2), (15, 5)])
        self.assertEqual(_subtract(a, []), (a, []))
        self.assertEqual(_subtract([], b), ([], []))

    def test_hold(self):
        from scdb.freelist import Freelist
        f = Freelist(100, 10)
        f.free = [(10, 10), (90, 10)]
        f.hold([(15, 2), (95, 5)])
        self.assertEqual(f.free, [(10, 5), (17, 3), (90, 5)])
        self.assertEqual(f.held, [(15, 2), (95, 5)])
        self.assertEqual(f.alloc(4), 10)
        f._trim_tail()  # the held tail stays
        self.assertEqual(f.page_count, 100)
        self.assertEqual(f.free_count(), 1 + 3 + 5 + 2 + 5)
        f.hold_all()
        self.assertEqual(f.free, [])
        self.assertEqual(f.alloc(1), 100)
