package dirtree

import (
	"fmt"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Relocate copies on write every node of the tree whose page is numbered at
// or above limit, so that it moves to a page the writer allocates (a
// shrinking file's writer allocates below limit), and rewrites the parents
// that point at a moved node. It hands every value to fix, which returns a
// replacement of the same length when what the value points at moved too (a
// value chain, a list's tree), or nil to keep it; a leaf whose value is
// replaced is rewritten.
//
// It reads every page of the tree once: the cost of a full scan, plus a
// write for each page moved.
func (t *Tree) Relocate(limit uint64, fix func(val []byte) ([]byte, error)) error {
	if err := t.writable(); err != nil {
		return err
	}
	if t.root.IsZero() {
		return nil
	}
	t.mod++
	ownRoot := func() (*node, error) {
		n, err := t.own(t.root)
		if err == nil {
			t.root = n.ref(t.gen)
		}
		return n, err
	}
	if err := t.relocate(t.root, 0, ownRoot, limit, fix); err != nil {
		t.failed = err
		return err
	}
	return nil
}

// relocate moves what needs moving under ref. own copies ref's node on
// write (or returns it, if held already) and points the parent at it; it
// is called only when the node must change.
func (t *Tree) relocate(ref pager.Ref, depth int, own func() (*node, error), limit uint64, fix func([]byte) ([]byte, error)) error {
	if depth > maxDepth {
		return errs.Corrupt(ref.Page, "tree deeper than %d levels", maxDepth)
	}
	if n := t.owned(ref); n != nil {
		return t.relocateHeld(n, depth, own, limit, fix)
	}
	if ref.Page >= limit {
		n, err := own()
		if err != nil {
			return err
		}
		if n.leaf {
			t.touched(n)
		}
		return t.relocateHeld(n, depth, own, limit, fix)
	}
	p, err := t.readRaw(ref)
	if err != nil {
		return err
	}
	var n *node // the node once owned
	ensure := func() error {
		if n == nil {
			var err error
			n, err = own()
			return err
		}
		return nil
	}
	if p.leaf {
		for i := 0; i < p.n; i++ {
			_, v, err := p.leafCell(i)
			if err != nil {
				return err
			}
			nv, err := fixed(fix, v)
			if err != nil {
				return err
			}
			if nv == nil {
				continue
			}
			// Not ensure: fix may have let write-behind write the leaf
			// since, and own moves it before it changes again.
			if n, err = own(); err != nil {
				return err
			}
			t.setFixed(n, i, nv)
		}
		_ = t.writeBehind() // the leaf is done; a failed write fails the commit
		return nil
	}
	for i := 0; i <= p.n; i++ {
		kid, err := p.child(i)
		if err != nil {
			return err
		}
		ownKid := func() (*node, error) {
			if err := ensure(); err != nil {
				return nil, err
			}
			return t.ownChild(n, i)
		}
		if err := t.relocate(kid, depth+1, ownKid, limit, fix); err != nil {
			return err
		}
	}
	return nil
}

// relocateHeld is relocate for a node the transaction holds. The
// transaction allocated its page, below limit, but its values and
// children may still need moving. own also moves a leaf that write-behind
// wrote already, before it changes again.
func (t *Tree) relocateHeld(n *node, depth int, own func() (*node, error), limit uint64, fix func([]byte) ([]byte, error)) error {
	if n.leaf {
		for i := range n.vals {
			nv, err := fixed(fix, n.vals[i])
			if err != nil {
				return err
			}
			if nv == nil {
				continue
			}
			if n, err = own(); err != nil {
				return err
			}
			t.setFixed(n, i, nv)
		}
		_ = t.writeBehind() // the leaf is done; a failed write fails the commit
		return nil
	}
	for i := range n.kids {
		ownKid := func() (*node, error) { return t.ownChild(n, i) }
		if err := t.relocate(n.kids[i], depth+1, ownKid, limit, fix); err != nil {
			return err
		}
	}
	return nil
}

// fixed calls fix (if any) on v and checks that a replacement keeps the
// length: Relocate rebalances nothing, so no node may change size.
func fixed(fix func([]byte) ([]byte, error), v []byte) ([]byte, error) {
	if fix == nil {
		return nil, nil
	}
	nv, err := fix(v)
	if err != nil || nv == nil {
		return nil, err
	}
	if len(nv) != len(v) {
		return nil, fmt.Errorf("dirtree: Relocate's fix replaced a value of %d bytes by %d", len(v), len(nv))
	}
	return nv, nil
}

// setFixed replaces value i of held leaf n.
func (t *Tree) setFixed(n *node, i int, v []byte) {
	_, cv := ownedCell(nil, v)
	n.setVal(i, cv)
	t.touched(n)
}
