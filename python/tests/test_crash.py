"""A Python commit interrupted at random points leaves a file that Go (and
Python) opens at a whole commit: the state before or after the transaction,
never a mix, and Go's check passes.

The file under test is wrapped in :class:`FaultyFile`, which counts every write
and fsync, tears the chosen write (writes a random prefix of it) and raises.
In "power loss" mode every write not yet made durable by an fsync is then
undone or kept at random, as a kernel may or may not have written it back.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import unittest

from helpers import KEY_HEX, go_check, go_cli, go_read_all, read_all, scdb
from scdb.pager import RawFile
from workload import apply_op, apply_py, gen_batches


class Crash(OSError):
    pass


class FaultyFile(RawFile):
    def __init__(self, path, fail_at=None, rng=None):
        super().__init__(path, writable=True)
        self.ops = 0
        self.fail_at = fail_at
        self.rng = rng or random.Random(0)
        self.unsynced = []  # (offset, old bytes) of writes not yet made durable
        self.events = []  # "w" / "s" per op, to know where the commit's phases are

    def _op(self, kind):
        self.ops += 1
        self.events.append(kind)
        return self.fail_at is not None and self.ops == self.fail_at

    def write_at(self, data, off):
        old = self.read_at(len(data), off)
        self.unsynced.append((off, old))
        if self._op("w"):
            cut = self.rng.randint(0, len(data))
            super().write_at(bytes(data[:cut]), off)
            raise Crash("injected crash during a write")
        super().write_at(data, off)

    def sync(self):
        if self._op("s"):
            raise Crash("injected crash during fsync")
        super().sync()
        self.unsynced.clear()

    def power_loss(self):
        for off, old in reversed(self.unsynced):
            if self.rng.random() < 0.5:
                RawFile.write_at(self, old, off)


def run_tx(path, batches, fail_at, rng, lose_power):
    f = FaultyFile(path, fail_at, rng)
    db = scdb.open(path, "w", key=KEY_HEX, _file=f)
    crashed = False
    try:
        with db.transaction():
            for b in batches:
                for op in b:
                    apply_op(db, op)
    except Crash:
        crashed = True
        if lose_power:
            f.power_loss()
    finally:
        db.close()
    return crashed, f.events


class TestCrash(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        go_cli()

    def test_interrupted_commits(self):
        rng = random.Random(3)
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        base = os.path.join(tmp, "base.scdb")
        before = {}
        with scdb.create(base, key=KEY_HEX, page_size=1024) as db:
            for b in gen_batches(rng, before, 4, 30):
                apply_py(db, b, rng)
        after = {k: dict(v) for k, v in before.items()}
        batch = list(gen_batches(rng, after, 1, 40))
        # Dry run: how many writes and syncs does the transaction make?
        dry = os.path.join(tmp, "dry.scdb")
        shutil.copy(base, dry)
        crashed, events = run_tx(dry, batch, None, rng, False)
        self.assertFalse(crashed)
        with scdb.open(dry, key=KEY_HEX) as db:
            self.assertEqual(read_all(db), after)
        n = len(events)
        last_data_sync = max(i for i, e in enumerate(events[:-1]) if e == "s") + 1  # 1-based op number
        points = sorted(set(rng.randint(1, n) for _ in range(14)) | {1, n, last_data_sync, last_data_sync + 1})
        outcomes = [0, 0]
        self.addCleanup(lambda: print(f"crash points: {len(points)} x 2 modes of {n} writes/syncs; "
                                      f"opened before: {outcomes[0]}, after: {outcomes[1]}"))
        for i, fail_at in enumerate(points):
            for lose_power in (False, True):
                with self.subTest(fail_at=fail_at, of=n, power_loss=lose_power):
                    p = os.path.join(tmp, f"c{i}{int(lose_power)}.scdb")
                    shutil.copy(base, p)
                    crashed, _ = run_tx(p, batch, fail_at, random.Random(fail_at), lose_power)
                    self.assertTrue(crashed)
                    got = go_read_all(p)
                    outcomes[got == after] += 1
                    self.assertTrue(got == before or got == after, "a state that is neither before nor after")
                    if fail_at <= last_data_sync:
                        self.assertTrue(got == before, "meta not written yet, yet the state changed")
                    with scdb.open(p, key=KEY_HEX) as db:
                        self.assertTrue(read_all(db) == got, "Python and Go disagree")
                    go_check(p)


if __name__ == "__main__":
    unittest.main()
