"""B+tree node pages (FORMAT.md §10.3.2–10.3.3): size limits, a lazily checked
read-only view of a node page (:class:`RawNode`), and a decoded, mutable
:class:`Node` that a writer changes and encodes.
"""

from __future__ import annotations

import struct

from .errors import ErrCorrupt
from .meta import TYPE_BRANCH, TYPE_LEAF

LEAF_HDR, BRANCH_HDR = 4, 20
LEAF_FIXED, BRANCH_FIXED = 4, 18
MAX_DEPTH = 64


def max_leaf_cell(S: int) -> int:
    # Half a leaf: a leaf holds two cells of the largest size (§10.3.3).
    return (S - 4) // 2


def max_branch_cell(S: int) -> int:
    return (S - 20) // 3


def max_key(S: int) -> int:
    return min(max_branch_cell(S) - 20, max_leaf_cell(S) - 6 - 64)


def max_value(S: int, k: int) -> int:
    """Largest tree value beside a key of ``k`` bytes, or -1 if the key cannot be stored."""
    if k < 0 or k > max_key(S):
        return -1
    return max_leaf_cell(S) - 6 - k


class RawNode:
    """A node page's payload read in place: the header is checked on creation,
    each cell when it is read (as the Go reader does: a lookup checks only the
    cells its binary search visits)."""

    __slots__ = ("b", "ref", "leaf", "n", "cells", "hdr")

    def __init__(self, ref: tuple[int, int], b: bytes):
        self.b, self.ref = b, ref
        pg = ref[0]
        if b[0] == TYPE_LEAF:
            self.leaf, self.hdr = True, LEAF_HDR
        elif b[0] == TYPE_BRANCH:
            self.leaf, self.hdr = False, BRANCH_HDR
        else:
            raise ErrCorrupt(pg, f"page type {b[0]}, want branch (3) or leaf (4)")
        if b[1] != 0:
            raise ErrCorrupt(pg, "reserved node header byte is not 0")
        self.n = struct.unpack_from("<H", b, 2)[0]
        if self.n == 0:
            raise ErrCorrupt(pg, "node has no cells")
        self.cells = self.hdr + 2 * self.n
        if self.cells > len(b):
            raise ErrCorrupt(pg, f"{self.n} cells overflow the page")

    def _cell_at(self, i: int, fixed: int) -> int:
        off = struct.unpack_from("<H", self.b, self.hdr + 2 * i)[0]
        if off < self.cells or off + fixed > len(self.b):
            raise ErrCorrupt(self.ref[0], f"cell {i} at offset {off} outside the cell area")
        return off

    def key(self, i: int) -> bytes:
        if self.leaf:
            return self.leaf_cell(i)[0]
        b = self.b
        off = self._cell_at(i, BRANCH_FIXED)
        klen = struct.unpack_from("<H", b, off + 16)[0]
        if klen > max_key(len(b)):
            raise ErrCorrupt(self.ref[0], f"separator {i} of {klen} bytes is over the key limit")
        end = off + BRANCH_FIXED + klen
        if end > len(b):
            raise ErrCorrupt(self.ref[0], f"separator {i} runs past the page end")
        return b[off + BRANCH_FIXED:end]

    def leaf_cell(self, i: int) -> tuple[bytes, bytes]:
        """Key and value of leaf cell i; both lengths are checked against their
        limits on every read (FORMAT.md §10.3.2.3)."""
        b = self.b
        off = self._cell_at(i, LEAF_FIXED)
        klen, vlen = struct.unpack_from("<HH", b, off)
        S = len(b)
        if klen > max_key(S) or vlen > max_value(S, klen):
            raise ErrCorrupt(self.ref[0], f"cell {i} ({klen}-byte key, {vlen}-byte value) is over the limits")
        kend = off + LEAF_FIXED + klen
        vend = kend + vlen
        if vend > len(b):
            raise ErrCorrupt(self.ref[0], f"cell {i} runs past the page end")
        return b[off + LEAF_FIXED:kend], b[kend:vend]

    def child(self, i: int) -> tuple[int, int]:
        at = 4 if i == 0 else self._cell_at(i - 1, BRANCH_FIXED)
        r = struct.unpack_from("<QQ", self.b, at)
        check_child(self.ref, r)
        return r

    def count(self) -> int:
        """Cells (leaf) or children (branch)."""
        return self.n if self.leaf else self.n + 1

    def search(self, key: bytes) -> tuple[int, bool]:
        """Leaf: first cell with key >= ``key`` and whether equal. Branch: the
        child to descend into (number of separators <= key)."""
        lo, hi = 0, self.n
        while lo < hi:
            m = (lo + hi) >> 1
            k = self.key(m)
            if k < key or (k == key and not self.leaf):
                lo = m + 1
            else:
                hi = m
        if not self.leaf or lo == self.n:
            return lo, False
        return lo, self.key(lo) == key


