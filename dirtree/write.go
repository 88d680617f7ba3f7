package dirtree

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// This file moves nodes between memory and pages: Flush and Spill write
// the held nodes, Drop frees a whole tree.

// Flush writes every changed node to its page and returns the root (zero
// when the tree is empty). The nodes stay held, so the tree stays usable and
// later changes rewrite the same pages.
func (t *Tree) Flush() (root pager.Ref, err error) {
	if err := t.writable(); err != nil {
		return pager.Ref{}, err
	}
	if err := t.writeNodes(); err != nil {
		return pager.Ref{}, err
	}
	return t.root, nil
}

// Spill writes every changed node and drops all held nodes from memory, to
// bound the memory of a large transaction. Later access reads the pages
// back and updates them in place.
func (t *Tree) Spill() error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := t.writeNodes(); err != nil {
		return err
	}
	clear(t.nodes)
	return nil
}

// Dirty returns the number of nodes the transaction holds decoded in
// memory: the nodes it changed, flushed or not, since the last Spill.
func (t *Tree) Dirty() int { return len(t.nodes) }

func (t *Tree) writeNodes() error {
	if t.bw != nil && t.bw.Writing() {
		return t.queueChanged()
	}
	if t.buf == nil {
		t.buf = make([]byte, t.payload)
	}
	// In page order: a reproducible file, and neighbouring pages reach the
	// pager together.
	changed := make([]uint64, 0, len(t.nodes))
	for pgno, n := range t.nodes {
		if n.changed {
			changed = append(changed, pgno)
		}
	}
	slices.Sort(changed)
	if pw, ok := t.w.(pagesWriter); ok && len(changed) >= minBatchWrite {
		return t.writeBatched(pw, changed)
	}
	for _, pgno := range changed {
		n := t.nodes[pgno]
		if err := t.checkWrite(n); err != nil {
			return err
		}
		n.encode(t.buf)
		if err := t.w.WritePage(pgno, t.buf); err != nil {
			return err
		}
		n.changed = false
	}
	return nil
}

func (t *Tree) checkWrite(n *node) error {
	if n.used > n.capacity(t.payload) || len(n.keys) == 0 {
		return fmt.Errorf("dirtree: internal error: node %d holds %d cells in %d bytes", n.pgno, len(n.keys), n.used)
	}
	if n.early {
		// Changed after write-behind wrote it, without own moving it.
		return fmt.Errorf("dirtree: internal error: node %d would be written twice at generation %d", n.pgno, t.gen)
	}
	return nil
}

// pagesWriter is the optional pager.Writer method that seals several pages
// at once (on several cores) before writing them.
type pagesWriter interface {
	WritePages(pgnos []uint64, payloads [][]byte) error
}

// minBatchWrite is the fewest changed nodes worth a batched write, and
// writeBatch the most encoded at a time (bounding the memory it takes).
const (
	minBatchWrite = 16
	writeBatch    = 64
)

// encodeBufs recycles writeBatched's encode buffers across trees.
var encodeBufs sync.Pool // of *[]byte, writeBatch payloads each

// writeBatched encodes the changed nodes writeBatch at a time and hands
// each batch to pw, which seals them in parallel.
func (t *Tree) writeBatched(pw pagesWriter, changed []uint64) error {
	size := writeBatch * t.payload
	bp, ok := encodeBufs.Get().(*[]byte)
	if !ok || cap(*bp) < size {
		b := make([]byte, size)
		bp = &b
	}
	defer encodeBufs.Put(bp)
	buf := (*bp)[:size]
	payloads := make([][]byte, 0, writeBatch)
	for lo := 0; lo < len(changed); lo += writeBatch {
		batch := changed[lo:min(lo+writeBatch, len(changed))]
		payloads = payloads[:0]
		for i, pgno := range batch {
			n := t.nodes[pgno]
			if err := t.checkWrite(n); err != nil {
				return err
			}
			dst := buf[i*t.payload : (i+1)*t.payload]
			n.encode(dst)
			payloads = append(payloads, dst)
		}
		if err := pw.WritePages(batch, payloads); err != nil {
			return err
		}
		for _, pgno := range batch {
			t.nodes[pgno].changed = false
		}
	}
	return nil
}

// Drop frees every page of the tree, first calling fn on every value (so
// the caller can free what values point at). The tree is empty afterwards.
// If fn fails, Drop stops and returns its error.
func (t *Tree) Drop(fn func(val []byte) error) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.mod++
	if !t.root.IsZero() {
		if err := t.drop(t.root, 0, map[uint64]bool{}, fn); err != nil {
			t.failed = err
			return err
		}
	}
	t.root = pager.Ref{}
	clear(t.nodes)
	return nil
}

func (t *Tree) drop(ref pager.Ref, depth int, seen map[uint64]bool, fn func([]byte) error) error {
	if seen[ref.Page] {
		return errs.Corrupt(ref.Page, "page reached twice in one tree")
	}
	seen[ref.Page] = true
	if depth > maxDepth {
		return errs.Corrupt(ref.Page, "tree deeper than %d levels", maxDepth)
	}
	if n := t.owned(ref); n != nil {
		for _, v := range n.vals {
			if err := fn(v); err != nil {
				return err
			}
		}
		for _, k := range n.kids {
			if err := t.drop(k, depth+1, seen, fn); err != nil {
				return err
			}
		}
		t.freeNode(n)
		return nil
	}
	p, err := t.readRaw(ref)
	if err != nil {
		return err
	}
	if err := t.dropRaw(&p, depth, seen, fn); err != nil {
		return err
	}
	t.w.Free(ref)
	return nil
}

