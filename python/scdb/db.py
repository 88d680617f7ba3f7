"""The public API: :func:`open`, :func:`create`, :class:`DB`, lists, records,
value streams and transactions."""

from __future__ import annotations

import io
import os as _os
from contextlib import contextmanager

from . import header as _hdr
from .chain import cell_size, decode_cell, iter_chain
from .entry import Entry, decode_entry
from .errors import (ErrClosed, ErrCorrupt, ErrInvalid, ErrNotFound, ErrReadOnly, ErrReplaced, ErrTxDone)
from .meta import FIRST_DATA_PAGE
from .pager import Pager, RawFile
from .tree import Tree
from .txn import View, WriteTx, check_key


def _b(x, what: str = "id") -> bytes:
    """A name or id: str (UTF-8; lone surrogates from surrogateescape map back to bytes) or bytes."""
    if isinstance(x, str):
        return x.encode("utf-8", "surrogateescape")
    if isinstance(x, (bytes, bytearray, memoryview)):
        return bytes(x)
    raise TypeError(f"scdb: {what} must be str or bytes, not {type(x).__name__}")


def _s(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _key_bytes(key) -> bytes:
    if isinstance(key, str):
        try:
            key = bytes.fromhex(key.strip())
        except ValueError as e:
            raise ErrInvalid("scdb: a key given as str must be 64 hex digits") from e
    key = bytes(key)
    if len(key) != 32:
        raise ErrInvalid(f"scdb: a raw key is 32 bytes, not {len(key)}")
    return key


def _credential(key, passphrase):
    if (key is None) == (passphrase is None):
        raise ErrInvalid("scdb: give exactly one of key= and passphrase=")
    if key is not None:
        return _key_bytes(key), None
    return None, _b(passphrase, "passphrase")


class Record:
    """One record: ``id`` (str; ``id_bytes`` for the raw bytes), ``size``,
    ``value`` (the whole value, read on access) and :meth:`open` (a stream
    decrypted page by page)."""

    __slots__ = ("id_bytes", "_cell", "_view", "_db", "_gen")

    def __init__(self, rid: bytes, cell: bytes, view, db, gen):
        self.id_bytes, self._cell, self._view, self._db, self._gen = rid, cell, view, db, gen

    @property
    def id(self) -> str:
        return _s(self.id_bytes)

    @property
    def size(self) -> int:
        return cell_size(self._cell)

    def _check_fresh(self):
        v, c = decode_cell(self._cell)
        if c is not None and self._db._state_token() != self._gen:
            raise ErrTxDone("scdb: this record's value belongs to a state that a later commit "
                            "replaced; read the record again")
        return v, c

    @property
    def value(self) -> bytes:
        v, c = self._check_fresh()
        if c is None:
            return v
        return b"".join(bytes(x) for x in iter_chain(self._view, c))

    def open(self) -> io.BufferedReader:
        """A read-only binary file over the value; chain pages are decrypted one
        batch (at most 64 KiB) at a time."""
        v, c = self._check_fresh()
        if c is None:
            return io.BufferedReader(_ValueRaw(iter(()), v))
        return io.BufferedReader(_ValueRaw(iter_chain(self._view, c), b""))

    def __repr__(self) -> str:
        v, c = decode_cell(self._cell)
        if c is None and len(v) <= 64:
            return f"Record(id={self.id!r}, value={v!r})"
        return f"Record(id={self.id!r}, size={self.size})"

    __str__ = __repr__


class _ValueRaw(io.RawIOBase):
    def __init__(self, chunks, first: bytes):
        self._chunks = chunks
        self._cur = memoryview(first)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._cur:
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._cur = nxt
        n = min(len(b), len(self._cur))
        b[:n] = self._cur[:n]
        self._cur = self._cur[n:]
        return n


class ListView:
    """A list, iterated lazily: ``for record in db.list(name)``; ``len()`` is
    the stored record count. A list that does not exist is empty."""

    def __init__(self, db, name: bytes, start: bytes | None):
        self._db, self._name, self._start = db, name, start

    def __len__(self) -> int:
        return self._db._entry(self._name).count

    def __iter__(self):
        db = self._db
        token = db._state_token()
        tree, view = db._list_tree(self._name)
        resume, excl = (self._start or b""), False
        it = tree.items(resume, excl)
        while True:
            if db._state_token() != token:  # a commit through this handle: follow the new state
                token = db._state_token()
                tree, view = db._list_tree(self._name)
                it = tree.items(resume, excl)
            try:
                k, v = next(it)
            except StopIteration:
                return
            resume, excl = k, True
            yield Record(k, v, view, db, token)


class Transaction:
    """Context manager returned by :meth:`DB.transaction`: commits on normal exit,
    rolls back on an exception. While it is open, every read and write through
    the DB sees and changes the transaction's state."""

    def __init__(self, db):
        self._db = db

    def __enter__(self):
        self._db._begin()
        return self._db

    def __exit__(self, et, ev, tb):
        if et is None:
            self._db._commit()
        else:
            self._db._rollback()
        return False


class DB:
    """An open scdb file. Use as a context manager or call :meth:`close`.

    A mode ``"r"`` handle reads one snapshot: the commit that was newest when it
    was opened (or last refreshed), whatever a writer in another process commits
    meanwhile, and its snapshot lock (FORMAT.md §9.5) keeps that writer from
    reusing a page the snapshot reaches. :meth:`refresh` moves it to the newest
    commit. A mode ``"w"`` handle always reads its own last commit."""

    def __init__(self, pager: Pager, writable: bool, path: str):
        self._pager = pager
        self._writable = writable
        self.path = path
        self._tx: WriteTx | None = None
        self._txn_no = 0  # bumped at every begin/commit/rollback, for staleness checks

    # -- state -------------------------------------------------------------
    def _check(self):
        if self._pager is None:
            raise ErrClosed("scdb: database is closed")

    def _state_token(self):
        return (self._pager.meta.gen if self._pager else None, self._txn_no)

    def _read_view(self):
        self._check()
        if self._tx is not None:
            return self._tx.view
        m = self._pager.meta
        return View(self._pager, lambda: m.page_count)

    def _dir(self) -> Tree:
        if self._tx is not None:
            return self._tx.dir
        return Tree(self._read_view(), self._pager.meta.tree)

    def _entry(self, name: bytes) -> Entry:
        self._check()
        check_key(self._pager.payload_size, name, "list name")
        if self._tx is not None:
            return self._tx.list_state(name).entry
        v = self._dir().get(name)
        return decode_entry(v, name) if v is not None else Entry()

    def _list_tree(self, name: bytes):
        if self._tx is not None:
            return self._tx.list_state(name).tree, self._tx.view
        view = self._read_view()
        e = self._entry(name)
        return Tree(view, e.root if e.count else None), view

    @property
    def generation(self) -> int:
        """The committed generation this handle sees (FORMAT.md §5)."""
        self._check()
        return self._pager.meta.gen

    def refresh(self) -> int:
        """Move a mode ``"r"`` handle to the newest commit in the file, and return
        its generation. The new snapshot starts (FORMAT.md §9.5: meta, then length,
        then the snapshot lock, then the meta again) before the old one ends, so a
        failure leaves the handle on its old snapshot. :class:`ErrReplaced` if the
        path no longer names the file this handle has open (it was compacted or
        re-keyed in place and renamed over): open the path again. Records and
        iterations behave as after a commit through a writer handle: an
        iteration goes on in the new state after the last id it returned, and a
        record whose value is in a chain must be got again. A mode ``"w"`` handle
        is always at its own newest commit: this only returns the generation."""
        self._check()
        p = self._pager
        if self._writable:
            return p.meta.gen
        if p.f.replaced_at(self.path):
            raise ErrReplaced(f"scdb: {self.path}: the file was replaced (compacted or re-keyed "
                              "in place); open it again")
        old = p.meta
        m = p.begin_snapshot()
        p.meta = m
        p.end_snapshot(old.gen)
        if m != old:
            self._txn_no += 1
        return m.gen

    @property
    def page_size(self) -> int:
        self._check()
        return self._pager.page_size

    @property
    def meta_fault(self) -> str | None:
        """Why the pair of meta pages is not healthy (§7), or None."""
        self._check()
        return self._pager.meta_fault

    # -- reading -----------------------------------------------------------
    def lists(self):
        """Yield the names of the lists (lists with at least one record), in byte order."""
        self._check()
        tx = self._tx
        for name, v in self._dir().items():
            if tx is not None and name in tx.lists:
                e = tx.lists[name].entry
            else:
                e = decode_entry(v, name)
            if e.is_list():
                yield _s(name)

    def list(self, name, start=None) -> ListView:
        """The records of list ``name`` in id order, from the first id ≥ ``start``."""
        self._check()
        return ListView(self, _b(name, "list name"), None if start is None else _b(start))

    def count(self, name) -> int:
        return self._entry(_b(name, "list name")).count

    def get(self, name, rid) -> Record:
        """The record ``rid`` of list ``name``; :class:`ErrNotFound` if there is none."""
        n, r = _b(name, "list name"), _b(rid)
        tree, view = self._list_tree(n)
        check_key(self._pager.payload_size, r, "record id")
        cell = tree.get(r)
        if cell is None:
            raise ErrNotFound(f"scdb: list {_s(n)!r} id {_s(r)!r}: not found")
        return Record(r, cell, view, self, self._state_token())

    def __contains__(self, name) -> bool:
        return self._entry(_b(name, "list name")).is_list()

    # -- writing -----------------------------------------------------------
    def transaction(self) -> Transaction:
        """``with db.transaction(): ...`` — every change inside commits at once, or not at all."""
        self._check()
        if not self._writable:
            raise ErrReadOnly("scdb: database opened read-only")
        return Transaction(self)

    def _begin(self):
        if self._tx is not None:
            raise ErrInvalid("scdb: a transaction is already open on this handle")
        self._tx = WriteTx(self._pager)
        self._txn_no += 1

    def _commit(self):
        tx, self._tx = self._tx, None
        self._txn_no += 1
        if tx is None:
            raise ErrTxDone("scdb: no transaction is open")
        tx.commit()

    def _rollback(self):
        self._tx = None
        self._txn_no += 1

    @contextmanager
    def _writing(self):
        self._check()
        if not self._writable:
            raise ErrReadOnly("scdb: database opened read-only")
        if self._tx is not None:
            yield self._tx
            return
        with self.transaction():
            yield self._tx

    def put(self, name, rid, value) -> None:
        """Store ``value`` (bytes, str as UTF-8, or a binary file-like object,
        streamed page by page) under ``rid`` in list ``name``."""
        n, r = _b(name, "list name"), _b(rid)
        with self._writing() as tx:
            if hasattr(value, "read"):
                tx.put(n, r, stream=_reader(value))
            else:
                tx.put(n, r, value=_b(value, "value") if isinstance(value, str) else memoryview(value).cast("B"))

    def append(self, name, value) -> str:
        """Store ``value`` under the list's next Append id (16 hex digits); return the id."""
        n = _b(name, "list name")
        with self._writing() as tx:
            if hasattr(value, "read"):
                rid = tx.append(n, stream=_reader(value))
            else:
                rid = tx.append(n, value=_b(value, "value") if isinstance(value, str) else memoryview(value).cast("B"))
        return _s(rid)

    def delete(self, name, rid) -> None:
        """Delete record ``rid``; :class:`ErrNotFound` if there is none."""
        n, r = _b(name, "list name"), _b(rid)
        with self._writing() as tx:
            tx.delete(n, r)

    def drop(self, name) -> None:
        """Delete list ``name`` and every record in it; :class:`ErrNotFound` if there is none."""
        n = _b(name, "list name")
        with self._writing() as tx:
            tx.drop(n)

    # -- lifetime ----------------------------------------------------------
    def close(self) -> None:
        if self._pager is not None:
            self._tx = None
            self._pager.close()
            self._pager = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def _reader(f):
    def read(n: int) -> bytes:
        b = f.read(n)
        if isinstance(b, str):
            b = b.encode("utf-8")
        return b or b""
    return read


def open(path, mode: str = "r", *, key=None, passphrase=None, page_size: int = 4096,
         kdf: tuple[int, int, int] | None = None, max_kdf_memory_kib: int | None = None,
         max_kdf_work: int | None = None, _rand=None, _file=None) -> DB:
    """Open the scdb file at ``path``.

    mode ``"r"``: read-only (shared lock). mode ``"w"``: read and write (exclusive
    lock); the file is created, empty, with the credential if it does not exist.
    Give exactly one of ``key`` (32 bytes, or 64 hex digits) and ``passphrase``
    (str as UTF-8, or bytes). Passphrase slots costing more than m ≤ 131072 KiB
    and t·m ≤ 393216 are not tried (:class:`ErrKDFLimit`) unless the limits are raised.
    """
    if mode not in ("r", "w"):
        raise ErrInvalid('scdb: mode must be "r" or "w"')
    k, p = _credential(key, passphrase)
    path = _os.fspath(path)
    if mode == "w" and _file is None and not _os.path.exists(path):
        return create(path, key=key, passphrase=passphrase, page_size=page_size, kdf=kdf, _rand=_rand)
    f = _file if _file is not None else RawFile(path, writable=(mode == "w"))
    try:
        f.lock(exclusive=(mode == "w"))
        pager = Pager.open(f, k, p, max_kdf_memory_kib, max_kdf_work, _rand or _os.urandom,
                           reader=(mode == "r"))
        if mode == "r":
            pager.meta = pager.begin_snapshot()
    except BaseException:
        f.close()
        raise
    return DB(pager, mode == "w", path)


def create(path, *, key=None, passphrase=None, page_size: int = 4096,
           kdf: tuple[int, int, int] | None = None, generation: int = 0, _rand=None, _file=None) -> DB:
    """Create a new, empty scdb file (it must not exist) and open it for writing.
    ``kdf`` = (t, m KiB, p) for a passphrase slot; default (3, 65536, 4)."""
    k, p = _credential(key, passphrase)
    if page_size not in [1 << s for s in range(_hdr.MIN_SHIFT, _hdr.MAX_SHIFT + 1)]:
        raise ErrInvalid("scdb: page size must be a power of two from 1024 to 65536")
    rand = _rand or _os.urandom
    path = _os.fspath(path)
    data_key, key_id, file_id = rand(32), rand(16), rand(16)
    slot = _hdr.new_slot(data_key, key_id, k, p, kdf or _hdr.DEFAULT_KDF, rand)
    h = _hdr.Header(page_size.bit_length() - 1, file_id, 1, key_id,
                    [slot] + [bytes(_hdr.SLOT_SIZE)] * (_hdr.NUM_SLOTS - 1))
    f = _file if _file is not None else RawFile(path, writable=True, create=True)
    try:
        f.lock(exclusive=True)
        pager = Pager(f, h, 0, data_key, rand)
        pager.write_initial(generation)
    except BaseException:
        f.close()
        raise
    return DB(pager, True, path)
