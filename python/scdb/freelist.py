"""Free-page bookkeeping of a write transaction and freelist pages (FORMAT.md §8).

This is the only module that knows the freelist's on-disk form, so that it can
be redone when §8 changes. Implemented from FORMAT.md §8 as of commit 1519435
(the incremental freelist: "A **checkpoint** (type 2, §8.1) is a chain of pages
listing the whole free set as it was at the commit that wrote it. A **log**
(type 6, §8.2) is a sequence of pages written by later commits, each listing
the runs of pages its commit took out of the set and the runs it put in.").

Reading (``read_state``) follows §8.3 step by step and checks every rule of
§8: back through the log from the meta's head (type, reserved bytes, counts,
sequence numbers, generations of the back pointers), the checkpoint chain
(runs ascending across the chain), then the log applied oldest first
(removals must be free, additions must not be, the page total must match),
then the final checks (no freelist page and not the directory root is free).
Every page reached must be in ``[3, page count)`` and reached once.

Writing: every commit writes a fresh checkpoint of the whole set (§8.4 lets a
writer choose a checkpoint at any commit); the pages of the old checkpoint and
of every log page become free at that commit, under the usual reuse rules. No
log page is ever written.

Allocation policy (a writer's choice within §8/§9):
- pages free in the committed state are reused, first fit, lowest first; a
  transaction that needs more grows the file at its end;
- a page the committed state references and this transaction stops
  referencing, or a page this transaction wrote and then dropped, is *pending*:
  free from the commit on, never reused by the transaction that freed it;
- pages allocated but never written (a streamed value's unused tail) go back
  to the reusable set at once;
- at commit the old freelist pages become pending, free pages at the end of
  the file are given back (the page count shrinks), and the new checkpoint is
  written as one contiguous block, allocated like any other pages;
- pages another open's snapshot may still reach (FORMAT.md §9.5: freed by
  commits after the oldest snapshot another open holds, or the whole loaded
  set when that snapshot is older than the writer's open) are *held*: neither
  reused nor given back, carried to the next checkpoint (``hold``,
  ``hold_all``; the pager decides which, ``Pager.guard_reuse``).
"""

from __future__ import annotations

import bisect
import struct

from .errors import ErrCorrupt, ErrTooLarge
from .meta import FIRST_DATA_PAGE, TYPE_FREELIST, TYPE_FREELIST_LOG, max_page_count

HDR = 16  # checkpoint page header (§8.1)
LOG_HDR = 48  # log page header (§8.2)
ENTRY = 12
U32 = 0xFFFFFFFF


def entries_per_page(S: int) -> int:
    """Runs a checkpoint page holds, for a payload of ``S`` bytes: (P − 56) / 12."""
    return (S - HDR) // ENTRY


def log_entries_per_page(S: int) -> int:
    """Runs (removed + added) a log page holds: (P − 88) / 12."""
    return (S - LOG_HDR) // ENTRY


class RunSet:
    """A set of pages held as sorted, disjoint, non-touching runs (any length):
    what §8.3 builds. ``starts``/``lens`` are parallel lists; ``pages`` is the total."""

    def __init__(self, runs=()):
        self.starts: list[int] = []
        self.lens: list[int] = []
        self.pages = 0
        for s, n in runs:  # ascending, disjoint: merge the touching ones
            if self.starts and self.starts[-1] + self.lens[-1] == s:
                self.lens[-1] += n
            else:
                self.starts.append(s)
                self.lens.append(n)
            self.pages += n

    def _at(self, pg: int) -> int:
        """Index of the run that starts at or before ``pg`` (−1 if none)."""
        return bisect.bisect_right(self.starts, pg) - 1

    def contains(self, pg: int) -> bool:
        i = self._at(pg)
        return i >= 0 and pg < self.starts[i] + self.lens[i]

    def remove(self, s: int, n: int) -> bool:
        """Take pages s … s+n−1 out; False (and no change) unless all are in the set."""
        i = self._at(s)
        if i < 0 or s + n > self.starts[i] + self.lens[i]:
            return False
        rs, rn = self.starts[i], self.lens[i]
        left, right = s - rs, rs + rn - (s + n)
        if left and right:
            self.lens[i] = left
            self.starts.insert(i + 1, s + n)
            self.lens.insert(i + 1, right)
        elif left:
            self.lens[i] = left
        elif right:
            self.starts[i], self.lens[i] = s + n, right
        else:
            del self.starts[i], self.lens[i]
        self.pages -= n
        return True

    def first_common(self, s: int, n: int):
        """The lowest page of s … s+n−1 in the set, or None."""
        i = self._at(s)
        if i >= 0 and s < self.starts[i] + self.lens[i]:
            return s
        if i + 1 < len(self.starts) and self.starts[i + 1] < s + n:
            return self.starts[i + 1]
        return None

    def add(self, s: int, n: int) -> bool:
        """Put pages s … s+n−1 in; False (and no change) if any is in the set already."""
        if self.first_common(s, n) is not None:
            return False
        i = self._at(s)
        join_left = i >= 0 and self.starts[i] + self.lens[i] == s
        join_right = i + 1 < len(self.starts) and self.starts[i + 1] == s + n
        if join_left and join_right:
            self.lens[i] += n + self.lens[i + 1]
            del self.starts[i + 1], self.lens[i + 1]
        elif join_left:
            self.lens[i] += n
        elif join_right:
            self.starts[i + 1] = s
            self.lens[i + 1] += n
        else:
            self.starts.insert(i + 1, s)
            self.lens.insert(i + 1, n)
        self.pages += n
        return True

    def runs(self) -> list:
        """The set as runs a u32 length can say (sorted, merged up to U32)."""
        out = []
        for s, n in zip(self.starts, self.lens):
            while n > U32:
                out.append((s, U32))
                s, n = s + U32, n - U32
            out.append((s, n))
        return out