// dropRaw hands the values of a leaf page to fn, or drops the children
// of a branch page.
func (t *Tree) dropRaw(p *rawPage, depth int, seen map[uint64]bool, fn func([]byte) error) error {
	if p.leaf {
		for i := 0; i < p.n; i++ {
			_, v, err := p.leafCell(i)
			if err != nil {
				return err
			}
			if err := fn(v); err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; i <= p.n; i++ {
		k, err := p.child(i)
		if err != nil {
			return err
		}
		if err := t.drop(k, depth+1, seen, fn); err != nil {
			return err
		}
	}
	return nil
}

// behindWriter is the optional pager.Writer side of write-behind: a leaf
// that the transaction stopped changing is sealed and written on another
// core while the transaction goes on, instead of all at commit.
type behindWriter interface {
	// Behind returns the transaction's window of recently changed leaves,
	// shared by all its trees; nil turns write-behind off.
	Behind() *Behind
	// PageBuf returns a payload buffer for QueuePage.
	PageBuf() []byte
	// QueuePage takes payload (from PageBuf; the writer owns it now) to
	// seal and write as page pgno later, in the order queued. It returns an
	// error of an earlier queued write, if one failed. A failed write
	// fails every later call and the commit: the transaction cannot
	// commit a page that was not written.
	QueuePage(pgno uint64, payload []byte) error
	// QueueSealed is QueuePage sealing payload first, on the caller's
	// goroutine (payload is not retained): for a burst of pages the
	// caller would otherwise wait for.
	QueueSealed(pgno uint64, payload []byte) error
	// Writing reports whether queued pages may still be on their way:
	// until then a tree writes its pages itself (no page of it is
	// queued), and once it is true every page must go through the queue.
	Writing() bool
}

// Behind remembers the last leaves that Put and Delete changed in the
// trees of one transaction. A leaf that falls out of the window without
// having been changed again is written then (QueuePage), while the
// transaction goes on: under random writes most leaves a transaction
// changes are changed once, and sealing and writing them need not wait
// for the commit. A leaf changed again after its write moves to a new page
// first (own, move), as a committed page does: no page number is sealed
// twice at one generation.
type Behind struct {
	ring   []behindEntry // oldest at head
	head   int
	n      int
	seq    uint64
	window int
}

type behindEntry struct {
	t   *Tree
	n   *node
	seq uint64
}

// NewBehind returns a window of window leaves.
func NewBehind(window int) *Behind {
	return &Behind{ring: make([]behindEntry, window+1), window: window}
}

// touched notes that Put or Delete just changed leaf n.
func (t *Tree) touched(n *node) {
	if t.bw == nil {
		return
	}
	b := t.bw.Behind()
	b.seq++
	n.seq = b.seq
	if b.n == len(b.ring) {
		// Only if writeBehind failed and the transaction went on: forget
		// the oldest (it is written at Flush like any changed node).
		b.ring[b.head] = behindEntry{}
		b.head = (b.head + 1) % len(b.ring)
		b.n--
	}
	b.ring[(b.head+b.n)%len(b.ring)] = behindEntry{t: t, n: n, seq: b.seq}
	b.n++
}

// writeBehind queues the leaves that left the window unchanged since. It
// runs after an operation has left every tree whole. An error is not the
// operation's (it is done, and the tree consistent): the writer keeps it
// and the commit reports it, so it is only returned for the caller to
// stop early.
func (t *Tree) writeBehind() error {
	if t.bw == nil {
		return nil
	}
	b := t.bw.Behind()
	for b.n > b.window {
		e := b.ring[b.head]
		b.ring[b.head] = behindEntry{}
		b.head = (b.head + 1) % len(b.ring)
		b.n--
		if err := e.t.queueLeaf(e.n, e.seq); err != nil {
			return err
		}
	}
	return nil
}

// queueChanged hands every changed node to the background writer, in page
// order (behind the pages queued earlier, so a page queued twice ends up
// with the last payload), sealed here: a commit waits for the writer
// right after, so this goroutine seals while the writer writes.
func (t *Tree) queueChanged() error {
	if t.buf == nil {
		t.buf = make([]byte, t.payload)
	}
	changed := make([]*node, 0, len(t.nodes))
	for _, n := range t.nodes {
		if n.changed {
			changed = append(changed, n)
		}
	}
	slices.SortFunc(changed, func(a, b *node) int { return cmp.Compare(a.pgno, b.pgno) })
	for _, n := range changed {
		if err := t.checkWrite(n); err != nil {
			return err
		}
		n.encode(t.buf)
		if err := t.bw.QueueSealed(n.pgno, t.buf); err != nil {
			return err
		}
		n.changed = false
	}
	return nil
}

// queueLeaf hands leaf n to the background writer if it is still held, has
// not been changed since stamp seq, and fits its page.
func (t *Tree) queueLeaf(n *node, seq uint64) error {
	if n.seq != seq || !n.changed || !n.leaf || t.nodes[n.pgno] != n || t.checkWrite(n) != nil {
		return nil
	}
	buf := t.bw.PageBuf()
	n.encode(buf)
	n.changed = false
	if err := t.bw.QueuePage(n.pgno, buf); err != nil {
		n.changed = true
		return err
	}
	n.early = true
	return nil
}
