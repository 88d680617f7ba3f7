"""Locks between processes that open one file (FORMAT.md §9.5, main's text as of
aa80206): on Linux, open file description (OFD) locks on bytes far past the end
of the file — an exclusive lock on byte 2^62 for the one writer, a shared lock on
byte 2^61 + g for every snapshot of generation g. Elsewhere, like the Go
implementation, an exclusive flock for a writer and a shared one for a reader.
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
        if OFD:
            _ofd(self.fd, F_OFD_SETLK, fcntl.F_RDLCK, SNAPSHOT_BASE + gen, 1)

    def unlock_snapshot(self, gen: int) -> None:
        if OFD:
            _ofd(self.fd, F_OFD_SETLK, fcntl.F_UNLCK, SNAPSHOT_BASE + gen, 1)

    def oldest_foreign_snapshot(self, below: int) -> int | None:
        """The lowest generation < ``below`` that another open holds a snapshot lock on."""
        if not OFD or below <= 0:
            return None
        found, hi = None, below
        while hi > 0:
            out = _ofd(self.fd, F_OFD_GETLK, fcntl.F_WRLCK, SNAPSHOT_BASE, hi)
            typ, _, start, _, _ = struct.unpack("@hhqqi", out[:28])
            if typ == fcntl.F_UNLCK:
                break
            found = start - SNAPSHOT_BASE
            hi = found
        return found
