"""Free-page bookkeeping of a write transaction and freelist pages (FORMAT.md §8).

This is the only module that knows the freelist's on-disk form, so that it can
be redone when §8 changes. Implemented from FORMAT.md §8 as of commit dff0afd
("The free pages of a state are recorded in a chain of freelist pages. The
meta's freelist head points at the first; every commit writes the whole chain
anew, so every page of it has the meta's generation.")

Allocation policy (a writer's choice within §8/§9):
- pages free in the committed state are reused, first fit, lowest first; a
  transaction that needs more grows the file at its end;
- a page the committed state references and this transaction stops
  referencing, or a page this transaction wrote and then dropped, is *pending*:
  free from the commit on, never reused by the transaction that freed it;
- pages allocated but never written (a streamed value's unused tail) go back
  to the reusable set at once;
- at commit the old freelist pages become pending, free pages at the end of
  the file are given back (the page count shrinks), and the new chain is
  written as one contiguous block, allocated like any other pages.
"""

from __future__ import annotations

import bisect
import struct

from .errors import ErrCorrupt, ErrTooLarge
from .meta import FIRST_DATA_PAGE, TYPE_FREELIST, max_page_count

HDR = 16
ENTRY = 12
U32 = 0xFFFFFFFF


def entries_per_page(S: int) -> int:
    return (S - HDR) // ENTRY


def walk(view, meta):
    """Yield (freelist page ref, [(start, n), ...]) for each page of the chain,
    checking every rule of §8 that one pass can (bounds, loop, type, reserved,
    count, run bounds, ascending and non-overlapping)."""
    ref = meta.freelist
    per = entries_per_page(view.payload_size)
    seen = set()
    end = 0
    while ref[0] != 0:
        pg = ref[0]
        if pg < FIRST_DATA_PAGE or pg >= meta.page_count:
            raise ErrCorrupt(pg, f"freelist page outside the file of {meta.page_count} pages")
        if pg in seen:
            raise ErrCorrupt(pg, f"freelist chain returns to page {pg} (a loop)")
        seen.add(pg)
        b = view.read_page(ref)
        if b[0] != TYPE_FREELIST or b[1] or b[2] or b[3]:
            raise ErrCorrupt(pg, f"not a freelist page (type {b[0]})")
        count = struct.unpack_from("<I", b, 4)[0]
        if count > per:
            raise ErrCorrupt(pg, f"freelist page claims {count} entries, room for {per}")
        runs = []
        for i in range(count):
            start, n = struct.unpack_from("<QI", b, HDR + i * ENTRY)
            if n == 0 or start < FIRST_DATA_PAGE or start >= meta.page_count or n > meta.page_count - start:
                raise ErrCorrupt(pg, f"free run {start}+{n} outside the file")
            if start < end:
                raise ErrCorrupt(pg, f"free run at page {start} overlaps or is out of order")
            end = start + n
            runs.append((start, n))
        yield ref, runs
        ref = (struct.unpack_from("<Q", b, 8)[0], ref[1])


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


class Freelist:
    """The free pages of one write transaction."""

    def __init__(self, page_count: int, shift: int):
        self.page_count = page_count
        self.max_pages = max_page_count(shift)
        self.free: list[tuple[int, int]] = []  # reusable now, sorted, merged
        self.pending: list[tuple[int, int]] = []  # free from the commit on
        self.own_pages: list[int] = []  # the committed freelist chain

    @classmethod
    def load(cls, view, meta, shift: int) -> "Freelist":
        f = cls(meta.page_count, shift)
        runs = []
        for ref, rs in walk(view, meta):
            f.own_pages.append(ref[0])
            runs.extend(rs)
        f.free = _merge(runs)
        for pg in f.own_pages:
            if f.is_free(pg):
                raise ErrCorrupt(pg, "freelist page is itself recorded as free")
        if meta.tree[0] != 0 and f.is_free(meta.tree[0]):
            raise ErrCorrupt(meta.freelist[0], f"freelist records the directory root, page {meta.tree[0]}, as free")
        return f

    def hold_all(self) -> None:
        """Another process reads an older snapshot (FORMAT.md §9.5): reuse no page
        the loaded freelist records as free (it cannot tell which commit freed
        it); carry them all to the next freelist, and give none back at the end."""
        self.pending.extend(self.free)
        self.free = []

    def is_free(self, pg: int) -> bool:
        i = bisect.bisect_right(self.free, (pg, U32 + 1)) - 1
        return i >= 0 and self.free[i][0] <= pg < self.free[i][0] + self.free[i][1]

    def free_count(self) -> int:
        return sum(n for _, n in self.free) + sum(n for _, n in self.pending)

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
        """Write the new chain through ``write(pgno, payload)``; return its head ref."""
        for pg in self.own_pages:
            self.pending.append((pg, 1))
        self.own_pages = []
        self._trim_tail()
        runs = _merge(self.free + self.pending)
        if not runs:
            return (0, 0)
        per = entries_per_page(S)
        npages = (len(runs) + 1 + per - 1) // per
        first = self.alloc(npages)
        runs = _merge(self.free + self.pending)
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
