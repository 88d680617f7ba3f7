"""scdb: encrypted, embedded, single-file record stores (FORMAT.md version 3.0).

    import scdb
    db = scdb.open("my_database.scdb", mode="r", key=KEY)
    for record in db.list("my list1"):
        print(record)
"""

from .db import DB, ListView, Record, Transaction, create, open
from .errors import (CorruptError, ErrClosed, ErrCorrupt, ErrInvalid, ErrKDFLimit, ErrLocked,
                     ErrNotFound, ErrNotSCDB, ErrReadOnly, ErrReplaced, ErrTooLarge, ErrTxDone, ErrVersion,
                     ErrWrongKey, KDFLimitError, LockedError, NotFoundError, NotSCDBError,
                     ReadOnlyError, ReplacedError, SCDBError, TooLargeError, VersionError, WrongKeyError)

FORMAT_VERSION = (2, 0)
__version__ = "0.1.0"

__all__ = [
    "open", "create", "DB", "ListView", "Record", "Transaction", "FORMAT_VERSION",
    "SCDBError", "ErrCorrupt", "ErrWrongKey", "ErrNotSCDB", "ErrVersion", "ErrNotFound",
    "ErrTooLarge", "ErrReadOnly", "ErrKDFLimit", "ErrLocked", "ErrClosed", "ErrTxDone",
    "ErrInvalid", "ErrReplaced", "CorruptError", "WrongKeyError", "NotSCDBError", "VersionError",
    "NotFoundError", "TooLargeError", "ReadOnlyError", "KDFLimitError", "LockedError",
    "ReplacedError",
]
