package dirtree

import (
	"errors"
	"fmt"
	"slices"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Relocate copies on write every node of the tree whose page is numbered at
// or above limit(), so that it moves to a page the writer allocates (a
// shrinking file's writer allocates below the limit), and rewrites the
// parents that point at a moved node. It hands every value to fix, which
// returns a replacement of the same length when what the value points at
// moved too (a value chain, a list's tree), or nil to keep it; a leaf whose
// value is replaced is rewritten. fix may raise the limit (a value that
// cannot move keeps the end of the file): the walk reads it anew at every
// node.
//
// It reads every page of the tree once, the leaves under a branch at once
// when the reader can (ReadCommitted): the cost of a full scan, plus a
// write for each page moved. A page reached twice is ErrCorrupt.
func (t *Tree) Relocate(limit func() uint64, fix func(val []byte) ([]byte, error)) error {
	if err := t.writable(); err != nil {
		return err
	}
	if t.root.IsZero() {
		return nil
	}
	t.mod++
	rl := &relocator{t: t, limit: limit, fix: fix, leafDepth: -1, seen: map[uint64]bool{}}
	rl.batch, _ = t.r.(committedReader)
	ownRoot := func() (*node, error) {
		n, err := t.own(t.root)
		if err == nil {
			t.root = n.ref(t.gen)
		}
		return n, err
	}
	if err := rl.relocate(t.root, 0, ownRoot); err != nil {
		t.failed = err
		return err
	}
	return nil
}

// committedReader is the optional pager.Reader method Relocate reads the
// leaves under a branch with, all at once: it decrypts committed pages (of
// generations before the transaction's) into dst, page i into
// dst[i*payload:], without caching them, errv[i] receiving page i's error.
type committedReader interface {
	ReadCommitted(refs []pager.Ref, dst []byte, errv []error)
}

// relocator is one Relocate's walk.
type relocator struct {
	t         *Tree
	limit     func() uint64 // rises while the walk goes on, if fix raises it
	fix       func([]byte) ([]byte, error)
	seen      map[uint64]bool // pages reached: a forged tree that shares a subtree is refused, as Drop does
	batch     committedReader // nil: leaves are read one by one
	leafDepth int             // the depth of the leaves, once one is met; -1 before
	buf       []byte          // the leaves batch reads
	errv      []error
}

// relocate moves what needs moving under ref. own copies ref's node on
// write (or returns it, if held already) and points the parent at it; it
// is called only when the node must change.
func (rl *relocator) relocate(ref pager.Ref, depth int, own func() (*node, error)) error {
	t := rl.t
	if err := rl.reach(ref, depth); err != nil {
		return err
	}
	if n := t.owned(ref); n != nil {
		return rl.relocateHeld(n, depth, own)
	}
	if ref.Page >= rl.limit() {
		n, err := own()
		if err != nil {
			return err
		}
		if n.leaf {
			t.touched(n)
		}
		return rl.relocateHeld(n, depth, own)
	}
	p, err := t.readRaw(ref)
	if err != nil {
		return err
	}
	return rl.relocateRaw(&p, depth, own)
}

// reach notes that the walk reached ref at depth: a page reached twice, or
// too deep, is a forged tree, which would otherwise make the walk take
// time exponential in its depth.
func (rl *relocator) reach(ref pager.Ref, depth int) error {
	if depth > maxDepth {
		return errs.Corrupt(ref.Page, "tree deeper than %d levels", maxDepth)
	}
	if rl.seen[ref.Page] {
		return errs.Corrupt(ref.Page, "page reached twice in one tree")
	}
	rl.seen[ref.Page] = true
	return nil
}

// relocateRaw is relocate for a committed page p that stays where it is
// unless its values or children move.
func (rl *relocator) relocateRaw(p *rawPage, depth int, own func() (*node, error)) error {
	t := rl.t
	if p.leaf {
		if rl.leafDepth < 0 {
			rl.leafDepth = depth
		}
		for i := 0; i < p.n; i++ {
			_, v, err := p.leafCell(i)
			if err != nil {
				return err
			}
			nv, err := fixed(rl.fix, v)
			if err != nil {
				return err
			}
			if nv == nil {
				continue
			}
			// fix may have let write-behind write the leaf since it was
			// owned: own moves it before it changes again.
			n, err := own()
			if err != nil {
				return err
			}
			t.setFixed(n, i, nv)
		}
		_ = t.writeBehind() // the leaf is done; a failed write fails the commit
		return nil
	}
	var n *node // p's node once owned
	ownKid := func(i int) func() (*node, error) {
		return func() (*node, error) {
			if n == nil {
				var err error
				if n, err = own(); err != nil {
					return nil, err
				}
			}
			return t.ownChild(n, i)
		}
	}
	kids := make([]pager.Ref, p.n+1)
	for i := range kids {
		var err error
		if kids[i], err = p.child(i); err != nil {
			return err
		}
	}
	leaves := rl.readLeaves(kids, depth+1)
	for i, kid := range kids {
		if leaves != nil && rl.errv[i] == nil {
			lp, err := openRaw(kid, leaves[i*t.payload:(i+1)*t.payload])
			if err == nil && lp.leaf {
				if err := rl.reach(kid, depth+1); err != nil {
					return err
				}
				if err := rl.relocateRaw(&lp, depth+1, ownKid(i)); err != nil {
					return err
				}
				continue
			}
		}
		if err := rl.relocate(kid, depth+1, ownKid(i)); err != nil {
			return err
		}
	}
	return nil
}

// readLeaves reads the children kids of a branch at once when they are
// leaves (the walk has met a leaf at their depth) and the reader can: the
// committed ones below the limit that the transaction does not hold, into
// rl.buf, with rl.errv[i] nil for each one read. It returns nil when it
// reads none; the caller reads the others, and any that failed, one by one
// (so a damaged page is reported as it would be otherwise).
func (rl *relocator) readLeaves(kids []pager.Ref, depth int) []byte {
	t := rl.t
	if rl.batch == nil || len(kids) < 2 {
		return nil
	}
	if rl.leafDepth < 0 {
		// The first branch above leaves: look at its first child (read
		// again below) rather than read its leaves one by one.
		if p, err := t.readRaw(kids[0]); err == nil && p.leaf {
			rl.leafDepth = depth
		}
	}
	if depth != rl.leafDepth {
		return nil
	}
	if need := len(kids) * t.payload; len(rl.buf) < need {
		rl.buf = make([]byte, need)
	}
	rl.errv = slices.Grow(rl.errv[:0], len(kids))[:len(kids)]
	refs := make([]pager.Ref, 0, len(kids))
	for _, kid := range kids {
		if kid.Gen >= t.gen || kid.Page >= rl.limit() {
			refs = append(refs, pager.Ref{}) // read below as relocate does
			continue
		}
		refs = append(refs, kid)
	}
	rl.batch.ReadCommitted(refs, rl.buf, rl.errv)
	for i, r := range refs {
		if r.IsZero() {
			rl.errv[i] = errNotRead
		}
	}
	return rl.buf
}

// errNotRead marks a child readLeaves left to relocate.
var errNotRead = errors.New("dirtree: not read in the batch")

// relocateHeld is relocate for a node the transaction holds. The
// transaction allocated its page, below limit, but its values and
// children may still need moving. own also moves a leaf that write-behind
// wrote already, before it changes again.
func (rl *relocator) relocateHeld(n *node, depth int, own func() (*node, error)) error {
	t := rl.t
	if n.leaf {
		for i := range n.vals {
			nv, err := fixed(rl.fix, n.vals[i])
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
		if err := rl.relocate(n.kids[i], depth+1, ownKid); err != nil {
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
