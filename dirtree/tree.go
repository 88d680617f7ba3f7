package dirtree

import (
	"fmt"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Tree is a B+tree rooted at one page. A read-only Tree (Open) reads
// committed pages only. A writable Tree (OpenWritable) lives within one
// transaction: it copies on write every committed page it changes, rewrites
// in place the pages the transaction already wrote, and keeps the nodes it
// changed decoded in memory until Flush or Spill writes them.
//
// After a write method (Put, Delete, Drop, Flush, Spill) returns an error
// the tree may be half-changed; the transaction must be rolled back.
type Tree struct {
	r       pager.Reader
	w       pager.Writer // nil when read-only
	gen     uint64       // generation being written
	payload int
	root    pager.Ref
	nodes   map[uint64]*node // owned nodes by page number
	mod     uint64           // bumped by every change, for cursors
	buf     []byte           // encode buffer
	scratch []byte           // Get's page buffer (see SetScratch)
	bw      behindWriter     // w's write-behind side, when it has one

	// failed is the error of a Put, Delete or Drop that failed after it
	// began to change the tree (reading a damaged page, say): the held
	// nodes may then be half changed, so every later change and write
	// fails with it. Lookups still work.
	failed error

	// rawUsed remembers the bytes committed leaves' cells take, for
	// compactLeaves: a committed page never changes, and a leaf that stays
	// under 7/10 full looks at the same siblings at every change.
	rawUsed map[pager.Ref]int
}

// SetScratch gives the tree a buffer of at least one payload that Get
// decrypts pages into when the page cache does not hold them, instead of
// allocating a page per lookup. Values Get returns may point into it (they
// are valid until the next call on the tree anyway); the caller may reuse
// the buffer once it stops using the tree.
func (t *Tree) SetScratch(b []byte) {
	if len(b) >= t.payload {
		t.scratch = b[:t.payload]
	}
}

// readScratch reads ref for a lookup: into the scratch buffer when the
// reader can, else as readRaw does.
func (t *Tree) readScratch(ref pager.Ref) (rawPage, error) {
	ir, ok := t.r.(intoReader)
	if !ok {
		return t.readRaw(ref)
	}
	if t.scratch == nil {
		t.scratch = make([]byte, t.payload)
	}
	b, err := ir.PageInto(ref, t.scratch)
	if err != nil {
		return rawPage{ref: ref}, err
	}
	return openRaw(ref, b)
}

// Open returns a read-only tree rooted at root; a zero root is an empty tree.
func Open(r pager.Reader, root pager.Ref) *Tree {
	return &Tree{r: r, payload: r.PayloadSize(), root: root}
}

// OpenWritable returns a tree rooted at root that changes within the
// transaction w writes (at generation w.Gen()); a zero root is an empty
// tree. A root written by this same transaction (root.Gen == w.Gen(), e.g.
// by an earlier Tree's Flush) is updated in place. At most one writable
// Tree may be open on a root at a time: two would share pages without
// sharing their in-memory nodes.
func OpenWritable(w pager.Writer, root pager.Ref) *Tree {
	t := &Tree{r: w, w: w, gen: w.Gen(), payload: w.PayloadSize(), root: root, nodes: map[uint64]*node{}}
	if bw, ok := w.(behindWriter); ok && bw.Behind() != nil {
		t.bw = bw
	}
	return t
}

// Get returns the value stored under key. The slice is shared with the
// tree or the page cache: the caller must not modify it, and it stays
// valid only until the next call on the tree (copy it to keep it).
func (t *Tree) Get(key []byte) (val []byte, ok bool, err error) {
	ref := t.root
	for depth := 0; !ref.IsZero(); depth++ {
		if depth > maxDepth {
			return nil, false, errs.Corrupt(ref.Page, "tree deeper than %d levels", maxDepth)
		}
		if n := t.owned(ref); n != nil {
			i, found := n.search(key)
			if n.leaf {
				if !found {
					return nil, false, nil
				}
				return n.vals[i], true, nil
			}
			ref = n.kids[i]
			continue
		}
		p, err := t.readScratch(ref)
		if err != nil {
			return nil, false, err
		}
		i, found, err := p.search(key)
		if err != nil || (p.leaf && !found) {
			return nil, false, err
		}
		if p.leaf {
			_, v, err := p.leafCell(i)
			return v, err == nil, err
		}
		if ref, err = p.child(i); err != nil {
			return nil, false, err
		}
	}
	return nil, false, nil
}

// owned returns the in-memory node for ref, if the transaction holds it.
func (t *Tree) owned(ref pager.Ref) *node {
	if t.nodes == nil || ref.Gen != t.gen {
		return nil
	}
	return t.nodes[ref.Page]
}

func (t *Tree) readRaw(ref pager.Ref) (rawPage, error) {
	b, err := t.r.Page(ref)
	if err != nil {
		return rawPage{ref: ref}, err
	}
	return openRaw(ref, b)
}

// Put stores val under key, replacing any value there. old is the replaced
// value: bytes the tree no longer references and nobody writes to, so the
// caller may keep it. A key longer than MaxKey or a value longer than MaxValue
// fails with an error wrapping errs.ErrTooLarge.
func (t *Tree) Put(key, val []byte) (old []byte, replaced bool, err error) {
	if err := t.writable(); err != nil {
		return nil, false, err
	}
	if mk := MaxKey(t.payload); len(key) > mk {
		return nil, false, fmt.Errorf("dirtree: key of %d bytes, maximum %d: %w", len(key), mk, errs.ErrTooLarge)
	}
	if mv := MaxValue(t.payload, len(key)); len(val) > mv {
		return nil, false, fmt.Errorf("dirtree: value of %d bytes beside a %d-byte key, maximum %d: %w",
			len(val), len(key), mv, errs.ErrTooLarge)
	}
	t.mod++
	old, replaced, err = t.putRoot(key, val)
	if err != nil {
		t.failed = err
		return nil, false, err
	}
	_ = t.writeBehind() // a failed write fails the commit (behindWriter)
	return old, replaced, nil
}

func (t *Tree) putRoot(key, val []byte) (old []byte, replaced bool, err error) {
	if t.root.IsZero() {
		n, err := t.newNode(true)
		if err != nil {
			return nil, false, err
		}
		k, v := ownedCell(key, val)
		n.insertLeaf(0, k, v)
		t.root = n.ref(t.gen)
		return nil, false, nil
	}
	root, err := t.own(t.root)
	if err != nil {
		return nil, false, err
	}
	t.root = root.ref(t.gen)
	if old, replaced, err = t.put(root, key, val, 0); err != nil {
		return nil, false, err
	}
	return old, replaced, t.fixRoot(key, true)
}

func (t *Tree) put(n *node, key, val []byte, depth int) (old []byte, replaced bool, err error) {
	if n.leaf {
		i, found := n.search(key)
		if found {
			// The replaced bytes are never written to (node.go), so the
			// caller may keep them without a copy.
			old = n.vals[i]
			if old == nil {
				old = []byte{}
			}
			_, v := ownedCell(nil, val)
			n.setVal(i, v)
			t.touched(n)
			return old, true, nil
		}
		k, v := ownedCell(key, val)
		n.insertLeaf(i, k, v)
		t.touched(n)
		return nil, false, nil
	}
	if depth >= maxDepth {
		return nil, false, errs.Corrupt(n.pgno, "tree deeper than %d levels", maxDepth)
	}
	i, _ := n.search(key)
	child, err := t.ownChild(n, i)
	if err != nil {
		return nil, false, err
	}
	before := child.used
	if old, replaced, err = t.put(child, key, val, depth+1); err != nil {
		return nil, false, err
	}
	return old, replaced, t.fixChild(n, i, before, key, true)
}

// Delete removes key. old is a copy of the value it held; ok is false (and
// nothing changes) when the key was absent.
func (t *Tree) Delete(key []byte) (old []byte, ok bool, err error) {
	if err := t.writable(); err != nil {
		return nil, false, err
	}
	v, ok, err := t.Get(key)
	if err != nil || !ok {
		return nil, false, err
	}
	old = append([]byte{}, v...)
	t.mod++
	if err := t.delRoot(key); err != nil {
		t.failed = err
		return nil, false, err
	}
	_ = t.writeBehind() // a failed write fails the commit (behindWriter)
	return old, true, nil
}

func (t *Tree) delRoot(key []byte) error {
	root, err := t.own(t.root)
	if err != nil {
		return err
	}
	t.root = root.ref(t.gen)
	if err := t.del(root, key, 0); err != nil {
		return err
	}
	return t.fixRoot(key, false)
}

func (t *Tree) del(n *node, key []byte, depth int) error {
	if n.leaf {
		i, found := n.search(key)
		if !found {
			return errs.Corrupt(n.pgno, "key found by lookup is missing from its leaf")
		}
		n.removeLeaf(i)
		t.touched(n)
		return nil
	}
	if depth >= maxDepth {
		return errs.Corrupt(n.pgno, "tree deeper than %d levels", maxDepth)
	}
	i, _ := n.search(key)
	child, err := t.ownChild(n, i)
	if err != nil {
		return err
	}
	before := child.used
	if err := t.del(child, key, depth+1); err != nil {
		return err
	}
	return t.fixChild(n, i, before, key, false)
}

func (t *Tree) writable() error {
	if t.w == nil {
		return fmt.Errorf("dirtree: tree opened read-only: %w", errs.ErrReadOnly)
	}
	if t.failed != nil {
		return fmt.Errorf("dirtree: an earlier change failed part way, so the tree may be half changed and is not written: %w", t.failed)
	}
	return nil
}

// own returns the node for ref as one the transaction may change: the
// node already held, or the page decoded and, if an earlier commit wrote
// it, moved to a freshly allocated page (copy on write; the old page is
// freed).
func (t *Tree) own(ref pager.Ref) (*node, error) {
	if n := t.owned(ref); n != nil {
		if n.early {
			return n, t.move(n)
		}
		return n, nil
	}
	b, err := t.r.Page(ref)
	if err != nil {
		return nil, err
	}
	n, err := decode(ref, b, t.payload)
	if err != nil {
		return nil, err
	}
	if ref.Gen != t.gen {
		if n.pgno, err = t.w.Alloc(1); err != nil {
			return nil, err
		}
		t.w.Free(ref)
	}
	n.changed = true
	t.nodes[n.pgno] = n
	return n, nil
}

// move gives held node n, which write-behind already wrote, a new page
// before it changes again, and frees the page written (it becomes free when
// the transaction commits). So a transaction seals each page number once at
// its generation (FORMAT.md §8), write-behind or not: a copy of the page
// taken in the middle of the transaction never passes for a later one.
// Its parent, changed too, then points at the new page (ownChild, Put).
func (t *Tree) move(n *node) error {
	pgno, err := t.w.Alloc(1)
	if err != nil {
		return err
	}
	t.w.Free(n.ref(t.gen))
	delete(t.nodes, n.pgno)
	n.pgno, n.early, n.changed = pgno, false, true
	t.nodes[pgno] = n
	return nil
}

// ownChild owns child i of n and points n at its (possibly new) page.
func (t *Tree) ownChild(n *node, i int) (*node, error) {
	c, err := t.own(n.kids[i])
	if err != nil {
		return nil, err
	}
	if r := c.ref(t.gen); n.kids[i] != r {
		n.kids[i] = r
		n.changed = true
	}
	return c, nil
}

// newNode allocates an empty owned node.
func (t *Tree) newNode(leaf bool) (*node, error) {
	pgno, err := t.w.Alloc(1)
	if err != nil {
		return nil, err
	}
	n := &node{pgno: pgno, leaf: leaf, changed: true}
	t.nodes[pgno] = n
	return n, nil
}

// freeNode releases an owned node the tree no longer references.
func (t *Tree) freeNode(n *node) {
	delete(t.nodes, n.pgno)
	t.w.Free(n.ref(t.gen))
}
