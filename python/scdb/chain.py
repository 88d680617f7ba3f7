"""Record cells and value chains (FORMAT.md §10.4): decoding and encoding
cells, reading a chain page by page with every check of §10.4.2.2, writing a
value (from bytes or a stream, holding at most two pages), and freeing a chain
by its run heads (§10.4.3.3).
"""

from __future__ import annotations

import struct

from .errors import ErrCorrupt, ErrTooLarge
from .meta import FIRST_DATA_PAGE, TYPE_CHAIN

HC = 24
ROLE_HEAD, ROLE_CONT = 1, 2
MAX_RUN = 1024
MIN_RUN = 16
MAX_SIZE = 1 << 40
MAX_BATCH_BYTES = 64 << 10
TAG_INLINE, TAG_CHAIN = 0, 1
U64 = (1 << 64) - 1


class ChainCell:
    __slots__ = ("size", "first", "gen")

    def __init__(self, size: int, first: int, gen: int):
        self.size, self.first, self.gen = size, first, gen

    def encode(self) -> bytes:
        return struct.pack("<BQQQ", TAG_CHAIN, self.size, self.first, self.gen)


def decode_cell(cell: bytes):
    """Return ``(inline_value, None)`` or ``(None, ChainCell)``; ErrCorrupt (no page) if malformed."""
    if len(cell) == 0:
        raise ErrCorrupt(None, "empty record cell")
    tag = cell[0]
    if tag == TAG_INLINE:
        return bytes(cell[1:]), None
    if tag != TAG_CHAIN:
        raise ErrCorrupt(None, f"record cell has tag {tag}")
    if len(cell) != 25:
        raise ErrCorrupt(None, f"chain cell of {len(cell)} bytes, want 25")
    _, size, first, gen = struct.unpack("<BQQQ", cell)
    if size < 1 or size > MAX_SIZE:
        raise ErrCorrupt(None, f"chain cell size {size} outside 1..2^40")
    if first < FIRST_DATA_PAGE:
        raise ErrCorrupt(None, f"chain cell's first page {first}")
    return None, ChainCell(size, first, gen)


def cell_size(cell: bytes) -> int:
    v, c = decode_cell(cell)
    return len(v) if c is None else c.size


def inline_cell(value: bytes) -> bytes:
    return b"\0" + bytes(value)


class Geometry:
    def __init__(self, S: int):
        self.S = S
        self.D = S - HC

    def pages_for(self, size: int) -> int:
        return (size + self.D - 1) // self.D

    def last_data(self, size: int) -> int:
        return size - (self.pages_for(size) - 1) * self.D

    def used(self, index: int, size: int) -> int:
        return self.last_data(size) if index == self.pages_for(size) - 1 else self.D


def _check_common(p: bytes, pg: int, role: int, used: int, c: ChainCell) -> None:
    if p[0] != TYPE_CHAIN:
        raise ErrCorrupt(pg, f"chain page has type {p[0]}")
    if p[1] != role:
        raise ErrCorrupt(pg, f"chain page has role {p[1]}, want {role}")
    got = struct.unpack_from("<H", p, 2)[0]
    if got != used:
        raise ErrCorrupt(pg, f"chain page holds {got} value bytes, want {used}")
    owner = struct.unpack_from("<Q", p, 8)[0]
    if owner != c.first:
        raise ErrCorrupt(pg, f"chain page belongs to the chain at page {owner}, not {c.first}")


