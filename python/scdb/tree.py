"""B+trees of FORMAT.md §10.3: lookup and in-order iteration over pages read
lazily (checks as the Go reader: depth ≤ 64 levels below the root; in a
scan, keys strictly increasing and inside the bounds that the separators on
the leaf's path give), and copy-on-write changes (put, delete) that
keep the invariants of §10.3.4 by splitting, merging and sharing evenly.

A tree's root is ``None`` (empty), a page ref ``(page, gen)``, or a dirty
:class:`~scdb.node.Node`. Changed nodes stay in memory until :meth:`Tree.flush`.
"""

from __future__ import annotations

from .errors import ErrCorrupt
from .node import MAX_DEPTH, Node, RawNode


def _is_ref(x) -> bool:
    return isinstance(x, tuple)


def shortest_separator(left_last: bytes, right_first: bytes) -> bytes:
    """Shortest prefix of ``right_first`` greater than ``left_last``."""
    for n in range(1, len(right_first) + 1):
        p = right_first[:n]
        if p > left_last:
            return p
    return right_first


def _best_split(sizes: list[int], branch: bool) -> int:
    """Index splitting cells by bytes nearest the middle. Leaf: left = [:k],
    right = [k:], 1 ≤ k ≤ n−1. Branch: left = [:k], up = k, right = [k+1:],
    1 ≤ k ≤ n−2."""
    n = len(sizes)
    total = sum(sizes)
    best, best_k, acc = None, 1, 0
    prefix = [0]
    for s in sizes:
        acc += s
        prefix.append(acc)
    lo, hi = (1, n - 2) if branch else (1, n - 1)
    for k in range(lo, hi + 1):
        left = prefix[k]
        right = total - prefix[k + 1] if branch else total - prefix[k]
        worst = max(left, right)
        if best is None or worst < best:
            best, best_k = worst, k
    return best_k


