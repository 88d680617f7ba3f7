"""Typed exceptions: one class per error name of FORMAT.md (and the API's own).

Every class derives from :class:`SCDBError`. Names follow the Go package
(``ErrCorrupt`` ...), with Pythonic aliases (``CorruptError`` ...).
"""

from __future__ import annotations


class SCDBError(Exception):
    """Base class of every scdb error."""


class ErrCorrupt(SCDBError):
    """The file was damaged or tampered with. ``page`` names the page where the
    damage was found (None when no page can be named, e.g. a malformed cell)."""

    def __init__(self, page: int | None, reason: str):
        self.page = page
        self.reason = reason
        where = f"page {page}: " if page is not None else ""
        super().__init__(f"scdb: file is corrupt or was tampered with: {where}{reason}")


class ErrWrongKey(SCDBError):
    """The key or passphrase opens none of the file's key slots."""


class ErrNotSCDB(SCDBError):
    """The file is not an scdb file (no header copy has the magic)."""


class ErrVersion(SCDBError):
    """The file is of a format version, cipher suite or flags this package cannot read."""


class ErrNotFound(SCDBError, KeyError):
    """No record with that id, or no list with that name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return Exception.__str__(self)


class ErrTooLarge(SCDBError, ValueError):
    """A list name or id longer than the page size allows, or a value over 2^40 bytes."""


class ErrReadOnly(SCDBError):
    """A write through a read-only database."""


class ErrKDFLimit(SCDBError):
    """A passphrase slot asks Argon2id for more than this reader's limit; it was not tried."""


class ErrLocked(SCDBError):
    """Another process (or another handle of this process) holds a conflicting lock on the file."""


class ErrClosed(SCDBError):
    """The database was closed."""


class ErrTxDone(SCDBError):
    """The transaction was already committed or rolled back."""


class ErrReplaced(SCDBError):
    """A mode ``"r"`` handle's path now names another file: the writer compacted or
    re-keyed it in place and renamed the new file over the path (FORMAT.md §9.5).
    The handle would go on reading the old file, which no commit reaches again, so
    :meth:`DB.refresh` refuses; open the path again."""


class ErrInvalid(SCDBError, ValueError):
    """An invalid argument (both a key and a passphrase, a bad page size, ...)."""


CorruptError = ErrCorrupt
WrongKeyError = ErrWrongKey
NotSCDBError = ErrNotSCDB
VersionError = ErrVersion
NotFoundError = ErrNotFound
TooLargeError = ErrTooLarge
ReadOnlyError = ErrReadOnly
KDFLimitError = ErrKDFLimit
LockedError = ErrLocked
ReplacedError = ErrReplaced
