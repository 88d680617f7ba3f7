package dirtree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// This file reads node pages in place. FORMAT.md §10.3 is the
// specification; in short:
//
//	leaf:   [4]=4 [1]=0 [2:4]=count  slots u16×count  ... cells
//	        cell = keyLen u16, valLen u16, key, val
//	branch: [0]=3 [1]=0 [2:4]=count [4:20]=child 0  slots u16×count ... cells
//	        cell = child page u64, child gen u64, keyLen u16, key
//
// Branch cell i holds separator i and child i+1. Slots are sorted by key.

var le = binary.LittleEndian

// rawPage is a node page read straight from the pager, its header checked.
// Cells are checked as they are read, so a lookup touches only the cells
// its binary search visits.
type rawPage struct {
	b     []byte
	ref   pager.Ref
	leaf  bool
	n     int // cell count
	cells int // offset where the cell area may begin (end of slot array)
}

// openRaw checks the header of page ref's payload b.
func openRaw(ref pager.Ref, b []byte) (rawPage, error) {
	p := rawPage{b: b, ref: ref}
	if len(b) < leafHeader {
		return p, errs.Corrupt(ref.Page, "node page of %d bytes", len(b))
	}
	hdr := leafHeader
	switch b[0] {
	case pager.TypeLeaf:
		p.leaf = true
	case pager.TypeBranch:
		hdr = branchHeader
	default:
		return p, errs.Corrupt(ref.Page, "page type %d, want branch (3) or leaf (4)", b[0])
	}
	if b[1] != 0 {
		return p, errs.Corrupt(ref.Page, "reserved header byte is %#x, want 0", b[1])
	}
	p.n = int(le.Uint16(b[2:]))
	if p.n == 0 {
		return p, errs.Corrupt(ref.Page, "node has no cells")
	}
	p.cells = hdr + slotSize*p.n
	if p.cells > len(b) {
		return p, errs.Corrupt(ref.Page, "%d cells overflow a %d-byte page", p.n, len(b))
	}
	return p, nil
}

// cellAt returns the offset of cell i and checks that its fixed part lies
// in the cell area.
func (p *rawPage) cellAt(i, fixed int) (int, error) {
	off := int(le.Uint16(p.b[p.hdr()+slotSize*i:]))
	if off < p.cells || off+fixed > len(p.b) {
		return 0, errs.Corrupt(p.ref.Page, "cell %d at offset %d outside the cell area %d..%d", i, off, p.cells, len(p.b))
	}
	return off, nil
}

func (p *rawPage) hdr() int {
	if p.leaf {
		return leafHeader
	}
	return branchHeader
}

// key returns the key of cell i (leaf) or separator i (branch).
func (p *rawPage) key(i int) ([]byte, error) {
	if p.leaf {
		k, _, err := p.leafCell(i)
		return k, err
	}
	off, err := p.cellAt(i, branchCellFixed)
	if err != nil {
		return nil, err
	}
	k := int(le.Uint16(p.b[off+refSize:]))
	start := off + branchCellFixed
	end := start + k
	if end > len(p.b) {
		return nil, errs.Corrupt(p.ref.Page, "separator %d runs past the page end", i)
	}
	if mk := MaxKey(len(p.b)); mk >= 0 && k > mk {
		return nil, errs.Corrupt(p.ref.Page, "separator %d of %d bytes exceeds the maximum key (%d)", i, k, mk)
	}
	return p.b[start:end:end], nil
}

