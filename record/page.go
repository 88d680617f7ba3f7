package record

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Chain page layout (FORMAT.md §10.4.2). Every chain
// page's payload starts with this header; value bytes fill the rest.
//
//	offset size field
//	0      1    type: pager.TypeChain
//	1      1    role: roleHead (first page of a run) or roleCont
//	2      2    used: value bytes on this page (data, except on the last page)
//	4      4    head: run length in pages; cont: index of the page in its run
//	8      8    owner: the chain's first page, the same on every page
//	16     8    head: first page of the next run, 0 for the last run; cont: zero
const (
	headerSize = 24
	roleHead   = 1
	roleCont   = 2
)

// Run lengths, in pages. Every run holds at most MaxRunPages pages, and
// every run but the last holds at least minRunPages, so a reader may fetch
// the first min(minRunPages, pages left) pages of a run together with its
// head before it has read the head.
const (
	MaxRunPages = 1024
	minRunPages = 16
)

// geometry is the split of a page payload into header and value bytes.
type geometry struct {
	payload int // bytes per page payload
	data    int // value bytes per chain page: payload - headerSize
}

func geometryOf(r pager.Reader) (geometry, error) {
	p := r.PayloadSize()
	if p <= headerSize || p-headerSize > math.MaxUint16 {
		return geometry{}, fmt.Errorf("record: page payload of %d bytes cannot hold a chain page: %w", p, errs.ErrInvalid)
	}
	return geometry{payload: p, data: p - headerSize}, nil
}

// pagesFor returns the number of chain pages that hold size value bytes.
func (g geometry) pagesFor(size int64) int64 { return (size + int64(g.data) - 1) / int64(g.data) }

// lastData returns how many value bytes the last page of a size-byte chain holds.
func (g geometry) lastData(size int64) int { return int(size - (g.pagesFor(size)-1)*int64(g.data)) }

// used returns how many value bytes chain page index (0-based) of a
// size-byte chain holds.
func (g geometry) used(index, size int64) int {
	if index == g.pagesFor(size)-1 {
		return g.lastData(size)
	}
	return g.data
}

// putUsed records in page p that it holds n value bytes.
func putUsed(p []byte, n int) { binary.LittleEndian.PutUint16(p[2:], uint16(n)) }

// putHead writes the header of a run's head page, except its used count.
func putHead(p []byte, runLen int, owner, next uint64) {
	p[0], p[1] = pager.TypeChain, roleHead
	binary.LittleEndian.PutUint32(p[4:], uint32(runLen))
	binary.LittleEndian.PutUint64(p[8:], owner)
	binary.LittleEndian.PutUint64(p[16:], next)
}

// putCont writes the header of a continuation page, except its used count.
func putCont(p []byte, index int, owner uint64) {
	p[0], p[1] = pager.TypeChain, roleCont
	binary.LittleEndian.PutUint32(p[4:], uint32(index))
	binary.LittleEndian.PutUint64(p[8:], owner)
	binary.LittleEndian.PutUint64(p[16:], 0)
}

// checkCommon checks the fields every chain page shares; used is the number
// of value bytes the page must hold.
func checkCommon(p []byte, pageNo uint64, role byte, used int, c chainCell) error {
	if p[0] != pager.TypeChain {
		return errs.Corrupt(pageNo, "chain page has type %d", p[0])
	}
	if p[1] != role {
		return errs.Corrupt(pageNo, "chain page has role %d, want %d", p[1], role)
	}
	if got := int(binary.LittleEndian.Uint16(p[2:])); got != used {
		return errs.Corrupt(pageNo, "chain page holds %d value bytes, want %d for the chain's size", got, used)
	}
	if owner := binary.LittleEndian.Uint64(p[8:]); owner != c.first {
		return errs.Corrupt(pageNo, "chain page belongs to the chain at page %d, not %d", owner, c.first)
	}
	return nil
}

// checkHead checks the head of a run at pageNo when pagesLeft pages of the
// chain (this run's included) remain, and returns the run's length and the
// next run's first page.
func checkHead(p []byte, g geometry, pageNo uint64, c chainCell, pagesLeft int64) (runLen int, next uint64, err error) {
	used := g.used(g.pagesFor(c.size)-pagesLeft, c.size)
	if err := checkCommon(p, pageNo, roleHead, used, c); err != nil {
		return 0, 0, err
	}
	n := int64(binary.LittleEndian.Uint32(p[4:]))
	next = binary.LittleEndian.Uint64(p[16:])
	switch {
	case n < 1 || n > MaxRunPages:
		return 0, 0, errs.Corrupt(pageNo, "run of %d pages, want 1..%d", n, MaxRunPages)
	case pageNo > math.MaxUint64-uint64(n):
		return 0, 0, errs.Corrupt(pageNo, "run of %d pages runs past the last page number", n)
	case next == 0 && n != pagesLeft:
		return 0, 0, errs.Corrupt(pageNo, "last run has %d pages, but %d remain for the chain's size", n, pagesLeft)
	case next != 0 && n >= pagesLeft:
		return 0, 0, errs.Corrupt(pageNo, "run of %d pages followed by another, but only %d remain for the chain's size", n, pagesLeft)
	case next != 0 && n < minRunPages:
		return 0, 0, errs.Corrupt(pageNo, "run of %d pages is not the last but shorter than %d", n, minRunPages)
	case next != 0 && next < pager.FirstDataPage:
		return 0, 0, errs.Corrupt(pageNo, "next run at page %d", next)
	}
	return int(n), next, nil
}

// checkCont checks page index of the run whose head is head; used is the
// number of value bytes it must hold.
func checkCont(p []byte, head uint64, index, used int, c chainCell) error {
	pageNo := head + uint64(index)
	if err := checkCommon(p, pageNo, roleCont, used, c); err != nil {
		return err
	}
	if got := binary.LittleEndian.Uint32(p[4:]); got != uint32(index) {
		return errs.Corrupt(pageNo, "chain page says it is page %d of its run, but it is page %d of the run at page %d", got, index, head)
	}
	if binary.LittleEndian.Uint64(p[16:]) != 0 {
		return errs.Corrupt(pageNo, "reserved chain header bytes are not zero")
	}
	return nil
}

// checkPadding checks that the bytes after the value on the chain's last
// page, which holds dataLen value bytes, are zero.
func checkPadding(p []byte, pageNo uint64, dataLen int) error {
	pad := p[headerSize+dataLen:]
	var acc uint64
	for len(pad) >= 32 {
		acc |= binary.LittleEndian.Uint64(pad) | binary.LittleEndian.Uint64(pad[8:]) |
			binary.LittleEndian.Uint64(pad[16:]) | binary.LittleEndian.Uint64(pad[24:])
		pad = pad[32:]
	}
	for _, b := range pad {
		acc |= uint64(b)
	}
	if acc != 0 {
		return errs.Corrupt(pageNo, "bytes after the value on the chain's last page are not zero")
	}
	return nil
}
