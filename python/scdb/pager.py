"""The page file: OS file access and locking, sealing and opening pages
(FORMAT.md §6), choosing the meta (§7) and the commit write sequence (§9.1).

All writes go through a :class:`RawFile` (``read_at``/``write_at``/``sync``/
``truncate``/``size``), so tests can substitute one that fails mid-commit.
"""

from __future__ import annotations

import os
import struct

from . import aead
from .errors import ErrCorrupt, ErrInvalid, ErrLocked, ErrReadOnly
from .header import HEADER_BYTES, Header, pick_header, unlock
from .lock import Locker
from .meta import FIRST_DATA_PAGE, Meta, decode_meta, meta_page


class RawFile:
    """An OS file opened for positional reads and writes."""

    def __init__(self, path: str, writable: bool, create: bool = False):
        flags = os.O_RDWR if writable else os.O_RDONLY
        if create:
            flags |= os.O_CREAT | os.O_EXCL
        flags |= getattr(os, "O_CLOEXEC", 0)
        self.fd = os.open(path, flags, 0o600)

    def lock(self, exclusive: bool) -> None:
        """The writer's lock (or, without OFD locks, flock) of FORMAT.md §9.5;
        released when the descriptor is closed."""
        self.locker = Locker(self.fd)
        self.locker.lock_file(exclusive)

    def foreign_snapshot_below(self, gen: int) -> bool:
        """Whether another open reads a snapshot of a generation below ``gen``."""
        lk = getattr(self, "locker", None)
        return lk is not None and lk.oldest_foreign_snapshot(gen) is not None

    def pin_snapshot(self, pager: "Pager") -> None:
        """A reader's snapshot (§9.5): lock 2^61 + g, choose the meta again, retry if it moved."""
        lk = getattr(self, "locker", None)
        if lk is None:
            return
        while True:
            g = pager.meta.gen
            lk.lock_snapshot(g)
            pager.load_meta(self.size())
            if pager.meta.gen == g:
                return
            lk.unlock_snapshot(g)

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def read_at(self, n: int, off: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = os.pread(self.fd, n - len(out), off + len(out))
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def write_at(self, data: bytes, off: int) -> None:
        view = memoryview(data)
        while view:
            k = os.pwrite(self.fd, view, off)
            view, off = view[k:], off + k

    def sync(self) -> None:
        os.fsync(self.fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Pager:
    """An unlocked file: header, data key, current meta; reads and writes sealed pages."""

    def __init__(self, f: RawFile, hdr: Header, hdr_copy: int, data_key: bytes, rand=os.urandom):
        self.f = f
        self.hdr = hdr
        self.hdr_copy = hdr_copy
        self.page_size = hdr.page_size
        self.payload_size = self.page_size - aead.OVERHEAD
        self.file_id = hdr.file_id
        self._key = data_key
        self.rand = rand
        self.meta: Meta | None = None
        self.meta_fault: str | None = None
        self.poisoned: Exception | None = None

    # -- opening ---------------------------------------------------------
    @classmethod
    def open(cls, f: RawFile, key=None, passphrase=None, max_mem=None, max_work=None, rand=os.urandom):
        size = f.size()
        hdr, idx = pick_header(f.read_at(min(size, HEADER_BYTES), 0))
        kw = {}
        if max_mem is not None:
            kw["max_mem"] = max_mem
        if max_work is not None:
            kw["max_work"] = max_work
        dk = unlock(hdr, key, passphrase, **kw)
        p = cls(f, hdr, idx, dk, rand)
        p.load_meta(size)
        return p

    def ad(self, pgno: int, gen: int) -> bytes:
        return self.file_id + struct.pack("<QQ", pgno, gen)

    def open_sealed(self, sealed: bytes, pgno: int, gen: int) -> bytes:
        pt = aead.open_(self._key, sealed[:24], sealed[24:], self.ad(pgno, gen))
        if pt is None:
            raise ErrCorrupt(pgno, f"page does not open at generation {gen} (authentication failed)")
        return pt

    def seal(self, pgno: int, gen: int, payload: bytes) -> bytes:
        if len(payload) != self.payload_size:
            raise ValueError("payload of the wrong size")
        nonce = self.rand(24)
        return nonce + aead.seal(self._key, nonce, payload, self.ad(pgno, gen))

    def _read_raw(self, pgno: int, n: int = 1) -> bytes:
        want = self.page_size * n
        b = self.f.read_at(want, pgno * self.page_size)
        if len(b) != want:
            raise ErrCorrupt(pgno + len(b) // self.page_size, "page lies past the end of the file")
        return b

    def load_meta(self, size: int) -> None:
        """Choose the meta (§7): the valid one with the higher generation."""
        P = self.page_size
        if size < FIRST_DATA_PAGE * P:
            raise ErrCorrupt(1, f"file is {size} bytes, shorter than its header and meta pages")
        best, faults, other = None, [], {}
        for pgno in (1, 2):
            raw = self._read_raw(pgno)
            try:
                m = decode_meta(self.open_sealed(raw, pgno, 0), pgno, self.hdr.page_shift)
            except ErrCorrupt as e:
                if any(raw):
                    faults.append(e)
                continue
            other[pgno] = m.gen
            if best is None or m.gen > best.gen:
                best = m
        if best is None:
            if not faults:
                raise ErrCorrupt(1, "both meta pages are all zero")
            raise faults[0]
        if best.page_count > size // P:
            raise ErrCorrupt(best.page_count - 1, f"file is {size} bytes but generation {best.gen} "
                             f"needs {best.page_count} pages (truncated)")
        o = other.get(meta_page(best.gen + 1))
        if o is not None and o + 1 != best.gen:
            faults.append(ErrCorrupt(meta_page(o), f"meta page holds generation {o}, not {best.gen - 1}"))
        self.meta = best
        self.meta_fault = "; ".join(str(e) for e in faults) or None

    # -- reading ---------------------------------------------------------
    def check_bounds(self, pgno: int, n: int = 1, holder: int | None = None, page_count: int | None = None):
        pc = self.meta.page_count if page_count is None else page_count
        if pgno < FIRST_DATA_PAGE or pgno + n > pc:
            raise ErrCorrupt(holder if holder is not None else pgno,
                             f"pointer to page {pgno} (+{n}) outside 3..{pc - 1}")

    def read_page(self, ref: tuple[int, int], holder: int | None = None, page_count: int | None = None) -> bytes:
        """Read and open the page ``ref`` = (page, generation) of the current state.
        ``holder`` is the page holding the pointer, named if the pointer is out of bounds."""
        pgno, gen = ref
        self.check_bounds(pgno, 1, holder, page_count)
        return self.open_sealed(self._read_raw(pgno), pgno, gen)

    def read_pages(self, first: int, gen: int, n: int, holder: int | None = None,
                   page_count: int | None = None) -> list[bytes]:
        """Read ``n`` consecutive pages at one generation (a chain run batch)."""
        self.check_bounds(first, n, holder, page_count)
        raw = self._read_raw(first, n)
        P = self.page_size
        return [self.open_sealed(raw[i * P:(i + 1) * P], first + i, gen) for i in range(n)]

    # -- writing ---------------------------------------------------------
    def writable(self) -> None:
        if self.poisoned is not None:
            raise ErrReadOnly(f"scdb: an earlier commit failed ({self.poisoned}); reopen the file")

    def write_page(self, pgno: int, gen: int, payload: bytes) -> None:
        if pgno < FIRST_DATA_PAGE:
            raise ErrInvalid(f"scdb: write to page {pgno}")
        self.f.write_at(self.seal(pgno, gen, payload), pgno * self.page_size)

    def commit(self, m: Meta) -> None:
        """Steps 2–5 of §9.1 once every page of ``m`` is written: extend, fsync,
        write the meta, fsync, trim to max(page counts)."""
        self.writable()
        cur = self.meta
        if m.gen != cur.gen + 1:
            raise ErrInvalid(f"commit of generation {m.gen} after {cur.gen}")
        P = self.page_size
        try:
            need = m.page_count * P
            if self.f.size() < need:
                self.f.truncate(need)
            self.f.sync()
            payload = m.encode(self.payload_size, self.hdr.page_shift)
            decode_meta(payload, meta_page(m.gen), self.hdr.page_shift)  # never commit what will not open
            self.f.write_at(self.seal(meta_page(m.gen), 0, payload), meta_page(m.gen) * P)
            self.f.sync()
        except Exception as e:
            self.poisoned = e
            raise
        self.meta = m
        keep = max(m.page_count, cur.page_count) * P
        try:
            if self.f.size() > keep and not self.f.foreign_snapshot_below(m.gen):
                self.f.truncate(keep)
        except OSError:
            pass

    def write_initial(self, gen: int) -> None:
        """A new file's header, its one meta (empty state at ``gen``) and zeroed other meta."""
        P = self.page_size
        h = self.hdr.encode()
        buf = bytearray(3 * P)
        buf[0:512] = h
        buf[512:1024] = h
        m = Meta(gen, FIRST_DATA_PAGE, (0, 0), (0, 0))
        mp = meta_page(gen)
        buf[mp * P:(mp + 1) * P] = self.seal(mp, 0, m.encode(self.payload_size, self.hdr.page_shift))
        self.f.write_at(bytes(buf), 0)
        self.f.sync()
        self.meta = m

    def close(self) -> None:
        self._key = b""
        self.f.close()