def check_child(parent: tuple[int, int], r: tuple[int, int]) -> None:
    if r[0] == 0:
        raise ErrCorrupt(parent[0], "child pointer to page 0")
    if r[1] > parent[1]:
        raise ErrCorrupt(parent[0], f"child {r} is newer than its parent at generation {parent[1]}")


class Node:
    """A decoded node a writer changes. ``kids`` of a branch hold either a page
    ref (page, gen) or a dirty :class:`Node` not yet written."""

    __slots__ = ("leaf", "keys", "vals", "kids")

    def __init__(self, leaf: bool, keys=None, vals=None, kids=None):
        self.leaf = leaf
        self.keys = keys if keys is not None else []
        self.vals = vals if vals is not None else []
        self.kids = kids if kids is not None else []

    def cell_size(self, i: int) -> int:
        if self.leaf:
            return 2 + LEAF_FIXED + len(self.keys[i]) + len(self.vals[i])
        return 2 + BRANCH_FIXED + len(self.keys[i])

    def used(self) -> int:
        if self.leaf:
            return sum(6 + len(k) + len(v) for k, v in zip(self.keys, self.vals))
        return sum(20 + len(k) for k in self.keys)

    @staticmethod
    def capacity(leaf: bool, S: int) -> int:
        return S - 4 if leaf else S - 20

    def search(self, key: bytes) -> tuple[int, bool]:
        keys = self.keys
        lo, hi = 0, len(keys)
        while lo < hi:
            m = (lo + hi) >> 1
            k = keys[m]
            if k < key or (k == key and not self.leaf):
                lo = m + 1
            else:
                hi = m
        if not self.leaf:
            return lo, False
        return lo, lo < len(keys) and keys[lo] == key

    @classmethod
    def decode(cls, raw: RawNode, S: int) -> "Node":
        """Decode every cell and check the node alone (order, limits, fit, child refs)."""
        pg = raw.ref[0]
        n = cls(raw.leaf)
        if raw.leaf:
            for i in range(raw.n):
                k, v = raw.leaf_cell(i)
                n.keys.append(bytes(k))
                n.vals.append(bytes(v))
        else:
            n.kids.append(struct.unpack_from("<QQ", raw.b, 4))
            for i in range(raw.n):
                n.keys.append(bytes(raw.key(i)))
                off = struct.unpack_from("<H", raw.b, raw.hdr + 2 * i)[0]
                n.kids.append(struct.unpack_from("<QQ", raw.b, off))
        mk = max_key(S)
        for i, k in enumerate(n.keys):
            if i > 0 and n.keys[i - 1] >= k:
                raise ErrCorrupt(pg, f"key {i} is not greater than key {i - 1}")
            if len(k) > mk:
                raise ErrCorrupt(pg, f"key {i} exceeds the maximum key ({mk})")
            if n.leaf and 2 + LEAF_FIXED + len(k) + len(n.vals[i]) > max_leaf_cell(S):
                raise ErrCorrupt(pg, f"cell {i} exceeds the maximum cell size")
        if n.used() > cls.capacity(n.leaf, S):
            raise ErrCorrupt(pg, "cells use more bytes than the page holds")
        for r in n.kids:
            check_child(raw.ref, r)
        return n

    def encode(self, S: int, kid_refs=None) -> bytes:
        """Encode into an S-byte payload, cells packed at the end in key order.
        ``kid_refs`` gives the branch's children as refs (dirty kids resolved)."""
        b = bytearray(S)
        nk = len(self.keys)
        struct.pack_into("<H", b, 2, nk)
        if self.leaf:
            b[0] = TYPE_LEAF
            hdr = LEAF_HDR
        else:
            b[0] = TYPE_BRANCH
            hdr = BRANCH_HDR
            kids = kid_refs if kid_refs is not None else self.kids
            struct.pack_into("<QQ", b, 4, *kids[0])
        off = S - (self.used() - 2 * nk)
        for i, k in enumerate(self.keys):
            struct.pack_into("<H", b, hdr + 2 * i, off)
            if self.leaf:
                v = self.vals[i]
                struct.pack_into("<HH", b, off, len(k), len(v))
                off += LEAF_FIXED
                b[off:off + len(k)] = k
                off += len(k)
                b[off:off + len(v)] = v
                off += len(v)
            else:
                struct.pack_into("<QQH", b, off, kids[i + 1][0], kids[i + 1][1], len(k))
                off += BRANCH_FIXED
                b[off:off + len(k)] = k
                off += len(k)
        return bytes(b)
