"""Write transactions: copy-on-write changes to the directory and list trees,
value chains, and the commit of FORMAT.md §9.1 (pages, fsync, meta, fsync).

Changed tree nodes stay in memory until commit (no spilling): a transaction's
memory grows with the number of tree nodes it changes, not with the size of
the lists or values it touches (values are written page by page at once).
"""

from __future__ import annotations

from .chain import ChainWriter, chain_runs, decode_cell, inline_cell, MAX_SIZE
from .entry import Entry, decode_entry
from .errors import ErrCorrupt, ErrNotFound, ErrTooLarge
from .freelist import Freelist
from .meta import Meta
from .node import Node, RawNode, max_key, max_value
from .tree import Tree


class View:
    """Read access to one state: its pages are those below ``page_count``."""

    def __init__(self, pager, page_count_fn):
        self.pager = pager
        self._pc = page_count_fn
        self.payload_size = pager.payload_size

    @property
    def page_count(self) -> int:
        return self._pc()

    def read_page(self, ref, holder=None) -> bytes:
        return self.pager.read_page(ref, holder, self._pc())

    def read_pages(self, first: int, gen: int, n: int, holder=None) -> list:
        self.pager.check_bounds(first, n, holder, self._pc())
        return self.pager.read_pages(first, gen, n, holder, self._pc())


class ListState:
    """A list as a transaction sees it: its entry and its (writable) tree."""

    def __init__(self, entry: Entry, tree: Tree):
        self.entry = entry
        self.tree = tree
        self.dirty = False


def check_key(S: int, k: bytes, what: str) -> None:
    if len(k) > max_key(S):
        raise ErrTooLarge(f"scdb: {what} of {len(k)} bytes; the limit is {max_key(S)} at this page size")