// leafCell returns the key and value of leaf cell i. Every read of a cell
// checks its lengths against the limits (FORMAT.md §10.3.2.3), so a reader
// that sees a cell sees the same verdict whatever it reads it for.
func (p *rawPage) leafCell(i int) (key, val []byte, err error) {
	off, err := p.cellAt(i, leafCellFixed)
	if err != nil {
		return nil, nil, err
	}
	k, v := int(le.Uint16(p.b[off:])), int(le.Uint16(p.b[off+2:]))
	kEnd := off + leafCellFixed + k
	vEnd := kEnd + v
	if vEnd > len(p.b) {
		return nil, nil, errs.Corrupt(p.ref.Page, "cell %d runs past the page end", i)
	}
	if mk := MaxKey(len(p.b)); mk >= 0 {
		if k > mk {
			return nil, nil, errs.Corrupt(p.ref.Page, "key %d of %d bytes exceeds the maximum key (%d)", i, k, mk)
		}
		if mv := MaxValue(len(p.b), k); v > mv {
			return nil, nil, errs.Corrupt(p.ref.Page, "value %d of %d bytes exceeds the maximum beside a %d-byte key (%d)", i, v, k, mv)
		}
	}
	return p.b[off+leafCellFixed : kEnd : kEnd], p.b[kEnd:vEnd:vEnd], nil
}

// child returns child i (0..n) of a branch page. A child written by a later
// generation than its parent cannot be genuine.
func (p *rawPage) child(i int) (pager.Ref, error) {
	at := 4
	if i > 0 {
		off, err := p.cellAt(i-1, branchCellFixed)
		if err != nil {
			return pager.Ref{}, err
		}
		at = off
	}
	r := pager.Ref{Page: le.Uint64(p.b[at:]), Gen: le.Uint64(p.b[at+8:])}
	if err := checkChildRef(p.ref, r); err != nil {
		return pager.Ref{}, err
	}
	return r, nil
}

func checkChildRef(parent, r pager.Ref) error {
	if r.Page == 0 {
		return errs.Corrupt(parent.Page, "child pointer to page 0")
	}
	if r.Gen > parent.Gen {
		return errs.Corrupt(parent.Page, "child %v is newer than its parent at gen %d", r, parent.Gen)
	}
	return nil
}

// search returns, for a leaf, the first cell whose key is >= key and whether
// it is equal; for a branch, the child to descend into (the number of
// separators <= key).
func (p *rawPage) search(key []byte) (int, bool, error) {
	lo, hi := 0, p.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		k, err := p.key(m)
		if err != nil {
			return 0, false, err
		}
		c := bytes.Compare(k, key)
		if c < 0 || (c == 0 && !p.leaf) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if !p.leaf || lo == p.n {
		return lo, false, nil
	}
	k, err := p.key(lo)
	return lo, err == nil && bytes.Equal(k, key), err
}

// parsePage decodes every cell of page ref into a node, copying the bytes.
// A broken header is returned as an error. A cell that cannot be read is
// skipped and described in problems; with overlap set, cells that share
// bytes are reported too. Ordering and sizes are checked by nodeProblems.
func parsePage(ref pager.Ref, b []byte, overlap bool) (n *node, problems []string, err error) {
	p, err := openRaw(ref, b)
	if err != nil {
		return nil, nil, err
	}
	// The node's cells alias the page: a pager.Reader's pages are never
	// modified nor reused, and a node never writes into a cell it holds.
	buf := b
	n = &node{pgno: ref.Page, leaf: p.leaf}
	// Room for a few inserts: a node is decoded to be changed.
	n.keys = make([][]byte, 0, p.n+4)
	if p.leaf {
		n.vals = make([][]byte, 0, p.n+4)
	} else {
		n.kids = make([]pager.Ref, 1, p.n+1)
		n.kids[0] = pager.Ref{Page: le.Uint64(buf[4:]), Gen: le.Uint64(buf[12:])}
	}
	type extent struct{ start, end int }
	var spans []extent
	for i := 0; i < p.n; i++ {
		var k, v []byte
		if p.leaf {
			k, v, err = p.leafCell(i)
		} else {
			k, err = p.key(i)
		}
		if err != nil {
			problems = append(problems, reason(err))
			continue
		}
		off := int(le.Uint16(buf[p.hdr()+slotSize*i:]))
		end := off + leafCellFixed + len(k) + len(v)
		if !p.leaf {
			end = off + branchCellFixed + len(k)
		}
		if overlap {
			spans = append(spans, extent{off, end})
		}
		n.keys = append(n.keys, k)
		if p.leaf {
			n.vals = append(n.vals, v)
		} else {
			n.kids = append(n.kids, pager.Ref{Page: le.Uint64(buf[off:]), Gen: le.Uint64(buf[off+8:])})
		}
	}
	if overlap {
		slices.SortFunc(spans, func(a, b extent) int { return a.start - b.start })
		for i := 1; i < len(spans); i++ {
			if spans[i].start < spans[i-1].end {
				problems = append(problems, fmt.Sprintf("cells overlap at offset %d", spans[i].start))
			}
		}
	}
	n.used = n.computeUsed()
	return n, problems, nil
}