def _check_run(pg: int, s: int, n: int, page_count: int) -> None:
    if n == 0 or s < FIRST_DATA_PAGE or s >= page_count or n > page_count - s:
        raise ErrCorrupt(pg, f"free run {s}+{n} outside pages {FIRST_DATA_PAGE}..{page_count - 1}")


def _runs(pg: int, b, off: int, count: int, page_count: int, end: int = 0):
    """The ``count`` runs stored at ``off`` in page ``pg``'s payload ``b``, each
    checked: inside the file, ascending from ``end`` on, not overlapping.
    Returns (runs, end of the last)."""
    out = []
    for i in range(count):
        s, n = struct.unpack_from("<QI", b, off + i * ENTRY)
        _check_run(pg, s, n, page_count)
        if s < end:
            raise ErrCorrupt(pg, f"free run at page {s} overlaps or is out of order")
        end = s + n
        out.append((s, n))
    return out, end


class LogPage:
    """A decoded, header-checked log page (§8.2)."""

    __slots__ = ("ref", "b", "removed", "added", "prev", "seq", "free_pages")

    def __init__(self, ref, b, per: int):
        pg = ref[0]
        if b[0] != TYPE_FREELIST_LOG or b[1] or b[2] or b[3] or any(b[12:16]):
            raise ErrCorrupt(pg, f"not a freelist page (type {b[0]})")
        self.ref, self.b = ref, b
        self.removed, self.added = struct.unpack_from("<II", b, 4)
        if self.removed + self.added > per:
            raise ErrCorrupt(pg, f"freelist log page claims {self.removed}+{self.added} entries, room for {per}")
        self.prev = struct.unpack_from("<QQ", b, 16)
        self.seq, self.free_pages = struct.unpack_from("<QQ", b, 32)
        if self.seq == 0:
            raise ErrCorrupt(pg, "freelist log page with sequence number 0")
        if self.prev != (0, 0) and self.prev[1] > ref[1]:
            raise ErrCorrupt(pg, f"freelist log page of generation {ref[1]} points at generation {self.prev[1]}")


class _Reader:
    """Opens freelist pages of one state: bounds first, then a page reached
    twice is a loop (§8.3), then the page must open at the reference's generation."""

    def __init__(self, view, meta):
        self.view, self.meta = view, meta
        self.seen: set[int] = set()

    def visit(self, ref) -> bytes:
        pg = ref[0]
        if pg < FIRST_DATA_PAGE or pg >= self.meta.page_count:
            raise ErrCorrupt(pg, f"freelist page outside the file of {self.meta.page_count} pages")
        if pg in self.seen:
            raise ErrCorrupt(pg, f"freelist pages return to page {pg} (a loop)")
        self.seen.add(pg)
        return self.view.read_page(ref)