class WriteTx:
    """One write transaction against ``pager``'s current meta."""

    def __init__(self, pager):
        self.pager = pager
        pager.writable()
        m = pager.meta
        self.base = m
        self.gen = m.gen + 1
        self.payload_size = pager.payload_size
        committed = View(pager, lambda: m.page_count)
        self.fl = Freelist.load(committed, m, pager.hdr.page_shift)
        pager.guard_reuse(self.fl)  # another open's older snapshot (§9.5)
        self.view = View(pager, lambda: self.fl.page_count)
        self.dir = Tree(self.view, m.tree, tx=self)
        self.lists: dict[bytes, ListState] = {}
        self.done = False

    # -- page bookkeeping used by trees and chains ---------------------------
    def free_page(self, pg: int) -> None:
        self.fl.free_later(pg, 1)

    def alloc_run(self, n: int) -> int:
        return self.fl.alloc(n)

    def release_unwritten(self, first: int, n: int) -> None:
        self.fl.release_unwritten(first, n)

    def free_written(self, runs) -> None:
        for s, n in runs:
            self.fl.free_later(s, n)

    def write_page(self, pg: int, payload: bytes) -> None:
        self.pager.write_page(pg, self.gen, payload)

    def _write_node(self, payload: bytes):
        pg = self.fl.alloc(1)
        self.write_page(pg, payload)
        return (pg, self.gen)

    # -- lists -------------------------------------------------------------
    def list_state(self, name: bytes) -> ListState:
        ls = self.lists.get(name)
        if ls is not None:
            return ls
        check_key(self.payload_size, name, "list name")
        v = self.dir.get(name)
        e = decode_entry(v, name) if v is not None else Entry()
        ls = ListState(e, Tree(self.view, e.root, tx=self))
        self.lists[name] = ls
        return ls

    def _touch(self, name: bytes, ls: ListState) -> None:
        """Keep the directory's view of which lists exist current (the entry's
        root is written for real at commit)."""
        ls.dirty = True
        e = ls.entry
        if e.kept():
            placeholder = Entry(e.count, e.total, e.seq, e.root if e.count else (0, 0))
            if e.count and e.root[0] == 0:
                placeholder.root = (1, 0)  # stale stand-in; never decoded while the list is in self.lists
            self.dir.put(name, placeholder.encode())
        else:
            self.dir.delete(name)

    def _free_cell(self, cell: bytes) -> int:
        """Free the chain a cell points at (checked first); return the value size."""
        v, c = decode_cell(cell)
        if c is None:
            return len(v)
        if c.gen > self.gen:
            raise ErrCorrupt(c.first, f"chain written at generation {c.gen}, after {self.gen}")
        for s, n in chain_runs(self.view, c):
            self.fl.free_later(s, n)
        return c.size

    def put(self, name: bytes, rid: bytes, value=None, stream=None) -> None:
        S = self.payload_size
        check_key(S, rid, "record id")
        ls = self.list_state(name)
        max_inline = max_value(S, len(rid)) - 1
        if stream is None:
            size = len(value)
            if size > MAX_SIZE:
                raise ErrTooLarge("scdb: value larger than 2^40 bytes")
            if size <= max_inline:
                cell = inline_cell(value)
            else:
                cell = ChainWriter(self, size).write_bytes(value)
        else:
            prefix = stream(max_inline + 1)
            while len(prefix) <= max_inline:
                more = stream(max_inline + 1 - len(prefix))
                if not more:
                    break
                prefix += more
            if len(prefix) <= max_inline:
                cell, size = inline_cell(prefix), len(prefix)
            else:
                cell, size = ChainWriter(self, None).write_stream(prefix, stream)
        old = ls.tree.put(rid, cell)
        e = ls.entry
        if old is not None:
            e.total -= self._free_cell(old)
        else:
            e.count += 1
        e.total += size
        self._touch(name, ls)

    def delete(self, name: bytes, rid: bytes) -> None:
        ls = self.list_state(name)
        old = ls.tree.delete(rid)
        if old is None:
            raise ErrNotFound(f"scdb: list {name!r} id {rid!r}: not found")
        e = ls.entry
        e.total -= self._free_cell(old)
        e.count -= 1
        self._touch(name, ls)

    def append(self, name: bytes, value=None, stream=None) -> bytes:
        ls = self.list_state(name)
        seq = ls.entry.seq
        while True:
            rid = b"%016x" % seq
            seq += 1
            if ls.tree.get(rid) is None:
                break
        self.put(name, rid, value, stream)
        ls.entry.seq = seq
        self._touch(name, ls)
        return rid

    def drop(self, name: bytes) -> None:
        ls = self.list_state(name)
        if not ls.entry.kept():
            raise ErrNotFound(f"scdb: list {name!r}: not found")
        self._free_tree(ls.tree.root, 0)
        ls.tree = Tree(self.view, None, tx=self)
        ls.entry = Entry()
        self._touch(name, ls)

    def _free_tree(self, x, depth: int) -> None:
        """Free every page of a list tree and of the chains its cells point at."""
        if x is None:
            return
        if depth > 64:
            raise ErrCorrupt(None, "tree deeper than 64 levels")
        if isinstance(x, Node):
            if x.leaf:
                for v in x.vals:
                    self._free_cell(v)
            else:
                for k in x.kids:
                    self._free_tree(k, depth + 1)
            return
        raw = RawNode(x, self.view.read_page(x))
        if raw.leaf:
            for i in range(raw.n):
                self._free_cell(bytes(raw.leaf_cell(i)[1]))
        else:
            for i in range(raw.n + 1):
                self._free_tree(raw.child(i), depth + 1)
        self.fl.free_later(x[0], 1)

    # -- commit ------------------------------------------------------------
    def commit(self) -> Meta:
        for name in sorted(self.lists):
            ls = self.lists[name]
            if not ls.dirty:
                continue
            ls.entry.root = ls.tree.flush(self._write_node)
            if ls.entry.kept():
                self.dir.put(name, ls.entry.encode())
            else:
                self.dir.delete(name)
        root = self.dir.flush(self._write_node)
        fl = self.fl.save(self.payload_size, self.gen, self.write_page)
        m = Meta(self.gen, self.fl.page_count, root, fl)
        self.pager.commit(m)
        self.pager.record_freed(m.gen, self.fl.pending)
        self.done = True
        return m
