package dirtree

import (
	"bytes"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Cursor walks a tree in key order, forward (First, Seek, Next) or backward
// (Last, SeekLast, Prev). It holds only the path it is on, one node per
// level. If the tree changes between two calls (a Put or Delete on the same
// Tree, even of the key just returned), the next call finds its place again:
// the first key after (Next) or the last key before (Prev) the last one
// returned.
//
// Returned slices must not be modified and are valid until the next call on
// the cursor or the tree. ok is false when there are no more keys; a false
// ok with a nil error is the normal end.
type Cursor struct {
	t       *Tree
	stack   []frame
	mod     uint64 // t.mod when the stack was built
	stale   bool   // the stack must be rebuilt from the resume point
	started bool   // a First or Seek has been made
	resume  []byte // where Next or Prev resumes after a change: the last key
	excl    bool   // returned, exclusive; or the key of a seek that found nothing

	pf        *prefetcher // read-ahead of leaves (read-only trees), or nil
	leafDepth int         // stack index of the leaf level, once a leaf was reached

	// The bounds the separators on the path give the leaf's keys (FORMAT.md
	// §10.3.4): computed once per leaf reached (pushes counts frames pushed,
	// boundsAt is its value when they were), then two comparisons a key.
	pushes, boundsAt uint64
	lo, hi           []byte
	hasLo, hasHi     bool
}

// frame is one level of a cursor's path: an owned node or a raw page, and
// the position in it (a cell for a leaf, a child for a branch).
type frame struct {
	n   *node
	p   rawPage
	i   int
	own bool // p is in a read-ahead buffer of the cursor's, not a shared page
}

func (f *frame) pgno() uint64 {
	if f.n != nil {
		return f.n.pgno
	}
	return f.p.ref.Page
}

func (f *frame) leaf() bool {
	if f.n != nil {
		return f.n.leaf
	}
	return f.p.leaf
}

// count returns the number of cells (leaf) or children (branch).
func (f *frame) count() int {
	if f.n != nil {
		if f.n.leaf {
			return len(f.n.keys)
		}
		return len(f.n.kids)
	}
	if f.p.leaf {
		return f.p.n
	}
	return f.p.n + 1
}

// sep returns separator j of a branch frame.
func (f *frame) sep(j int) ([]byte, error) {
	if f.n != nil {
		return f.n.keys[j], nil
	}
	return f.p.key(j)
}

func (f *frame) child() (pager.Ref, error) {
	if f.n != nil {
		return f.n.kids[f.i], nil
	}
	return f.p.child(f.i)
}

func (f *frame) cell() (key, val []byte, err error) {
	if f.n != nil {
		return f.n.keys[f.i], f.n.vals[f.i], nil
	}
	return f.p.leafCell(f.i)
}

func (f *frame) search(key []byte) (int, bool, error) {
	if f.n != nil {
		i, found := f.n.search(key)
		return i, found, nil
	}
	return f.p.search(key)
}

// Cursor returns a cursor over t, positioned nowhere.
func (t *Tree) Cursor() *Cursor { return &Cursor{t: t, pf: newPrefetcher(t)} }

// Close hands the cursor's read-ahead buffers to later cursors. Neither
// the cursor nor any slice it returned may be used afterwards. Calling it
// is optional: an unclosed cursor's buffers are left to the garbage
// collector.
func (c *Cursor) Close() {
	if c.pf != nil {
		c.pf.close()
		c.pf = nil
	}
	c.stack = nil
}

func (t *Tree) frameFor(ref pager.Ref) (frame, error) {
	if n := t.owned(ref); n != nil {
		return frame{n: n}, nil
	}
	p, err := t.readRaw(ref)
	return frame{p: p}, err
}

// First moves to the smallest key.
func (c *Cursor) First() (key, val []byte, ok bool, err error) {
	return c.seek(nil, false)
}

// Seek moves to the first key >= key.
func (c *Cursor) Seek(key []byte) (k, val []byte, ok bool, err error) {
	return c.seek(key, false)
}

// Next moves to the key after the last one returned; on a cursor not yet
// positioned it is First.
func (c *Cursor) Next() (key, val []byte, ok bool, err error) {
	if !c.started {
		return c.First()
	}
	if c.stale || c.mod != c.t.mod {
		return c.seek(c.resume, c.excl)
	}
	if len(c.stack) == 0 {
		return nil, nil, false, nil // at the end
	}
	c.stack[len(c.stack)-1].i++
	return c.settle()
}

// seek descends to the first key >= key (> key when excl is set).
func (c *Cursor) seek(key []byte, excl bool) ([]byte, []byte, bool, error) {
	ref := c.restart(key, excl)
	for !ref.IsZero() {
		if len(c.stack) > maxDepth {
			return c.fail(errs.Corrupt(ref.Page, "tree deeper than %d levels", maxDepth))
		}
		f, err := c.t.frameFor(ref)
		if err != nil {
			return c.fail(err)
		}
		i, found, err := f.search(c.resume)
		if err != nil {
			return c.fail(err)
		}
		if found && excl {
			i++
		}
		f.i = i
		c.push(f)
		if f.leaf() {
			c.leafDepth = len(c.stack) - 1
			break
		}
		if ref, err = f.child(); err != nil {
			return c.fail(err)
		}
	}
	return c.settle()
}

// settle returns the cell under the leaf frame, first moving to the next
// leaf when the position is past the leaf's end.
func (c *Cursor) settle() ([]byte, []byte, bool, error) {
	for len(c.stack) > 0 && c.stack[len(c.stack)-1].i >= c.stack[len(c.stack)-1].count() {
		// Pop exhausted levels, step the parent, descend leftmost.
		c.stack = c.stack[:len(c.stack)-1]
		if len(c.stack) == 0 {
			break
		}
		c.stack[len(c.stack)-1].i++
		if err := c.descendLeftmost(); err != nil {
			return c.fail(err)
		}
	}
	if len(c.stack) == 0 {
		return nil, nil, false, nil
	}
	top := &c.stack[len(c.stack)-1]
	k, v, err := top.cell()
	if err != nil {
		return c.fail(err)
	}
	// Keys must come out strictly increasing. Checking it costs one
	// comparison and stops a corrupt tree whose pages share subtrees from
	// making a scan endless.
	if cmp := bytes.Compare(k, c.resume); cmp < 0 || (cmp == 0 && c.excl) {
		return c.fail(errs.Corrupt(top.pgno(), "key %d of the leaf is out of order with the keys before it", top.i))
	}
	if err := c.inBounds(k); err != nil {
		return c.fail(err)
	}
	c.resume = append(c.resume[:0], k...)
	c.excl = true
	return k, v, true, nil
}

// restart empties the path and records key as the resume point; it returns
// the root to descend from.
func (c *Cursor) restart(key []byte, excl bool) pager.Ref {
	c.resume = append(c.resume[:0], key...) // key may be c.resume itself
	c.excl, c.started, c.stale = excl, true, false
	c.stack = c.stack[:0]
	c.mod = c.t.mod
	return c.t.root
}

// descendLeftmost extends the stack from the top branch frame's current
// child down to a leaf, taking the first entry at every level. If the top
// frame is exhausted it does nothing (settle pops it).
func (c *Cursor) descendLeftmost() error {
	for {
		top := &c.stack[len(c.stack)-1]
		if top.leaf() || top.i >= top.count() {
			return nil
		}
		ref, err := top.child()
		if err != nil {
			return err
		}
		if len(c.stack) > maxDepth {
			return errs.Corrupt(ref.Page, "tree deeper than %d levels", maxDepth)
		}
		f, ok, err := c.prefetched(top, ref)
		if !ok {
			f, err = c.t.frameFor(ref)
		}
		if err != nil {
			return err
		}
		c.push(f)
	}
}

// prefetched returns the leaf want, the current child of the raw branch
// frame top, from the read-ahead, when the cursor has one and top is the
// level above the leaves. ok is false when the caller must read the page.
func (c *Cursor) prefetched(top *frame, want pager.Ref) (f frame, ok bool, err error) {
	if c.pf == nil || top.n != nil || len(c.stack) != c.leafDepth || c.leafDepth == 0 {
		return frame{}, false, nil
	}
	b, ref, err, ok := c.pf.leaf(c.stack, top.i)
	if ok && ref != want {
		// The batch named this child from its own read of the parent page,
		// and a file changed under us can give two reads of one page two
		// authentic contents: the cursor follows only its own frame.
		return frame{}, false, nil
	}
	if !ok || err != nil {
		return frame{}, ok, err
	}
	p, err := openRaw(ref, b)
	if err != nil || !p.leaf {
		return frame{}, false, nil // let the ordinary read report it
	}
	return frame{p: p, own: true}, true, nil
}

// Owned reports whether the val the last call returned lies in the cursor's
// own decrypted copy of its leaf, which nothing else reads: a caller may
// then lend val (capped to its length) to code that changes its bytes, for
// the cursor reads a leaf's cells only through their keys and offsets. Like
// every returned slice it is valid until the next call.
func (c *Cursor) Owned() bool {
	return len(c.stack) > 0 && c.stack[len(c.stack)-1].own
}

// push adds a frame to the path.
func (c *Cursor) push(f frame) {
	c.stack = append(c.stack, f)
	c.pushes++
}

// inBounds checks that k, a key of the leaf on top of the path, lies within
// the bounds the separators above it give: a lookup follows the same
// separators, so a key outside them is one a lookup could not find, and a
// scan that yielded it would disagree with every lookup (FORMAT.md §10.3.4).
func (c *Cursor) inBounds(k []byte) error {
	if c.boundsAt != c.pushes {
		if err := c.computeBounds(); err != nil {
			return err
		}
	}
	if (c.hasLo && bytes.Compare(k, c.lo) < 0) || (c.hasHi && bytes.Compare(k, c.hi) >= 0) {
		leaf := &c.stack[len(c.stack)-1]
		return errs.Corrupt(leaf.pgno(), "key %d of the leaf lies outside the bounds its parents' separators give", leaf.i)
	}
	return nil
}

// computeBounds gathers, over the branches on the path, the greatest lower
// and the least upper bound their separators put on the leaf's keys.
func (c *Cursor) computeBounds() error {
	c.hasLo, c.hasHi = false, false
	for j := 0; j < len(c.stack)-1; j++ {
		f := &c.stack[j]
		if f.i > 0 {
			s, err := f.sep(f.i - 1)
			if err != nil {
				return err
			}
			if !c.hasLo || bytes.Compare(s, c.lo) > 0 {
				c.lo, c.hasLo = s, true
			}
		}
		if f.i < f.count()-1 {
			s, err := f.sep(f.i)
			if err != nil {
				return err
			}
			if !c.hasHi || bytes.Compare(s, c.hi) < 0 {
				c.hi, c.hasHi = s, true
			}
		}
	}
	c.boundsAt = c.pushes
	return nil
}

// fail drops the cursor's path after an error; the resume point is kept,
// so a later Next retries from there.
func (c *Cursor) fail(err error) ([]byte, []byte, bool, error) {
	c.stack = c.stack[:0]
	c.stale = true
	return nil, nil, false, err
}

// Rest calls fn with the cells after the one last returned, in the leaf
// the cursor is on, in key order, until fn returns false: what a forward
// scan reaches next without reading another page. It does not move the
// cursor, and calls fn not at all if the tree changed since the last call.
// The cells are unchecked (the cursor checks each when it reaches it);
// fn must not keep the slices.
func (c *Cursor) Rest(fn func(key, val []byte) bool) {
	if c.stale || c.mod != c.t.mod || len(c.stack) == 0 {
		return
	}
	f := c.stack[len(c.stack)-1]
	if !f.leaf() {
		return
	}
	for f.i++; f.i < f.count(); f.i++ {
		k, v, err := f.cell()
		if err != nil || !fn(k, v) {
			return
		}
	}
}