def check_head(p: bytes, g: Geometry, pg: int, c: ChainCell, left: int) -> tuple[int, int]:
    """Check a run head with ``left`` chain pages remaining; return (run length, next)."""
    _check_common(p, pg, ROLE_HEAD, g.used(g.pages_for(c.size) - left, c.size), c)
    n = struct.unpack_from("<I", p, 4)[0]
    nxt = struct.unpack_from("<Q", p, 16)[0]
    if n < 1 or n > MAX_RUN:
        raise ErrCorrupt(pg, f"run of {n} pages, want 1..{MAX_RUN}")
    if pg > U64 - n:
        raise ErrCorrupt(pg, "run runs past the last page number")
    if nxt == 0 and n != left:
        raise ErrCorrupt(pg, f"last run has {n} pages, but {left} remain")
    if nxt != 0 and n >= left:
        raise ErrCorrupt(pg, f"run of {n} pages followed by another, but only {left} remain")
    if nxt != 0 and n < MIN_RUN:
        raise ErrCorrupt(pg, f"run of {n} pages is not the last but shorter than {MIN_RUN}")
    if nxt != 0 and nxt < FIRST_DATA_PAGE:
        raise ErrCorrupt(pg, f"next run at page {nxt}")
    return n, nxt


def check_cont(p: bytes, head: int, index: int, used: int, c: ChainCell) -> None:
    pg = head + index
    _check_common(p, pg, ROLE_CONT, used, c)
    if struct.unpack_from("<I", p, 4)[0] != index:
        raise ErrCorrupt(pg, f"chain page is not page {index} of the run at {head}")
    if any(p[16:24]):
        raise ErrCorrupt(pg, "reserved chain header bytes are not zero")