def read_state(view, meta):
    """Read and check the free set of ``meta`` (FORMAT.md §8.3). Returns
    (RunSet, checkpoint page refs, log page refs oldest first)."""
    rd = _Reader(view, meta)
    pc = meta.page_count
    # 1. Back through the log, newest page first.
    log: list[LogPage] = []
    ref, first_ckpt = meta.freelist, None
    per_log = log_entries_per_page(view.payload_size)
    while ref != (0, 0):
        b = rd.visit(ref)
        if b[0] == TYPE_FREELIST:
            first_ckpt = b
            break
        lp = LogPage(ref, b, per_log)
        if log and lp.seq != log[-1].seq - 1:
            raise ErrCorrupt(ref[0], f"freelist log page has sequence number {lp.seq}, the page after it {log[-1].seq}")
        log.append(lp)
        ref = lp.prev
    if log and log[-1].seq != 1:
        raise ErrCorrupt(log[-1].ref[0], f"freelist log page {log[-1].seq} of its log points at no log page")
    log.reverse()
    # 2. The checkpoint: its runs are the initial set.
    ckpt = []
    runs, end = [], 0
    per = entries_per_page(view.payload_size)
    while ref[0] != 0:  # step 1 ended at a checkpoint page, or at a zero reference
        b = first_ckpt if first_ckpt is not None else rd.visit(ref)
        first_ckpt = None
        pg = ref[0]
        if b[0] != TYPE_FREELIST or b[1] or b[2] or b[3]:
            raise ErrCorrupt(pg, f"not a freelist checkpoint page (type {b[0]})")
        count = struct.unpack_from("<I", b, 4)[0]
        if count > per:
            raise ErrCorrupt(pg, f"freelist page claims {count} entries, room for {per}")
        ckpt.append(ref)
        rs, end = _runs(pg, b, HDR, count, pc, end)
        runs.extend(rs)
        ref = (struct.unpack_from("<Q", b, 8)[0], ref[1])  # the next page has the same generation
    fs = RunSet(runs)
    # 3. Forward through the log, oldest first (the pages kept from step 1).
    for lp in log:
        pg, b = lp.ref[0], lp.b
        removed, _ = _runs(pg, b, LOG_HDR, lp.removed, pc)
        added, _ = _runs(pg, b, LOG_HDR + ENTRY * lp.removed, lp.added, pc)
        for s, n in removed:
            if not fs.remove(s, n):
                raise ErrCorrupt(pg, f"freelist log removes pages {s}+{n}, which are not all free")
        for s, n in added:
            if not fs.add(s, n):
                raise ErrCorrupt(pg, f"freelist log adds pages {s}+{n}, of which page "
                                     f"{fs.first_common(s, n)} is free already")
        if fs.pages != lp.free_pages:
            raise ErrCorrupt(pg, f"freelist log page says {lp.free_pages} pages are free, its runs make {fs.pages}")
    # 4. Final checks.
    logrefs = [lp.ref for lp in log]
    for r in logrefs + ckpt:
        if fs.contains(r[0]):
            raise ErrCorrupt(r[0], "freelist page is itself recorded as free")
    if meta.tree[0] != 0 and fs.contains(meta.tree[0]):
        raise ErrCorrupt(meta.freelist[0], f"freelist records the directory root, page {meta.tree[0]}, as free")
    return fs, ckpt, logrefs


def walk(view, meta):
    """Yield (freelist page ref, runs) for each freelist page of ``meta``: the
    log pages newest first with their (removed, added) runs, then the
    checkpoint pages with theirs, after checking every rule of §8."""
    fs, ckpt, logrefs = read_state(view, meta)
    for ref in reversed(logrefs):
        b = view.read_page(ref)
        lp = LogPage(ref, b, log_entries_per_page(view.payload_size))
        rem, _ = _runs(ref[0], b, LOG_HDR, lp.removed, meta.page_count)
        add, _ = _runs(ref[0], b, LOG_HDR + ENTRY * lp.removed, lp.added, meta.page_count)
        yield ref, (rem, add)
    for ref in ckpt:
        b = view.read_page(ref)
        count = struct.unpack_from("<I", b, 4)[0]
        yield ref, _runs(ref[0], b, HDR, count, meta.page_count)[0]


def _merge(runs: list) -> list:
    out = []
    for s, n in sorted(runs):
        if out:
            ls, ln = out[-1]
            if s < ls + ln:
                raise ErrCorrupt(None, f"freelist: page {s} is free twice")
            if s == ls + ln and ln + n <= U32:
                out[-1] = (ls, ln + n)
                continue
        out.append((s, n))
    return out


def _union(runs) -> list:
    """Sorted, merged runs covering every page of ``runs`` (which may overlap)."""
    out = []
    for s, n in sorted(runs):
        if out and s <= out[-1][0] + out[-1][1]:
            ls, ln = out[-1]
            out[-1] = (ls, max(ln, s + n - ls))
        else:
            out.append((s, n))
    return out


