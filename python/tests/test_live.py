"""A file shared live between processes (FORMAT.md §9.5): snapshot locks and
their byte for huge generations, the writer's lowest-lock query, a reader's
re-reads of the meta pages and the length, DB.refresh and ErrReplaced, and —
with Go installed — a Python reader beside a Go writer committing
continuously, and a Python writer beside a Go reader holding an old snapshot
(tests/livego.go)."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from helpers import KEY_HEX, go, go_export, go_live, scdb

from scdb import lock as _lock
from scdb.pager import RawFile

LINUX_OFD = _lock.OFD
N_IDS = 50
SIZES = (10, 300, 2500, 7000)


# -- the workload of livego.go -------------------------------------------------
def value(j: int, k: int) -> bytes:
    p = f"{j}:{k};".encode()
    n = SIZES[j % 4]
    return (p * (n // len(p) + 1))[:n]


def py_commit(db, j: int) -> None:
    with db.transaction():
        db.put("state", "n", str(j))
        db.put("data", f"{j % N_IDS:04d}", value(j, j % N_IDS))
        if j % 3 == 0:
            try:
                db.delete("data", f"{(j + 25) % N_IDS:04d}")
            except scdb.ErrNotFound:
                pass


def expected(n: int) -> dict:
    """List "data" after commits 1..n of the workload."""
    out = {}
    for k in range(N_IDS):
        jp = n - ((n - k) % N_IDS)
        if jp < 1:
            continue
        jd = next((j for j in range(n, max(0, n - 150), -1) if j % 3 == 0 and (j + 25) % N_IDS == k), 0)
        if jp > jd:
            out[f"{k:04d}"] = value(jp, k)
    return out


def digest(data: dict) -> str:
    h = hashlib.sha256()
    for k in sorted(data):
        v = data[k]
        h.update(k.encode() + b"\0" + struct.pack("<Q", len(v)) + v)
    return h.hexdigest()


def read_state(db) -> tuple[int, dict]:
    try:
        n = int(db.get("state", "n").value)
    except scdb.ErrNotFound:
        n = 0
    return n, {r.id: r.value for r in db.list("data")}


class _Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.p = os.path.join(self.tmp.name, "live.scdb")

    def check_state(self, db, what=""):
        n, data = read_state(db)
        self.assertEqual(data, expected(n), f"{what}: the state read as commit {n} is not that commit")
        return n


def other_fd(path):
    """Another open file description of path: its OFD locks conflict with ours."""
    fd = os.open(path, os.O_RDONLY)
    return fd


@unittest.skipUnless(LINUX_OFD, "open file description locks are Linux only")
class TestLocks(_Base):
    def test_lock_byte_and_lowest_query(self):
        with scdb.create(self.p, key=KEY_HEX, page_size=1024):
            pass
        a, b = RawFile(self.p, writable=False), RawFile(self.p, writable=False)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        a.lock(False)
        b.lock(False)
        self.assertIsNone(a.oldest_foreign_snapshot(100))
        b.lock_snapshot(9)
        b.lock_snapshot(5)
        b.lock_snapshot(5)  # counted: one lock, two holders
        self.assertEqual(a.oldest_foreign_snapshot(100), 5)
        self.assertEqual(a.oldest_foreign_snapshot(5), 5)  # the query includes the current generation
        self.assertIsNone(a.oldest_foreign_snapshot(4))
        self.assertIsNone(b.oldest_foreign_snapshot(100))  # an open's own locks are not foreign
        b.unlock_snapshot(5)
        self.assertEqual(a.oldest_foreign_snapshot(100), 5)
        b.unlock_snapshot(5)
        self.assertEqual(a.oldest_foreign_snapshot(100), 9)
        b.unlock_snapshot(9)
        self.assertIsNone(a.oldest_foreign_snapshot(100))
        # Generations from 2^61 - 1 on share the last byte; it stands for 2^61 - 1.
        big = 1 << 62
        b.lock_snapshot(big)
        self.assertEqual(a.oldest_foreign_snapshot(big + 5), _lock.MAX_LOCKED_GEN)
        self.assertEqual(a.oldest_foreign_snapshot((1 << 64) - 1), _lock.MAX_LOCKED_GEN)
        self.assertIsNone(a.oldest_foreign_snapshot(_lock.MAX_LOCKED_GEN - 1))
        b.lock_snapshot((1 << 61) + 3)  # the same byte
        b.unlock_snapshot(big)
        self.assertEqual(a.oldest_foreign_snapshot(big), _lock.MAX_LOCKED_GEN)
        b.unlock_snapshot((1 << 61) + 3)
        self.assertIsNone(a.oldest_foreign_snapshot(big))
        # Not the writer's byte: a writer can still take 2^62.
        with scdb.open(self.p, "w", key=KEY_HEX) as w:
            w.put("l", "k", "v")

    def test_lock_below_the_snapshot_bytes_counts_as_generation_0(self):
        import fcntl
        with scdb.create(self.p, key=KEY_HEX, page_size=1024):
            pass
        a = RawFile(self.p, writable=False)
        self.addCleanup(a.close)
        a.lock(False)
        fd = other_fd(self.p)
        self.addCleanup(os.close, fd)
        # A lock from below 2^61 into the snapshot bytes (as a hostile process may take).
        _lock._ofd(fd, _lock.F_OFD_SETLK, fcntl.F_RDLCK, _lock.SNAPSHOT_BASE - 10, 20)
        self.assertEqual(a.oldest_foreign_snapshot(1000), 0)

    def test_writer_keeps_pages_for_an_older_snapshot(self):
        """A reader's snapshot stops a writer reusing, or giving back, the pages
        commits after it freed, and only those."""
        with scdb.create(self.p, key=KEY_HEX, page_size=1024) as w:
            for j in range(1, 31):
                py_commit(w, j)
            r = scdb.open(self.p, key=KEY_HEX)
            self.addCleanup(r.close)
            size0 = os.path.getsize(self.p)
            for j in range(31, 131):
                py_commit(w, j)
                self.assertEqual(self.check_state(r, "held snapshot"), 30)
            grown = os.path.getsize(self.p)
            self.assertGreater(grown, 3 * size0)  # nothing freed after 30 was reused
            self.assertEqual(r.refresh(), 130)
            for j in range(131, 231):  # pages freed by 31..130 are reused, those freed after 130 kept
                py_commit(w, j)
                self.assertEqual(self.check_state(r, "held snapshot"), 130)
            self.assertLess(os.path.getsize(self.p), grown * 1.3)
            r.close()
            for j in range(231, 331):  # no reader: every free page is reused; the tail is given back
                py_commit(w, j)
            self.assertLess(os.path.getsize(self.p), grown)

    def test_writer_opened_beside_an_older_snapshot_reuses_nothing_loaded(self):
        with scdb.create(self.p, key=KEY_HEX, page_size=1024) as w:
            for j in range(1, 31):
                py_commit(w, j)
            r = scdb.open(self.p, key=KEY_HEX)
            self.addCleanup(r.close)
            for j in range(31, 61):
                py_commit(w, j)
        with scdb.open(self.p, "w", key=KEY_HEX) as w:  # cannot know which commit freed what
            free_at_open = os.path.getsize(self.p)
            for j in range(61, 91):
                py_commit(w, j)
                self.assertEqual(self.check_state(r, "held snapshot"), 30)
            self.assertGreater(os.path.getsize(self.p), free_at_open)
            r.close()
            for j in range(91, 191):
                py_commit(w, j)
            self.assertEqual(self.check_state(w), 190)


class TestRefresh(_Base):
    def test_refresh_moves_to_the_newest_commit(self):
        with scdb.create(self.p, key=KEY_HEX, page_size=1024) as w:
            py_commit(w, 1)
            r = scdb.open(self.p, key=KEY_HEX)
            self.addCleanup(r.close)
            rec = r.get("data", "0001")
            it = iter(r.list("data"))
            self.assertEqual(next(it).id, "0001")
            for j in range(2, 12):
                py_commit(w, j)
            self.assertEqual(self.check_state(r), 1)
            self.assertEqual(r.generation, 1)
            self.assertEqual(r.refresh(), 11)
            self.assertEqual(r.generation, 11)
            self.assertEqual(self.check_state(r), 11)
            # An iteration goes on in the new state after the last id it returned.
            self.assertEqual([x.id for x in it], sorted(k for k in expected(11) if k > "0001"))
            try:  # a record read before: its value if inline, ErrTxDone if in a chain
                self.assertEqual(rec.value, value(1, 1))
            except scdb.ErrTxDone:
                pass
            self.assertEqual(w.refresh(), 11)  # a writer is at its own newest commit

    def test_replaced_by_rename(self):
        with scdb.create(self.p, key=KEY_HEX, page_size=1024) as w:
            py_commit(w, 1)
        r = scdb.open(self.p, key=KEY_HEX)
        self.addCleanup(r.close)
        other = os.path.join(self.tmp.name, "new.scdb")
        with scdb.create(other, key=KEY_HEX, page_size=1024) as w:
            py_commit(w, 1)
            py_commit(w, 2)
        os.replace(other, self.p)
        with self.assertRaises(scdb.ErrReplaced):
            r.refresh()
        self.assertEqual(self.check_state(r, "old file after a failed refresh"), 1)
        os.remove(self.p)
        with self.assertRaises(scdb.ErrReplaced):
            r.refresh()
        with self.assertRaises(scdb.ErrClosed):
            r.close() or r.refresh()


class _FlakyFile(RawFile):
    """A file whose first reads beside a 'writer' look like what §9.5 lists: a
    length shorter than the meta chosen, or a torn meta page."""

    def __init__(self, path, short_sizes=0, torn_reads=0, same=False):
        super().__init__(path, writable=False)
        self.short_sizes, self.torn_reads, self.same = short_sizes, torn_reads, same
        self.after_meta = False

    def read_at(self, n, off):
        b = super().read_at(n, off)
        if off == 4096 * 1 and self.torn_reads > 0:  # meta pages 1 and 2 (read together)
            self.torn_reads -= 1
            b = bytearray(b)
            b[4096 + 100] ^= 1  # page 2 fails to open
            b = bytes(b)
        if off == 4096:
            self.after_meta = True
        return b

    def size(self):
        s = super().size()
        if self.after_meta and self.short_sizes > 0:
            self.short_sizes -= 1
            self.after_meta = False
            return s - 4096 * (1 if self.same else 1 + self.short_sizes % 2)
        return s


class TestRereads(_Base):
    def make(self):
        with scdb.create(self.p, key=KEY_HEX) as w:
            for j in range(1, 6):
                py_commit(w, j)

    def test_short_length_is_read_again(self):
        self.make()
        for shorts in (1, 3, 7):  # a different short length at each reading: a writer trims
            with scdb.open(self.p, key=KEY_HEX, _file=_FlakyFile(self.p, short_sizes=shorts)) as r:
                self.assertEqual(self.check_state(r), 5)
            with scdb.open(self.p, key=KEY_HEX) as r:
                f = _FlakyFile(self.p, short_sizes=shorts)
                r._pager.f, old = f, r._pager.f
                self.assertEqual(r.refresh(), 5)
                r._pager.f = old
                f.close()
        # Short at 8 readings in a row: reported.
        with self.assertRaises(scdb.ErrCorrupt):
            scdb.open(self.p, key=KEY_HEX, _file=_FlakyFile(self.p, short_sizes=8))
        # The same short length twice in a row: the file is truncated.
        f = _FlakyFile(self.p, short_sizes=1000, same=True)
        with self.assertRaises(scdb.ErrCorrupt) as cm:
            scdb.open(self.p, key=KEY_HEX, _file=f)
        self.assertEqual(f.short_sizes, 998)
        self.assertEqual(cm.exception.page, 13)

    def test_torn_meta_is_not_a_fault_unless_it_stays(self):
        self.make()
        for torn in (1, 2):
            with scdb.open(self.p, key=KEY_HEX, _file=_FlakyFile(self.p, torn_reads=torn)) as r:
                self.assertIsNone(r.meta_fault)
                self.assertEqual(self.check_state(r), 5)
        with scdb.open(self.p, key=KEY_HEX, _file=_FlakyFile(self.p, torn_reads=1000)) as r:
            self.assertIsNotNone(r.meta_fault)  # three readings agree: reported
            self.assertEqual(r.generation, 4)  # generation 5's meta page is the one torn


class TestHugeGeneration(_Base):
    """§5 lets a file start at any generation; §9.5: generations from 2^61 − 1
    on share the last snapshot byte. Such a file opens read-only and reads,
    in Python and in Go, and both can go on writing it."""

    def test_file_past_2_61(self):
        g0 = (1 << 61) - 2
        with scdb.create(self.p, key=KEY_HEX, page_size=1024, generation=g0) as w:
            for j in range(1, 6):
                py_commit(w, j)
            self.assertEqual(w.generation, g0 + 5)
            r = scdb.open(self.p, key=KEY_HEX)  # its snapshot lock is the last byte
            self.addCleanup(r.close)
            self.assertEqual(r.generation, g0 + 5)
            self.assertEqual(self.check_state(r), 5)
            for j in range(6, 40):
                py_commit(w, j)  # reuses nothing the reader may reach
            self.assertEqual(self.check_state(r, "held"), 5)
            self.assertEqual(r.refresh(), g0 + 39)
            self.assertEqual(self.check_state(r), 39)
        r.close()
        with scdb.open(self.p, key=KEY_HEX) as r:
            self.assertEqual(self.check_state(r), 39)
            self.assertGreaterEqual(r.generation, 1 << 61)
        try:
            go_live()
        except unittest.SkipTest:
            return
        self.assertEqual(go_export(self.p, b"data"), {k.encode(): v for k, v in expected(39).items()})
        go(["put", self.p, "state", "n", "39"])
        with scdb.open(self.p, key=KEY_HEX) as r:
            self.assertEqual(r.generation, g0 + 40)
            self.assertEqual(self.check_state(r), 39)


@unittest.skipUnless(LINUX_OFD, "the live tests use open file description locks (Linux)")
class TestLiveWithGo(_Base):
    @classmethod
    def setUpClass(cls):
        cls.bin = go_live()

    def run_go(self, args, **kw):
        env = dict(os.environ, SCDB_KEY=KEY_HEX)
        return subprocess.Popen([self.bin] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, **kw)

    def test_python_reader_beside_go_writer(self):
        with scdb.create(self.p, key=KEY_HEX, page_size=1024) as w:
            for j in range(1, 21):
                py_commit(w, j)
        # Snapshots held across Go commits: one from before the writer starts, one
        # from the middle of the run. Each is let go early enough that the writer
        # then reuses pages and gives back the file's tail (trims the reads race).
        held = scdb.open(self.p, key=KEY_HEX)
        self.addCleanup(held.close)
        self.assertEqual(self.check_state(held), 20)
        mid = None
        ms = 2500
        proc = self.run_go(["write", self.p, str(ms)])
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        t0 = time.monotonic()
        live = scdb.open(self.p, key=KEY_HEX)
        self.addCleanup(live.close)
        seen, opens, refreshes, last, rereads = set(), 0, 0, 0, 0
        while proc.poll() is None and time.monotonic() < t0 + ms / 1000 + 5:
            if opens <= refreshes // 10:
                with scdb.open(self.p, key=KEY_HEX) as r:
                    n = self.check_state(r, f"open {opens}")
                    self.assertIsNone(r.meta_fault)
                    rereads += r._pager.rereads
                opens += 1
            else:
                # Mostly quick refreshes (the meta pages, the length and the lock,
                # many times a commit's trim can race), every tenth one checked whole.
                live.refresh()
                if refreshes % 10 == 0:
                    n = self.check_state(live, f"refresh {refreshes}")
                else:
                    n = int(live.get("state", "n").value)
                self.assertGreaterEqual(n, last)
                last = n
                refreshes += 1
            seen.add(n)
            t = (time.monotonic() - t0) * 1000 / ms
            if held is not None and t > 0.35:
                self.assertEqual(self.check_state(held, "snapshot held across Go commits"), 20)
                held.close()
                held = None
            if mid is None and t > 0.2:
                mid = scdb.open(self.p, key=KEY_HEX)
                self.addCleanup(mid.close)
                mid_n = self.check_state(mid)
            if mid is not None and mid_n is not None and t > 0.55:
                self.assertEqual(self.check_state(mid, "snapshot held from the middle"), mid_n)
                mid.close()
                mid_n = None
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err)
        commits, final = map(int, out.split())
        self.assertIsNone(held, "the run ended early")
        self.assertIsNone(mid_n, "the run ended early")
        live.refresh()
        self.assertEqual(self.check_state(live), final)
        rereads += live._pager.rereads
        sys.stderr.write(f"\n  Go committed {commits} times; Python read {opens} opens and "
                         f"{refreshes} refreshes, {len(seen)} distinct commits, read the meta "
                         f"pages and length again {rereads} times ")
        self.assertGreater(commits, 20)
        self.assertGreater(len(seen), 5)
        go(["check", self.p])

    def hold_beside_python_writer(self, g0):
        with scdb.create(self.p, key=KEY_HEX, page_size=1024, generation=g0) as w:
            for j in range(1, 31):
                py_commit(w, j)
            proc = self.run_go(["hold", self.p], stdin=subprocess.PIPE)
            self.addCleanup(lambda: proc.poll() is None and proc.kill())
            line = proc.stdout.readline().split()
            self.assertEqual(line[:1], ["ready"], proc.stderr.read() if not line else line)
            self.assertEqual((int(line[1]), line[2], int(line[3])), (30, digest(expected(30)), g0 + 30))
            size0 = os.path.getsize(self.p)
            for j in range(31, 131):  # replaces every record twice over
                py_commit(w, j)
        # A writer opened beside the Go snapshot (older than its open) reuses
        # nothing it loads as free.
        with scdb.open(self.p, "w", key=KEY_HEX) as w:
            for j in range(131, 231):
                py_commit(w, j)
            self.assertGreater(os.path.getsize(self.p), size0)
            out, err = proc.communicate("go on\n", timeout=30)
            self.assertEqual(proc.returncode, 0, err)
            done = out.split()
            self.assertEqual(done, ["done", "30", digest(expected(30)), str(g0 + 30)])
            grown = os.path.getsize(self.p)
            for j in range(231, 331):  # the Go reader is gone: pages are reused again
                py_commit(w, j)
            self.assertLessEqual(os.path.getsize(self.p), grown)
        go(["check", self.p])
        with scdb.open(self.p, key=KEY_HEX) as r:
            self.assertEqual(self.check_state(r), 330)

    def test_go_reader_holds_snapshot_beside_python_writer(self):
        self.hold_beside_python_writer(0)

    def test_go_reader_holds_snapshot_past_2_61(self):
        self.hold_beside_python_writer((1 << 61) - 10)


if __name__ == "__main__":
    unittest.main()