def iter_chain(view, c: ChainCell):
    """Yield the value's bytes page by page (memoryview slices), checking every page.
    ``view`` has ``payload_size`` and ``read_pages(first, gen, n)``. Reads a run's
    head alone, then the rest of the run in batches of at most 64 KiB."""
    g = Geometry(view.payload_size)
    total = g.pages_for(c.size)
    batch = max(1, MAX_BATCH_BYTES // g.S)
    done, nxt, seen = 0, c.first, set()

    def emit(p, pg):
        if done == total - 1:
            ld = g.last_data(c.size)
            if any(p[HC + ld:]):
                raise ErrCorrupt(pg, "bytes after the value on the chain's last page are not zero")
            return memoryview(p)[HC:HC + ld]
        return memoryview(p)[HC:]

    while done < total:
        head = nxt
        if head in seen:
            raise ErrCorrupt(head, f"chain returns to its run at page {head} (a loop)")
        seen.add(head)
        hp = view.read_pages(head, c.gen, 1)[0]
        run, nxt = check_head(hp, g, head, c, total - done)
        out = emit(hp, head)
        done += 1
        yield out
        k = 1
        while k < run:
            n = min(batch, run - k)
            pages = view.read_pages(head + k, c.gen, n)
            for j, p in enumerate(pages):
                check_cont(p, head, k + j, g.used(done, c.size), c)
                out = emit(p, head + k + j)
                done += 1
                yield out
            k += n


def read_value(view, cell: bytes) -> bytes:
    v, c = decode_cell(cell)
    if c is None:
        return v
    return b"".join(bytes(x) for x in iter_chain(view, c))


def chain_runs(view, c: ChainCell) -> list[tuple[int, int]]:
    """The runs (head, length) of a chain read by its heads only, checked
    (invariants 1, 2, 3, 5 for heads, 6) before anything is freed."""
    g = Geometry(view.payload_size)
    total = g.pages_for(c.size)
    left, nxt, runs, seen = total, c.first, [], set()
    while left > 0:
        head = nxt
        if head in seen:
            raise ErrCorrupt(head, "chain returns to its run (a loop)")
        seen.add(head)
        hp = view.read_pages(head, c.gen, 1)[0]
        run, nxt = check_head(hp, g, head, c, left)
        runs.append((head, run))
        left -= run
    s = sorted(runs)
    for (a, n), (b, _) in zip(s, s[1:]):
        if a + n > b:
            raise ErrCorrupt(b, "two runs of the chain overlap")
    return runs


def _page(g: Geometry, role: int, used: int, field4: int, owner: int, nxt: int, data) -> bytes:
    b = bytearray(g.S)
    struct.pack_into("<BBHIQQ", b, 0, TYPE_CHAIN, role, used, field4, owner, nxt)
    b[HC:HC + len(data)] = data
    return bytes(b)


class ChainWriter:
    """Writes one value's chain at generation ``gen`` through ``tx`` (which has
    ``payload_size``, ``alloc_run(n) -> first``, ``release_unwritten(first, n)``,
    ``write_page(pgno, payload)``)."""

    def __init__(self, tx, size: int | None):
        self.tx = tx
        self.g = Geometry(tx.payload_size)
        self.size = size

    def write_bytes(self, value) -> bytes:
        """Known size (§10.4.2.3 Put): runs of min(pages left, 1024)."""
        value = memoryview(value)
        size = len(value)
        g = self.g
        total = g.pages_for(size)
        first = None
        idx = 0
        allocated = []
        try:
            head = None
            head_len = 0
            while idx < total:
                n = min(total - idx, MAX_RUN)
                start = self.tx.alloc_run(n)
                allocated.append((start, n))
                if first is None:
                    first = start
                if head is not None:  # write previous head now that next is known
                    self._write_head(head, head_len, idx_head, first, start, value, size)
                head, head_len, idx_head = start, n, idx
                for k in range(1, n):
                    i = idx + k
                    data = value[i * g.D:(i + 1) * g.D]
                    self.tx.write_page(start + k, _page(g, ROLE_CONT, len(data), k, first, 0, data))
                idx += n
            self._write_head(head, head_len, idx_head, first, 0, value, size)
        except BaseException:
            self.tx.free_written(allocated)
            raise
        return ChainCell(size, first, self.tx.gen).encode()

    def _write_head(self, head, n, i, first, nxt, value, size):
        g = self.g
        data = value[i * g.D:(i + 1) * g.D]
        self.tx.write_page(head, _page(g, ROLE_HEAD, len(data), n, first, nxt, data))

    def write_stream(self, prefix: bytes, read) -> tuple[bytes, int]:
        """Streamed value (§10.4.2.3 PutReader): runs of 16, 32, ... 1024 pages;
        the unused tail of the last run is released at once. ``prefix`` holds
        bytes already read; ``read(n)`` returns up to n bytes, b"" at EOF."""
        g = self.g
        D = g.D
        buf = bytearray(prefix)

        def fill():
            while len(buf) <= D:  # keep one byte of look-ahead past a page
                chunk = read(max(D, 65536))
                if not chunk:
                    return
                buf.extend(chunk)

        allocated = []
        first = None
        size = 0
        run_len = MIN_RUN
        try:
            fill()
            head_data = None  # (pgno, data, used) of the current run's head, held back
            cur, cur_n, pos = None, 0, 0
            while True:
                data = bytes(buf[:D])
                del buf[:D]
                size += len(data)
                if size > MAX_SIZE:
                    raise ErrTooLarge("scdb: value larger than 2^40 bytes")
                fill()
                last = not buf
                if cur is None or pos == cur_n:
                    start = self.tx.alloc_run(run_len)
                    allocated.append([start, run_len])
                    if first is None:
                        first = start
                    if head_data is not None:
                        hp, hd, hn = head_data
                        self.tx.write_page(hp, _page(g, ROLE_HEAD, len(hd), hn, first, start, hd))
                    cur, cur_n, pos = start, run_len, 0
                    run_len = min(run_len * 2, MAX_RUN)
                if pos == 0:
                    head_data = (cur, data, cur_n)
                else:
                    self.tx.write_page(cur + pos, _page(g, ROLE_CONT, len(data), pos, first, 0, data))
                pos += 1
                if last:
                    break
            # Last run: used pages = pos; release the rest, write the head.
            if pos < cur_n:
                self.tx.release_unwritten(cur + pos, cur_n - pos)
                allocated[-1][1] = pos
            hp, hd, _ = head_data
            self.tx.write_page(hp, _page(g, ROLE_HEAD, len(hd), pos, first, 0, hd))
        except BaseException:
            self.tx.free_written([tuple(a) for a in allocated])
            raise
        return ChainCell(size, first, self.tx.gen).encode(), size
