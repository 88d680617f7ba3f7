"""The public API: the issue's snippet, modes, str/bytes names and ids, typed
errors, transactions, Append, lazy iteration, streams, locks, flat memory."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import tracemalloc
import unittest

from helpers import KEY_HEX, scdb

KEY = bytes.fromhex(KEY_HEX)


class _Zeros(io.RawIOBase):
    """A file-like value of n pseudo-random bytes produced on the fly."""

    def __init__(self, n):
        self.left, self.i = n, 0

    def readable(self):
        return True

    def readinto(self, b):
        k = min(len(b), self.left)
        b[:k] = bytes((self.i + j) % 251 for j in range(min(k, 251))) * (k // 251) + \
            bytes((self.i + j) % 251 for j in range(k % 251))
        self.left -= k
        return k


class TestAPI(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.p = os.path.join(self.tmp.name, "my_database.scdb")

    def test_issue_snippet(self):
        with scdb.open(self.p, mode="w", key=KEY) as db:  # "w" creates a missing file
            db.put("my list1", "a", b"hello")
            db.put("my list1", "b", "world")
        db = scdb.open(self.p, mode="r", key=KEY)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            for record in db.list("my list1"):
                print(record)
        db.close()
        self.assertEqual(out.getvalue(), "Record(id='a', value=b'hello')\nRecord(id='b', value=b'world')\n")

    def test_read_write_basics(self):
        with scdb.create(self.p, key=KEY_HEX, page_size=1024) as db:
            db.put("l", "x", b"1")
            db.put(b"l", b"y", b"2")
            db.put("l", b"\xff\xfe", b"bin")
            db.put("", "", b"")  # the empty name, id and value
            self.assertEqual(list(db.lists()), ["", "l"])
            self.assertEqual([r.id_bytes for r in db.list("l")], [b"x", b"y", b"\xff\xfe"])
            rid = [r.id for r in db.list("l")][2]  # surrogateescape str maps back to the bytes
            self.assertEqual(db.get("l", rid).value, b"bin")
            self.assertEqual([r.id for r in db.list("l", start="y")], ["y", rid])
            self.assertEqual(len(db.list("l")), 3)
            self.assertEqual(db.get("", "").value, b"")
            self.assertIn("l", db)
            self.assertNotIn("nope", db)
            self.assertEqual(list(db.list("nope")), [])  # a list that does not exist is empty
            with self.assertRaises(scdb.ErrNotFound):
                db.get("l", "zz")
            with self.assertRaises(KeyError):
                db.get("nope", "zz")
            with self.assertRaises(scdb.ErrNotFound):
                db.delete("l", "zz")
            with self.assertRaises(scdb.ErrNotFound):
                db.drop("nope")
            db.delete("l", "x")
            db.drop("")
            self.assertEqual(list(db.lists()), ["l"])
            with self.assertRaises(scdb.ErrTooLarge):
                db.put("l", "k" * 302, b"")
            with self.assertRaises(scdb.ErrTooLarge):
                db.put("n" * 302, "k", b"")
            db.put("l", "k" * 301, b"v" * 183)  # MaxKey(984); one byte over the inline limit
            gen = db.generation
        with scdb.open(self.p, key=KEY) as db:
            self.assertEqual(db.generation, gen)
            self.assertEqual(db.count("l"), 3)
            with self.assertRaises(scdb.ErrReadOnly):
                db.put("l", "a", b"")
            with self.assertRaises(scdb.ErrReadOnly):
                db.transaction()

    def test_transactions(self):
        with scdb.create(self.p, key=KEY) as db:
            with db.transaction():
                for i in range(50):
                    db.put("t", f"{i:03d}", os.urandom(i * 100))
                self.assertEqual(db.count("t"), 50)  # reads inside see the transaction
            g = db.generation
            self.assertEqual(g, 1)
            with self.assertRaises(RuntimeError):
                with db.transaction():
                    db.drop("t")
                    db.put("u", "a", b"x")
                    self.assertEqual(list(db.lists()), ["u"])
                    raise RuntimeError("roll back")
            self.assertEqual(db.generation, g)
            self.assertEqual(list(db.lists()), ["t"])
            self.assertEqual(db.count("t"), 50)
            with self.assertRaises(scdb.ErrInvalid):
                with db.transaction():
                    with db.transaction():
                        pass
        with scdb.open(self.p, key=KEY) as db:
            self.assertEqual([r.size for r in db.list("t")], [i * 100 for i in range(50)])

    def test_append_sequence_survives_drain(self):
        with scdb.create(self.p, key=KEY) as db:
            ids = [db.append("queue", f"job {i}") for i in range(3)]
            self.assertEqual(ids, ["0000000000000000", "0000000000000001", "0000000000000002"])
            for i in ids:
                db.delete("queue", i)
            self.assertEqual(list(db.lists()), [])  # a kept sequence is not a list
            self.assertEqual(db.append("queue", b"again"), "0000000000000003")
            db.put("queue", "0000000000000004", b"taken")
            self.assertEqual(db.append("queue", b"skip"), "0000000000000005")

    def test_iteration_is_lazy_and_follows_commits(self):
        with scdb.create(self.p, key=KEY, page_size=1024) as db:
            with db.transaction():
                for i in range(300):
                    db.put("l", f"{i:04d}", b"v" * 700 if i % 50 == 0 else b"v")
            seen = []
            for rec in db.list("l"):
                seen.append(rec.id)
                if rec.id == "0100":
                    db.put("l", "0100a", b"new")  # a commit in the middle of the iteration
                    db.delete("l", "0299")
                    stale = db.get("l", "0150")
                    db.put("l", "0150", b"v" * 900)  # frees the old chain
            self.assertEqual(len(seen), 300)
            self.assertIn("0100a", seen)
            self.assertNotIn("0299", seen)
            with self.assertRaises(scdb.ErrTxDone):
                stale.value  # its chain belongs to a replaced state

    def test_streams(self):
        n = 5 * 1024 * 1024 + 3  # 64 KiB pages keep the page count (and tracemalloc's cost) low
        with scdb.create(self.p, key=KEY, page_size=65536) as db:
            tracemalloc.start()
            db.put("blobs", "big", _Zeros(n))
            _, peak_write = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rec = db.get("blobs", "big")
            self.assertEqual(rec.size, n)
            tracemalloc.start()
            h, total = None, 0
            with rec.open() as f:
                while True:
                    b = f.read(65536)
                    if not b:
                        break
                    total += len(b)
                    h = b if h is None else h
            _, peak_read = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        self.assertEqual(total, n)
        self.assertEqual(h[:300], bytes(i % 251 for i in range(251)) + bytes(i % 251 for i in range(49)))
        self.assertLess(peak_write, 2 * 1024 * 1024, "writing a 5 MiB stream must not hold it")
        self.assertLess(peak_read, 2 * 1024 * 1024, "reading a 5 MiB value must not hold it")

    def test_big_list_iterates_in_flat_memory(self):
        with scdb.create(self.p, key=KEY, page_size=4096) as db:
            with db.transaction():
                for i in range(2000):
                    db.put("l", f"{i:06d}", b"x" * 200)  # 400 KB of values
        with scdb.open(self.p, key=KEY) as db:
            tracemalloc.start()
            count = sum(1 for _ in db.list("l"))
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        self.assertEqual(count, 2000)
        self.assertLess(peak, 128 * 1024)

    def test_errors_on_open(self):
        with scdb.create(self.p, passphrase="pw", kdf=(1, 256, 1)) as db:
            db.put("l", "a", b"1")
        with self.assertRaises(scdb.ErrWrongKey):
            scdb.open(self.p, passphrase="nope")
        with self.assertRaises(scdb.ErrWrongKey):
            scdb.open(self.p, key=KEY)
        with self.assertRaises(scdb.ErrKDFLimit):
            scdb.open(self.p, passphrase="pw", max_kdf_memory_kib=128)
        with scdb.open(self.p, passphrase="pw", max_kdf_work=256) as db:
            self.assertEqual(db.get("l", "a").value, b"1")
        with self.assertRaises(scdb.ErrInvalid):
            scdb.open(self.p, key=KEY, passphrase="pw")
        other = os.path.join(self.tmp.name, "junk")
        with open(other, "wb") as f:
            f.write(os.urandom(5000))
        with self.assertRaises(scdb.ErrNotSCDB):
            scdb.open(other, key=KEY)
        with self.assertRaises(FileNotFoundError):
            scdb.open(os.path.join(self.tmp.name, "missing"), key=KEY)

    def test_corrupt_page_is_named(self):
        with scdb.create(self.p, key=KEY, page_size=1024) as db:
            db.put("l", "a", b"x" * 5000)
            cell_first = None
        with open(self.p, "r+b") as f:
            size = os.path.getsize(self.p)
            # flip a byte in every data page but the last written ones: some page of the chain
            f.seek(3 * 1024 + 100)
            b = f.read(1)
            f.seek(3 * 1024 + 100)
            f.write(bytes([b[0] ^ 1]))
        del cell_first, size
        with scdb.open(self.p, key=KEY) as db:
            with self.assertRaises(scdb.ErrCorrupt) as cm:
                for name in db.lists():
                    for r in db.list(name):
                        r.value
            self.assertEqual(cm.exception.page, 3)

    def test_locks(self):
        from scdb.lock import OFD
        scdb.create(self.p, key=KEY).close()
        with scdb.open(self.p, "w", key=KEY):
            with self.assertRaises(scdb.ErrLocked):
                scdb.open(self.p, "w", key=KEY)
            if not OFD:  # flock: readers and the writer exclude each other
                with self.assertRaises(scdb.ErrLocked):
                    scdb.open(self.p, "r", key=KEY)
        with scdb.open(self.p, "r", key=KEY), scdb.open(self.p, "r", key=KEY):
            if not OFD:
                with self.assertRaises(scdb.ErrLocked):
                    scdb.open(self.p, "w", key=KEY)

    def test_reader_snapshot_survives_writer(self):
        """FORMAT.md §9.5: a reader's snapshot lock keeps a writer (another open)
        from reusing the pages the snapshot reaches."""
        from scdb.lock import OFD
        if not OFD:
            self.skipTest("no OFD locks here: readers and writers exclude each other")
        with scdb.create(self.p, key=KEY, page_size=1024) as db:
            with db.transaction():
                for i in range(200):
                    db.put("l", f"{i:04d}", os.urandom(50 if i % 3 else 1500))
            db.delete("l", "0000")  # so that the file has free pages
            want = {r.id: r.value for r in db.list("l")}
        reader = scdb.open(self.p, "r", key=KEY)
        try:
            g = reader.generation
            with scdb.open(self.p, "w", key=KEY) as w:
                for round_ in range(5):
                    with w.transaction():
                        for i in range(0, 200, 2):
                            w.put("l", f"{i:04d}", os.urandom(1200))
                        for i in range(1 + 2 * round_, 200, 10):
                            w.delete("l", f"{i:04d}")
            self.assertEqual(reader.generation, g)
            self.assertEqual({r.id: r.value for r in reader.list("l")}, want)
        finally:
            reader.close()
        with scdb.open(self.p, "w", key=KEY) as w:  # no reader now: free pages are reused again
            w.put("l", "x", b"y")


if __name__ == "__main__":
    unittest.main()