// nodeProblems lists what is wrong with a decoded node taken alone: keys
// out of order, keys or cells over the size limits, more bytes than a page
// holds, bad child pointers. gen is the generation that wrote the node.
func nodeProblems(n *node, gen uint64, payloadSize int) []string {
	var problems []string
	maxKey := MaxKey(payloadSize)
	for i, k := range n.keys {
		if i > 0 && bytes.Compare(n.keys[i-1], k) >= 0 {
			problems = append(problems, fmt.Sprintf("key %d is not greater than key %d", i, i-1))
		}
		if len(k) > maxKey {
			problems = append(problems, fmt.Sprintf("key %d of %d bytes exceeds the maximum key (%d)", i, len(k), maxKey))
		}
		if n.leaf && slotSize+leafCellFixed+len(k)+len(n.vals[i]) > maxLeafCell(payloadSize) {
			problems = append(problems, fmt.Sprintf("cell %d exceeds the maximum cell size", i))
		}
	}
	if n.used > n.capacity(payloadSize) {
		problems = append(problems, fmt.Sprintf("cells use %d bytes, more than the page holds", n.used))
	}
	for _, r := range n.kids {
		if err := checkChildRef(pager.Ref{Page: n.pgno, Gen: gen}, r); err != nil {
			problems = append(problems, reason(err))
		}
	}
	return problems
}

// decode reads page ref into a node, rejecting anything malformed.
func decode(ref pager.Ref, b []byte, payloadSize int) (*node, error) {
	n, problems, err := parsePage(ref, b, false)
	if err != nil {
		return nil, err
	}
	if len(problems) == 0 {
		problems = nodeProblems(n, ref.Gen, payloadSize)
	}
	if len(problems) > 0 {
		return nil, errs.Corrupt(ref.Page, "%s", problems[0])
	}
	return n, nil
}

// encode writes n into dst (one payload), cells packed at the end in key
// order. n must fit.
func (n *node) encode(dst []byte) {
	hdr := leafHeader
	dst[0] = pager.TypeLeaf
	if !n.leaf {
		hdr = branchHeader
		dst[0] = pager.TypeBranch
		putRef(dst[4:], n.kids[0])
	}
	dst[1] = 0
	le.PutUint16(dst[2:], uint16(len(n.keys)))
	off := len(dst) - (n.used - slotSize*len(n.keys))
	// Header, slots and cells are written below and cover the page but
	// for the gap between slots and cells: only that needs zeroing.
	clear(dst[hdr+slotSize*len(n.keys) : off])
	for i, k := range n.keys {
		le.PutUint16(dst[hdr+slotSize*i:], uint16(off))
		if n.leaf {
			v := n.vals[i]
			le.PutUint16(dst[off:], uint16(len(k)))
			le.PutUint16(dst[off+2:], uint16(len(v)))
			off += leafCellFixed
			off += copy(dst[off:], k)
			off += copy(dst[off:], v)
		} else {
			putRef(dst[off:], n.kids[i+1])
			le.PutUint16(dst[off+refSize:], uint16(len(k)))
			off += branchCellFixed
			off += copy(dst[off:], k)
		}
	}
}

func putRef(b []byte, r pager.Ref) {
	le.PutUint64(b, r.Page)
	le.PutUint64(b[8:], r.Gen)
}

// reason returns the words of a *errs.PageError, or the error text.
func reason(err error) string {
	var pe *errs.PageError
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return err.Error()
}
