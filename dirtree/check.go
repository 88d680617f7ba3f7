package dirtree

import (
	"bytes"
	"fmt"

	"github.com/streamcrypt/scdb/pager"
)

// CheckFuncs receives what Check finds. Any field may be nil.
type CheckFuncs struct {
	// Page is called once for every page of the tree that could be read
	// and has a node type, with whether it is a leaf.
	Page func(ref pager.Ref, leaf bool)
	// Value is called for every cell of every leaf, in key order within a
	// leaf. The slices are valid only during the call.
	Value func(key, val []byte)
	// Problem is called for every problem found, with the page it is on.
	Problem func(pgno uint64, msg string)
}

// Check walks every page of the tree and reports each page, each value and
// every problem: a page that fails to read or is not a node, cell bounds
// outside the page or overlapping, keys out of order in a node, keys
// outside the bounds the parent's separators set, leaves at different
// depths, non-root nodes under the fill minimum, oversized keys or cells,
// child pointers to page 0, to a newer generation or to a page already seen.
// It does not stop at the first problem; it skips only subtrees it cannot
// read. Nodes the transaction holds in memory are checked as they are.
func (t *Tree) Check(fn CheckFuncs) {
	if t.root.IsZero() {
		return
	}
	c := &checker{t: t, fn: fn, seen: map[uint64]bool{}, leafDepth: -1}
	c.walk(t.root, 0, bound{}, bound{}, true)
}

// bound is a key bound; a zero bound is unbounded.
type bound struct {
	key []byte
	set bool
}

type checker struct {
	t         *Tree
	fn        CheckFuncs
	seen      map[uint64]bool
	leafDepth int
}

func (c *checker) problem(pgno uint64, format string, args ...any) {
	if c.fn.Problem != nil {
		c.fn.Problem(pgno, fmt.Sprintf(format, args...))
	}
}

// walk checks the subtree at ref, whose keys must be >= lo and < hi.
// spine says ref is the last child at every level down from the root.
func (c *checker) walk(ref pager.Ref, depth int, lo, hi bound, spine bool) {
	if c.seen[ref.Page] {
		c.problem(ref.Page, "page is reached twice")
		return
	}
	c.seen[ref.Page] = true
	if depth > maxDepth {
		c.problem(ref.Page, "tree deeper than %d levels", maxDepth)
		return
	}
	n := c.load(ref)
	if n == nil {
		return
	}
	if c.fn.Page != nil {
		c.fn.Page(ref, n.leaf)
	}
	for _, msg := range nodeProblems(n, ref.Gen, c.t.payload) {
		c.problem(ref.Page, "%s", msg)
	}
	c.checkBounds(ref.Page, n, lo, hi)
	c.checkFill(ref.Page, n, depth == 0, spine)
	if n.leaf {
		if c.leafDepth < 0 {
			c.leafDepth = depth
		} else if depth != c.leafDepth {
			c.problem(ref.Page, "leaf at depth %d, other leaves at depth %d", depth, c.leafDepth)
		}
		if c.fn.Value != nil {
			for i, k := range n.keys {
				c.fn.Value(k, n.vals[i])
			}
		}
		return
	}
	for i, kid := range n.kids {
		if kid.Page == 0 || kid.Gen > ref.Gen {
			continue // reported by nodeProblems
		}
		klo, khi := lo, hi
		if i > 0 {
			klo = bound{n.keys[i-1], true}
		}
		if i < len(n.keys) {
			khi = bound{n.keys[i], true}
		}
		c.walk(kid, depth+1, klo, khi, spine && i == len(n.kids)-1)
	}
}

// load returns the node at ref, reporting why when it cannot.
func (c *checker) load(ref pager.Ref) *node {
	if n := c.t.owned(ref); n != nil {
		if used := n.computeUsed(); used != n.used {
			c.problem(ref.Page, "held node counts %d used bytes, its cells use %d", n.used, used)
		}
		return n
	}
	b, err := c.t.r.Page(ref)
	if err != nil {
		c.problem(ref.Page, "cannot read page: %v", err)
		return nil
	}
	n, problems, err := parsePage(ref, b, true)
	if err != nil {
		c.problem(ref.Page, "%s", reason(err))
		return nil
	}
	for _, msg := range problems {
		c.problem(ref.Page, "%s", msg)
	}
	return n
}

func (c *checker) checkBounds(pgno uint64, n *node, lo, hi bound) {
	for i, k := range n.keys {
		if lo.set && bytes.Compare(k, lo.key) < 0 {
			c.problem(pgno, "key %d is below its parent's separator", i)
		}
		if hi.set && bytes.Compare(k, hi.key) >= 0 {
			c.problem(pgno, "key %d is not below its parent's next separator", i)
		}
	}
}

func (c *checker) checkFill(pgno uint64, n *node, root, spine bool) {
	switch {
	case len(n.keys) == 0 && n.leaf:
		c.problem(pgno, "leaf has no cells")
	case len(n.keys) == 0:
		c.problem(pgno, "branch has a single child")
	case !root && !spine && underMinFill(n.leaf, n.used, c.t.payload):
		c.problem(pgno, "node uses %d of %d bytes, under the fill minimum", n.used, n.capacity(c.t.payload))
	}
}