class Tree:
    def __init__(self, view, root, tx=None):
        self.view = view
        self.S = view.payload_size
        self.root = None if root is None or (_is_ref(root) and root[0] == 0) else root
        self.tx = tx
        self.mod = 0

    # -- reading -----------------------------------------------------------
    def _frame(self, x, holder=None):
        if isinstance(x, Node):
            return x
        return RawNode(x, self.view.read_page(x, holder))

    @staticmethod
    def _count(f) -> int:
        if isinstance(f, Node):
            return len(f.keys) if f.leaf else len(f.kids)
        return f.count()

    @staticmethod
    def _child(f, i):
        return f.kids[i] if isinstance(f, Node) else f.child(i)

    @staticmethod
    def _cell(f, i):
        if isinstance(f, Node):
            return f.keys[i], f.vals[i]
        return f.leaf_cell(i)

    @staticmethod
    def _pg(f):
        return None if isinstance(f, Node) else f.ref[0]

    def get(self, key: bytes):
        x = self.root
        depth = 0
        while x is not None:
            if depth > MAX_DEPTH:
                raise ErrCorrupt(x[0] if _is_ref(x) else None, f"tree deeper than {MAX_DEPTH} levels")
            f = self._frame(x)
            i, found = f.search(key)
            if f.leaf:
                if not found:
                    return None
                return bytes(self._cell(f, i)[1])
            x = self._child(f, i)
            depth += 1
        return None

    @staticmethod
    def _sep(f, i) -> bytes:
        return f.keys[i] if isinstance(f, Node) else bytes(f.key(i))

    def _bounds(self, f, i, lo: bytes, hi):
        """Bounds of child ``i`` of branch ``f`` whose own bounds are [lo, hi)
        (hi None: none): invariant 2 of §10.3.4, all the branches on the path
        together."""
        if i > 0:
            s = self._sep(f, i - 1)
            if s > lo:
                lo = s
        if i < self._count(f) - 1:
            s = self._sep(f, i)
            if hi is None or s < hi:
                hi = s
        return lo, hi

    def _seek(self, key: bytes, excl: bool) -> list:
        """Path to the first key >= ``key`` (> with ``excl``): per level
        [node, index, lo, hi], the node's key bounds from the separators above."""
        stack = []
        x = self.root
        lo, hi = b"", None
        while x is not None:
            if len(stack) > MAX_DEPTH:
                raise ErrCorrupt(x[0] if _is_ref(x) else None, f"tree deeper than {MAX_DEPTH} levels")
            f = self._frame(x)
            i, found = f.search(key)
            if found and excl:
                i += 1
            stack.append([f, i, lo, hi])
            if f.leaf:
                break
            lo, hi = self._bounds(f, i, lo, hi)
            x = self._child(f, i)
        return stack

    def _descend_leftmost(self, stack) -> None:
        while True:
            f, i, lo, hi = stack[-1]
            if f.leaf or i >= self._count(f):
                return
            x = self._child(f, i)
            if len(stack) > MAX_DEPTH:
                raise ErrCorrupt(x[0] if _is_ref(x) else None, f"tree deeper than {MAX_DEPTH} levels")
            lo, hi = self._bounds(f, i, lo, hi)
            stack.append([self._frame(x), 0, lo, hi])

    def items(self, start: bytes = b"", excl: bool = False):
        """Yield (key, value) in key order from the first key ≥ ``start``
        (> with ``excl``). Holds one node per level; survives changes to the
        tree between steps by seeking again past the last key returned."""
        resume, rexcl = bytes(start), excl
        stack, mod = None, None
        while True:
            if stack is None or mod != self.mod:
                mod = self.mod
                stack = self._seek(resume, rexcl)
            else:
                stack[-1][1] += 1
            while stack and stack[-1][1] >= self._count(stack[-1][0]):
                stack.pop()
                if not stack:
                    break
                stack[-1][1] += 1
                self._descend_leftmost(stack)
            if not stack:
                return
            f, i, lo, hi = stack[-1]
            k, v = self._cell(f, i)
            k = bytes(k)
            if k < lo or (hi is not None and k >= hi):
                raise ErrCorrupt(self._pg(f), f"key {i} of the leaf is outside the bounds the separators "
                                 "on its path give (invariant 2 of §10.3.4)")
            if k < resume or (k == resume and rexcl):
                raise ErrCorrupt(self._pg(f), f"key {i} of the leaf is out of order with the keys before it")
            resume, rexcl = k, True
            yield k, bytes(v)

    # -- writing -----------------------------------------------------------
    def _decode(self, ref) -> Node:
        n = Node.decode(RawNode(ref, self.view.read_page(ref)), self.S)
        self.tx.free_page(ref[0])
        return n

    def _own(self, parent: Node, i: int) -> Node:
        k = parent.kids[i]
        if isinstance(k, Node):
            return k
        n = self._decode(k)
        parent.kids[i] = n
        return n

    def _own_root(self) -> Node:
        if not isinstance(self.root, Node):
            self.root = self._decode(self.root)
        return self.root

    def _cap(self, leaf: bool) -> int:
        return Node.capacity(leaf, self.S)

    def put(self, key: bytes, val: bytes):
        """Store ``val`` under ``key``; return the old value or None."""
        self.mod += 1
        if self.root is None:
            self.root = Node(True, [bytes(key)], [bytes(val)])
            return None
        old = self._put(self._own_root(), bytes(key), bytes(val), 0)
        self._fix_root()
        return old

    def _put(self, n: Node, key: bytes, val: bytes, depth: int):
        if depth > MAX_DEPTH:
            raise ErrCorrupt(None, f"tree deeper than {MAX_DEPTH} levels")
        i, found = n.search(key)
        if n.leaf:
            if found:
                old = n.vals[i]
                n.vals[i] = val
                return old
            n.keys.insert(i, key)
            n.vals.insert(i, val)
            return None
        old = self._put(self._own(n, i), key, val, depth + 1)
        self._fix(n, i)
        return old

    def delete(self, key: bytes):
        """Remove ``key``; return its old value or None (nothing changes then)."""
        key = bytes(key)
        if self.get(key) is None:
            return None
        self.mod += 1
        old = self._del(self._own_root(), key, 0)
        self._fix_root()
        return old

    def _del(self, n: Node, key: bytes, depth: int):
        if depth > MAX_DEPTH:
            raise ErrCorrupt(None, f"tree deeper than {MAX_DEPTH} levels")
        i, found = n.search(key)
        if n.leaf:
            if not found:
                return None
            old = n.vals.pop(i)
            n.keys.pop(i)
            return old
        old = self._del(self._own(n, i), key, depth + 1)
        if old is not None:
            self._fix(n, i)
        return old

    def _split(self, c: Node) -> list:
        """Split an overfull node; returns [left, sep, right, sep, ...]."""
        if c.leaf:
            k = _best_split([c.cell_size(i) for i in range(len(c.keys))], False)
            left = Node(True, c.keys[:k], c.vals[:k])
            right = Node(True, c.keys[k:], c.vals[k:])
            sep = shortest_separator(left.keys[-1], right.keys[0])
        else:
            k = _best_split([c.cell_size(i) for i in range(len(c.keys))], True)
            left = Node(False, c.keys[:k], kids=c.kids[:k + 1])
            right = Node(False, c.keys[k + 1:], kids=c.kids[k + 1:])
            sep = c.keys[k]
        out = []
        for part in (left, right):
            if part.used() > self._cap(part.leaf):
                out.extend(self._split(part))
            else:
                out.append(part)
            out.append(sep)
        out.pop()
        # out alternates node, sep, node: the first sep belongs between left's last piece and right.
        return out

    def _fix(self, parent: Node, i: int) -> None:
        c = parent.kids[i]
        cap = self._cap(c.leaf)
        u = c.used()
        if u > cap:
            parts = self._split(c)
            nodes, seps = parts[0::2], parts[1::2]
            parent.kids[i:i + 1] = nodes
            parent.keys[i:i] = seps
        elif 2 * u < cap and len(parent.kids) > 1:
            self._rebalance(parent, i)

    def _rebalance(self, parent: Node, i: int) -> None:
        j = i - 1 if i > 0 else i
        a = self._own(parent, j)
        b = self._own(parent, j + 1)
        cap = self._cap(a.leaf)
        if a.leaf:
            if a.used() + b.used() <= cap:
                a.keys += b.keys
                a.vals += b.vals
                del parent.keys[j]
                del parent.kids[j + 1]
                return
            keys, vals = a.keys + b.keys, a.vals + b.vals
            tmp = Node(True, keys, vals)
            k = _best_split([tmp.cell_size(x) for x in range(len(keys))], False)
            a.keys, a.vals, b.keys, b.vals = keys[:k], vals[:k], keys[k:], vals[k:]
            parent.keys[j] = shortest_separator(a.keys[-1], b.keys[0])
            return
        sep = parent.keys[j]
        if a.used() + b.used() + 20 + len(sep) <= cap:
            a.keys += [sep] + b.keys
            a.kids += b.kids
            del parent.keys[j]
            del parent.kids[j + 1]
            return
        keys, kids = a.keys + [sep] + b.keys, a.kids + b.kids
        tmp = Node(False, keys, kids=kids)
        k = _best_split([tmp.cell_size(x) for x in range(len(keys))], True)
        a.keys, a.kids = keys[:k], kids[:k + 1]
        b.keys, b.kids = keys[k + 1:], kids[k + 1:]
        parent.keys[j] = keys[k]

    def _fix_root(self) -> None:
        while True:
            r = self.root
            if not isinstance(r, Node):
                return
            if r.used() > self._cap(r.leaf):
                parts = self._split(r)
                self.root = Node(False, parts[1::2], kids=parts[0::2])
                continue
            if r.leaf and not r.keys:
                self.root = None
                return
            if not r.leaf and len(r.kids) == 1:
                self.root = r.kids[0]
                continue
            return

    def flush(self, write) -> tuple[int, int]:
        """Write every dirty node, children first, through ``write(payload) -> ref``;
        return the root ref ((0, 0) for the empty tree)."""
        def fl(x):
            if not isinstance(x, Node):
                return x
            if not x.leaf:
                x.kids = [fl(k) for k in x.kids]
            return write(x.encode(self.S))
        if self.root is None:
            return (0, 0)
        self.root = fl(self.root)
        return self.root

    def root_ref(self):
        return (0, 0) if self.root is None else self.root