def _subtract(a: list, b: list) -> tuple[list, list]:
    """(a − b, a ∩ b) of sorted, disjoint run lists."""
    keep, cut = [], []
    j = 0
    for s, n in a:
        end = s + n
        while j < len(b) and b[j][0] + b[j][1] <= s:
            j += 1
        k = j
        while s < end:
            if k >= len(b) or b[k][0] >= end:
                keep.append((s, end - s))
                break
            bs, be = b[k][0], b[k][0] + b[k][1]
            if bs > s:
                keep.append((s, bs - s))
            lo, hi = max(s, bs), min(end, be)
            cut.append((lo, hi - lo))
            s = hi
            k += 1
    return keep, cut


class Freelist:
    """The free pages of one write transaction."""

    def __init__(self, page_count: int, shift: int):
        self.page_count = page_count
        self.max_pages = max_page_count(shift)
        self.free: list[tuple[int, int]] = []  # reusable now, sorted, merged
        self.pending: list[tuple[int, int]] = []  # freed by this transaction: free from the commit on
        self.held: list[tuple[int, int]] = []  # free, but another open's snapshot may reach them (§9.5)
        self.own_pages: list[int] = []  # the committed freelist pages: log and checkpoint

    @classmethod
    def load(cls, view, meta, shift: int) -> "Freelist":
        """Read and check the free set of ``meta`` (§8.3): every freelist page,
        checkpoint and log, before a single page is allocated."""
        f = cls(meta.page_count, shift)
        fs, ckpt, logrefs = read_state(view, meta)
        f.free = fs.runs()
        f.own_pages = [r[0] for r in logrefs + ckpt]
        return f

    def hold_all(self) -> None:
        """Another open reads a snapshot older than the commits this writer made
        (FORMAT.md §9.5): reuse no page the loaded freelist records as free (it
        cannot tell which commit freed it); carry them all to the next freelist,
        and give none back at the end."""
        self.held.extend(self.free)
        self.free = []

    def hold(self, runs) -> None:
        """Reuse none of ``runs`` (pages commits after another open's snapshot
        freed, §9.5), nor give them back at the end: carry them forward."""
        self.free, cut = _subtract(self.free, _union(runs))
        self.held.extend(cut)

    def is_free(self, pg: int) -> bool:
        i = bisect.bisect_right(self.free, (pg, U32 + 1)) - 1
        return i >= 0 and self.free[i][0] <= pg < self.free[i][0] + self.free[i][1]

    def free_count(self) -> int:
        return sum(n for _, n in self.free + self.pending + self.held)

    def alloc(self, n: int) -> int:
        """Allocate ``n`` contiguous pages: first fit among reusable runs, else grow."""
        for i, (s, ln) in enumerate(self.free):
            if ln >= n:
                if ln == n:
                    del self.free[i]
                else:
                    self.free[i] = (s + n, ln - n)
                return s
        first = self.page_count
        if first + n > self.max_pages:
            raise ErrTooLarge("scdb: the file would exceed the largest page count")
        self.page_count += n
        return first

    def release_unwritten(self, first: int, n: int) -> None:
        """Pages allocated by this transaction and never written: reusable at once."""
        self.free = _merge(self.free + [(first, n)])

    def free_later(self, first: int, n: int = 1) -> None:
        """Pages that become free when this transaction commits."""
        self.pending.append((first, n))

    def _trim_tail(self) -> None:
        while self.free and sum(self.free[-1]) == self.page_count:
            self.page_count = self.free[-1][0]
            self.free.pop()

    def save(self, S: int, gen: int, write) -> tuple[int, int]:
        """Write a new checkpoint of the whole set through ``write(pgno, payload)``
        and return its first page's ref (the meta's freelist head; zero when
        nothing is free). The committed freelist pages, checkpoint and log, are
        no longer reachable: they become free at this commit (§8.4)."""
        for pg in self.own_pages:
            self.pending.append((pg, 1))
        self.own_pages = []
        self._trim_tail()
        runs = _merge(self.free + self.pending + self.held)
        if not runs:
            return (0, 0)
        per = entries_per_page(S)
        npages = (len(runs) + 1 + per - 1) // per
        first = self.alloc(npages)
        runs = _merge(self.free + self.pending + self.held)
        if len(runs) > npages * per:  # cannot happen: taking from a run's start never adds runs
            raise ErrCorrupt(None, "freelist: runs do not fit the pages allocated for them")
        for i in range(npages):
            chunk = runs[i * per:(i + 1) * per]
            b = bytearray(S)
            b[0] = TYPE_FREELIST
            struct.pack_into("<IQ", b, 4, len(chunk), first + i + 1 if i < npages - 1 else 0)
            for k, (s, n) in enumerate(chunk):
                struct.pack_into("<QI", b, HDR + k * ENTRY, s, n)
            write(first + i, bytes(b))
        return (first, gen)
