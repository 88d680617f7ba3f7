"""Locks between processes that open one file (FORMAT.md §9.5): on Linux, open
file description (OFD) locks on bytes far past the end of the file — an
exclusive lock on byte 2^62 for the one writer, a shared lock on byte
2^61 + min(g, 2^61 − 1) for every snapshot of generation g (generations from
2^61 − 1 on share the last byte). Elsewhere, like the Go implementation, an
exclusive flock for a writer and a shared one for a reader.
"""

from __future__ import annotations

import errno
import struct
import sys

from .errors import ErrLocked

try:
    import fcntl
except ImportError:  # pragma: no cover - not unix
    fcntl = None

WRITER_BYTE = 1 << 62
SNAPSHOT_BASE = 1 << 61
MAX_LOCKED_GEN = (1 << 61) - 1  # the highest generation a snapshot lock names
OFD = fcntl is not None and sys.platform.startswith("linux")
F_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", 36)
F_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", 37)


def _flock(typ: int, start: int, length: int) -> bytes:
    # struct flock: l_type, l_whence (short), l_start, l_len (off_t), l_pid (pid_t, 0 for OFD), padding.
    return struct.pack("@hhqqi", typ, 0, start, length, 0) + b"\0" * 4


def _ofd(fd: int, cmd: int, typ: int, start: int, length: int) -> bytes:
    while True:
        try:
            return fcntl.fcntl(fd, cmd, _flock(typ, start, length))
        except InterruptedError:
            continue


class Locker:
    def __init__(self, fd: int):
        self.fd = fd
        self._held: dict[int, int] = {}  # locked generation -> snapshots of this open reading it

    def lock_file(self, writer: bool) -> None:
        """A writer's lock (OFD byte 2^62), or flock where OFD locks do not exist."""
        if fcntl is None:
            return
        try:
            if OFD:
                if writer:
                    _ofd(self.fd, F_OFD_SETLK, fcntl.F_WRLCK, WRITER_BYTE, 1)
                return
            fcntl.flock(self.fd, (fcntl.LOCK_EX if writer else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise ErrLocked("scdb: file is locked by another writer" if OFD else
                                "scdb: file is locked by another process") from e
            raise

    def lock_snapshot(self, gen: int) -> None:
        """Announce a snapshot of ``gen`` (counted: one lock per byte, however many
        snapshots of this open read it)."""
        key = locked_gen(gen)
        held = self._held
        if held.get(key, 0) == 0 and OFD:
            _ofd(self.fd, F_OFD_SETLK, fcntl.F_RDLCK, SNAPSHOT_BASE + key, 1)
        held[key] = held.get(key, 0) + 1

    def unlock_snapshot(self, gen: int) -> None:
        """Withdraw one :meth:`lock_snapshot` of ``gen``; the byte is unlocked with the last."""
        key = locked_gen(gen)
        held = self._held
        n = held.get(key, 0) - 1
        if n > 0:
            held[key] = n
            return
        held.pop(key, None)
        if OFD and self.fd >= 0:
            _ofd(self.fd, F_OFD_SETLK, fcntl.F_UNLCK, SNAPSHOT_BASE + key, 1)

    def oldest_foreign_snapshot(self, current: int) -> int | None:
        """The lowest generation whose snapshot byte another open holds a lock on,
        among generations up to ``current`` (§9.5): one F_OFD_GETLK over
        [2^61, 2^61 + min(current, 2^61 − 1) + 1), then again below each lock
        reported, until none is. A lock on the last byte stands for 2^61 − 1 (the
        lowest generation it can mean); one reported below 2^61 counts as 0.
        None when there is none (or no OFD locks)."""
        if not OFD:
            return None
        found, hi = None, locked_gen(current) + 1
        while hi > 0:
            out = _ofd(self.fd, F_OFD_GETLK, fcntl.F_WRLCK, SNAPSHOT_BASE, hi)
            typ, _, start, _, _ = struct.unpack("@hhqqi", out[:28])
            if typ == fcntl.F_UNLCK:
                break
            found = max(start - SNAPSHOT_BASE, 0)
            hi = found
        return found


def locked_gen(gen: int) -> int:
    """The generation a snapshot of ``gen`` is announced as: min(gen, 2^61 − 1)."""
    return min(gen, MAX_LOCKED_GEN)
