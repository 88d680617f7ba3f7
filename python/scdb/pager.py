"""The page file: OS file access and locking, sealing and opening pages
(FORMAT.md §6), choosing the meta (§7) and the commit write sequence (§9.1).

All writes go through a :class:`RawFile` (``read_at``/``write_at``/``sync``/
``truncate``/``size``), so tests can substitute one that fails mid-commit.
"""

from __future__ import annotations

import os
import struct
import time

from . import aead
from .errors import ErrCorrupt, ErrInvalid, ErrLocked, ErrReadOnly
from .header import HEADER_BYTES, Header, pick_header, unlock
from .lock import Locker
from .meta import FIRST_DATA_PAGE, Meta, decode_meta, meta_page

# How often a reader reads the meta pages and the length again before it reports
# what it found (FORMAT.md §9.5; the Go implementation's maxRefreshTries).
MAX_REFRESH_TRIES = 8
# How often a snapshot chases a writer that commits between choosing the meta
# and announcing it (Go: maxSnapshotTries).
MAX_SNAPSHOT_TRIES = 1000


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

    def oldest_foreign_snapshot(self, current: int) -> int | None:
        """The lowest generation up to ``current`` that another open reads a
        snapshot of (§9.5), or None."""
        lk = getattr(self, "locker", None)
        return None if lk is None else lk.oldest_foreign_snapshot(current)

    def lock_snapshot(self, gen: int) -> None:
        lk = getattr(self, "locker", None)
        if lk is not None:
            lk.lock_snapshot(gen)

    def unlock_snapshot(self, gen: int) -> None:
        lk = getattr(self, "locker", None)
        if lk is not None and self.fd >= 0:
            lk.unlock_snapshot(gen)

    def replaced_at(self, path: str) -> bool:
        """Whether ``path`` no longer names the file open here (§9.5): another file
        was renamed over it, or it was removed."""
        try:
            st = os.stat(path)
        except OSError:
            return True
        me = os.fstat(self.fd)
        return (st.st_dev, st.st_ino) != (me.st_dev, me.st_ino)

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
        # A writer's record of its own commits, for §9.5: the generation it opened
        # the file at, and the runs each later commit freed (while another open's
        # snapshot may still reach them).
        self.opened_gen: int | None = None
        self.freed_log: list[tuple[int, list]] = []
        self.rereads = 0  # readings of the meta pages and length that were repeated (§9.5)

    # -- opening ---------------------------------------------------------
    @classmethod
    def open(cls, f: RawFile, key=None, passphrase=None, max_mem=None, max_work=None, rand=os.urandom,
             reader: bool = False):
        """Open the file: header, key slots, meta. A ``reader`` (an open that does
        not write) may have a writer beside it: see :meth:`open_meta_reader`."""
        size = f.size()
        hdr, idx = pick_header(f.read_at(min(size, HEADER_BYTES), 0))
        kw = {}
        if max_mem is not None:
            kw["max_mem"] = max_mem
        if max_work is not None:
            kw["max_work"] = max_work
        dk = unlock(hdr, key, passphrase, **kw)
        p = cls(f, hdr, idx, dk, rand)
        if reader:
            p.open_meta_reader()
        else:
            p.meta, p.meta_fault = p.choose_meta()
            p.opened_gen = p.meta.gen
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

    def choose_meta(self) -> tuple[Meta, str | None]:
        """Choose the meta (§7): the valid one with the higher generation, and why
        the pair is not healthy (None if it is). The file's length is read after
        the meta pages (§9.5: a commit grows the file before it writes its meta)."""
        P = self.page_size
        size = self.f.size()
        if size < FIRST_DATA_PAGE * P:
            raise ErrCorrupt(1, f"file is {size} bytes, shorter than its header and meta pages")
        best, faults, other = None, [], {}
        raws = self.f.read_at(2 * P, P)
        for pgno in (1, 2):
            raw = raws[(pgno - 1) * P:pgno * P]
            if len(raw) != P:
                faults.append(ErrCorrupt(pgno, "page lies past the end of the file"))
                continue
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
        size = self.f.size()
        if best.page_count > size // P:
            raise ErrCorrupt(best.page_count - 1, f"file is {size} bytes but generation {best.gen} "
                             f"needs {best.page_count} pages (truncated)")
        o = other.get(meta_page(best.gen + 1))
        if o is not None and o + 1 != best.gen:
            faults.append(ErrCorrupt(meta_page(o), f"meta page holds generation {o}, not {best.gen - 1}"))
        return best, ("; ".join(str(e) for e in faults) or None)

    def choose_retrying(self) -> tuple[Meta, str | None]:
        """:meth:`choose_meta` beside a possible writer (§9.5): a file shorter than
        the chosen meta needs (a later commit's trim) or no meta page that opens
        (one being written) is reported only when the same answer comes back on
        two readings in a row, at most :data:`MAX_REFRESH_TRIES` readings."""
        prev = None
        for _ in range(MAX_REFRESH_TRIES):
            try:
                return self.choose_meta()
            except ErrCorrupt as e:
                if prev is not None and (e.page, e.reason) == (prev.page, prev.reason):
                    raise
                prev = e
                self.rereads += 1
        raise prev

    def open_meta_reader(self) -> None:
        """Choose the meta at a read-only open. A pair read while a writer writes
        one of its pages is not healthy for a moment, so a fault counts (in
        :attr:`meta_fault`) only when three readings about a millisecond apart
        give the same meta and fault (§9.5; Go's openMeta)."""
        prev = prev_fault = None
        agree = 0
        for attempt in range(MAX_REFRESH_TRIES):
            m, fault = self.choose_retrying()
            if fault is None:
                self.meta, self.meta_fault = m, None
                return
            if attempt > 0 and m == prev and fault == prev_fault:
                agree += 1
            else:
                agree = 0
            if agree == 2:  # three readings a millisecond apart: damage, not a write in flight
                self.meta, self.meta_fault = m, fault
                return
            prev, prev_fault = m, fault
            time.sleep(0.001)
        # The pair kept changing: a writer is committing, and its pages are whole.
        self.meta, self.meta_fault = prev, None

    def begin_snapshot(self) -> Meta:
        """Start a read snapshot of the newest commit (§9.5): choose the meta (then
        the length), take the shared lock for its generation, read the meta pages
        again from the file; if the generation moved, let the lock go and start
        over. The caller ends it with :meth:`end_snapshot`. What :attr:`meta_fault`
        says stays what the open found."""
        for _ in range(MAX_SNAPSHOT_TRIES):
            m, _ = self.choose_retrying()
            self.f.lock_snapshot(m.gen)
            try:
                again, _ = self.choose_retrying()
            except BaseException:
                self.f.unlock_snapshot(m.gen)
                raise
            if again.gen == m.gen:
                return m
            self.f.unlock_snapshot(m.gen)
        raise ErrLocked(f"scdb: the writer committed {MAX_SNAPSHOT_TRIES} times while a snapshot was being taken")

    def end_snapshot(self, gen: int) -> None:
        self.f.unlock_snapshot(gen)

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
    def guard_reuse(self, fl) -> None:
        """Before a write transaction that reuses free pages (§9.5), after the
        previous commit's meta is in the file: find the oldest generation ``o``
        another open reads a snapshot of; pages freed by commits after ``o``
        are neither reused nor given back at the end of the file. If ``o`` is
        older than this writer's open, it cannot tell which commit freed which
        page: none of the loaded free set is reused."""
        cur = self.meta.gen
        o = self.f.oldest_foreign_snapshot(cur)
        if o is None or o >= cur:
            self.freed_log.clear()
            return
        if o < self.opened_gen:
            fl.hold_all()
        else:
            self.freed_log = [(g, runs) for g, runs in self.freed_log if g > o]
            fl.hold([r for _, runs in self.freed_log for r in runs])

    def record_freed(self, gen: int, runs) -> None:
        """The runs commit ``gen`` of this writer freed (for :meth:`guard_reuse`)."""
        self.freed_log.append((gen, list(runs)))

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
        # §9.1 step 5, and §9.5: no giving back below what another open's snapshot
        # reaches. A snapshot of a commit this writer made reaches no page past
        # keep (the pages it reaches that later commits freed were held, so the
        # page count never fell below them); of an older one this writer does not
        # know the page count, so it keeps the file.
        keep = max(m.page_count, cur.page_count) * P
        try:
            if self.f.size() > keep:
                o = self.f.oldest_foreign_snapshot(m.gen)
                if o is None or o >= self.opened_gen:
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
        self.opened_gen = gen

    def close(self) -> None:
        self._key = b""
        self.f.close()
