"""FORMAT.md §10.3.4, the separator bounds a scan checks: a key a scan yields
must lie inside the bounds that the separators on its leaf's path give (all
the branches together), else ErrCorrupt naming the leaf. Trees are forged by
re-sealing a leaf with the data key, so every page authenticates and is well
formed alone; the keys stay strictly increasing in scan order, so only the
bounds rule can catch them (a lookup of the forged key follows the
separators to another leaf and misses it)."""

from __future__ import annotations

import os
import tempfile
import unittest

from helpers import read_all, scdb
from scdb.node import Node, RawNode

KEY = bytes(range(32))
PAGE = 1024


class TestSeparatorBounds(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.path = os.path.join(self.tmp.name, "b.scdb")

    # -- forging -----------------------------------------------------------
    def node(self, db, ref) -> RawNode:
        return RawNode(ref, db._pager.read_page(ref))

    def leftmost_leaf(self, db, ref):
        """Path of refs from ``ref`` down its first children to a leaf."""
        path = [ref]
        f = self.node(db, ref)
        while not f.leaf:
            path.append(f.child(0))
            f = self.node(db, path[-1])
        return path

    def rightmost_key(self, db, ref) -> bytes:
        f = self.node(db, ref)
        while not f.leaf:
            f = self.node(db, f.child(f.count() - 1))
        return bytes(f.key(f.count() - 1))

    def forge_first_key(self, root, levels_up: int):
        """In the tree at ``root``: take the branch ``levels_up`` levels above
        the leaves on the leftmost spine (1: the leaves' parent), its child 1,
        and the leftmost leaf below that; re-seal the leaf with its first key
        replaced by one between the last key before it and the branch's
        separator 0. Only that branch bounds the leaf from below: the
        branches between are passed through their child 0. Returns
        (leaf page, forged key, the key it replaced)."""
        with scdb.open(self.path, key=KEY) as db:
            spine = self.leftmost_leaf(db, root)
            self.assertGreater(len(spine), levels_up, "tree not deep enough")
            bref = spine[-1 - levels_up]
            b = self.node(db, bref)
            sep = bytes(b.key(0))
            before = self.rightmost_key(db, b.child(0))
            lpath = self.leftmost_leaf(db, b.child(1))
            self.assertEqual(len(lpath), levels_up)
            lref = lpath[-1]
            S = db._pager.payload_size
            leaf = Node.decode(self.node(db, lref), S)
            forged = before + b"~"
            self.assertTrue(before < forged < sep, (before, forged, sep))
            old = leaf.keys[0]
            leaf.keys[0] = forged
            sealed = db._pager.seal(lref[0], lref[1], leaf.encode(S))
        with open(self.path, "r+b") as f:
            f.seek(lref[0] * PAGE)
            f.write(sealed)
        return lref[0], forged, old

    def list_root(self, name):
        with scdb.open(self.path, key=KEY) as db:
            return db._entry(name).root

    def dir_root(self):
        with scdb.open(self.path, key=KEY) as db:
            return db._pager.meta.tree

    def corrupt(self, fn, page):
        with scdb.open(self.path, key=KEY) as db:
            with self.assertRaises(scdb.ErrCorrupt) as cm:
                fn(db)
        self.assertEqual(cm.exception.page, page, str(cm.exception))
        self.assertIn("bounds", str(cm.exception))

    # -- list trees --------------------------------------------------------
    def make_list(self, n: int, vlen: int):
        with scdb.create(self.path, key=KEY, page_size=PAGE) as db:
            with db.transaction():
                for i in range(n):
                    db.put("l", f"k{i:05d}", bytes([i & 0xFF]) * vlen)

    def test_leaf_below_its_parents_separator(self):
        self.make_list(60, 100)
        leaf, forged, _ = self.forge_first_key(self.list_root(b"l"), 1)
        self.corrupt(lambda db: list(db.list("l")), leaf)
        self.corrupt(read_all, leaf)
        # from an id: the seek lands on the forged key in the broken leaf
        self.corrupt(lambda db: list(db.list("l", start=forged.decode())), leaf)
        with scdb.open(self.path, key=KEY) as db:
            # a lookup follows the separators to the left leaf and misses the key
            with self.assertRaises(scdb.ErrNotFound):
                db.get("l", forged.decode())
            # a scan that starts past the broken leaf never yields from it
            self.assertEqual([r.id for r in db.list("l", start="k00059")], ["k00059"])
            # a scan stopped before the broken leaf is fine up to there
            it = iter(db.list("l"))
            self.assertEqual(next(it).id, "k00000")

    def test_bounds_of_all_branches_on_the_path(self):
        # three levels: the forged leaf is child 0 of its parent (no lower bound
        # there); only the root's separator bounds it from below
        self.make_list(400, 200)
        root = self.list_root(b"l")
        with scdb.open(self.path, key=KEY) as db:
            self.assertEqual(len(self.leftmost_leaf(db, root)), 3)
        leaf, forged, _ = self.forge_first_key(root, 2)
        self.corrupt(lambda db: list(db.list("l")), leaf)
        self.corrupt(lambda db: list(db.list("l", start=forged.decode())), leaf)

    def test_upper_bound(self):
        # child 0's last key raised to separator 0 (child 0 holds keys < s_0);
        # the scan fails on that leaf, before it reaches the next
        self.make_list(60, 100)
        with scdb.open(self.path, key=KEY) as db:
            root = db._entry(b"l").root
            b = self.node(db, root)
            self.assertFalse(b.leaf)
            sep = bytes(b.key(0))
            lref = b.child(0)
            S = db._pager.payload_size
            leaf = Node.decode(self.node(db, lref), S)
            self.assertLess(leaf.keys[-1], sep)
            leaf.keys[-1] = sep  # = s_0: child 0 holds keys < s_0
            sealed = db._pager.seal(lref[0], lref[1], leaf.encode(S))
        with open(self.path, "r+b") as f:
            f.seek(lref[0] * PAGE)
            f.write(sealed)
        self.corrupt(lambda db: list(db.list("l")), lref[0])

    def test_valid_tree_reads(self):
        self.make_list(400, 200)
        with scdb.open(self.path, key=KEY) as db:
            ids = [r.id for r in db.list("l")]
            self.assertEqual(ids, [f"k{i:05d}" for i in range(400)])
            self.assertEqual([r.id for r in db.list("l", start="k00200")][:2], ["k00200", "k00201"])

    # -- the directory tree ------------------------------------------------
    def test_directory_leaf_below_its_separator(self):
        with scdb.create(self.path, key=KEY, page_size=PAGE) as db:
            with db.transaction():
                for i in range(120):
                    db.put(f"list{i:04d}", "a", b"v")
        leaf, forged, _ = self.forge_first_key(self.dir_root(), 1)
        self.corrupt(lambda db: list(db.lists()), leaf)
        self.corrupt(read_all, leaf)
        # a writer listing the lists inside a transaction scans the same tree
        with scdb.open(self.path, "w", key=KEY) as db:
            with self.assertRaises(scdb.ErrCorrupt) as cm:
                with db.transaction():
                    list(db.lists())
            self.assertEqual(cm.exception.page, leaf)


if __name__ == "__main__":
    unittest.main()
