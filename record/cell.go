package record

import (
	"encoding/binary"
	"fmt"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Cell tags: the first byte of every cell.
const (
	// TagInline opens an inline cell: TagInline || value bytes.
	TagInline byte = 0x00
	// TagChain opens a chain cell: TagChain || size u64 || first page u64 ||
	// generation u64, little-endian.
	TagChain byte = 0x01
)

// ChainCellSize is the length of every chain cell.
const ChainCellSize = 1 + 8 + 8 + 8

// MaxSize is the largest value this package stores, in bytes. A larger
// value is refused with an error wrapping errs.ErrTooLarge, and a chain cell
// claiming a larger size is corrupt.
const MaxSize = 1 << 40

// sizeLimit is the largest value Put and PutReader accept. It is MaxSize
// except in tests, which lower it to exercise the limit cheaply.
var sizeLimit int64 = MaxSize

// chainCell is a decoded chain cell.
type chainCell struct {
	size  int64  // value length in bytes, 1..MaxSize
	first uint64 // first page of the chain (the first run's head)
	gen   uint64 // generation every page of the chain was written at
}

func (c chainCell) ref(pageNo uint64) pager.Ref { return pager.Ref{Page: pageNo, Gen: c.gen} }

func (c chainCell) encode() []byte {
	b := make([]byte, ChainCellSize)
	b[0] = TagChain
	binary.LittleEndian.PutUint64(b[1:], uint64(c.size))
	binary.LittleEndian.PutUint64(b[9:], c.first)
	binary.LittleEndian.PutUint64(b[17:], c.gen)
	return b
}

// inlineCell returns TagInline || value in a new slice.
func inlineCell(value []byte) []byte {
	cell := make([]byte, 1+len(value))
	cell[0] = TagInline
	copy(cell[1:], value)
	return cell
}

// badCell reports a cell that is malformed on its own. No page is named: the
// cell's tree page is known only to the caller.
func badCell(format string, args ...any) error {
	return fmt.Errorf("record: malformed cell: %s: %w", fmt.Sprintf(format, args...), errs.ErrCorrupt)
}

// decodeCell splits cell into its inline value (inline true) or its chain
// description, checking everything that can be checked without a page.
func decodeCell(cell []byte) (value []byte, c chainCell, inline bool, err error) {
	if len(cell) == 0 {
		return nil, c, false, badCell("empty")
	}
	switch cell[0] {
	case TagInline:
		return cell[1:], c, true, nil
	case TagChain:
	default:
		return nil, c, false, badCell("unknown tag 0x%02x", cell[0])
	}
	if len(cell) != ChainCellSize {
		return nil, c, false, badCell("chain cell of %d bytes, want %d", len(cell), ChainCellSize)
	}
	size := binary.LittleEndian.Uint64(cell[1:])
	c = chainCell{
		size:  int64(size),
		first: binary.LittleEndian.Uint64(cell[9:]),
		gen:   binary.LittleEndian.Uint64(cell[17:]),
	}
	if size == 0 || size > MaxSize {
		return nil, c, false, badCell("chain of %d bytes, want 1..%d", size, uint64(MaxSize))
	}
	if c.first < pager.FirstDataPage {
		return nil, c, false, badCell("chain starts at page %d", c.first)
	}
	return nil, c, false, nil
}

// Inline returns the value of an inline cell, capped so that appending to it
// cannot reach past the cell, and false for any other cell.
func Inline(cell []byte) ([]byte, bool) {
	if len(cell) == 0 || cell[0] != TagInline {
		return nil, false
	}
	return cell[1:len(cell):len(cell)], true
}

// Size returns the length in bytes of the value cell describes, without
// reading any page.
func Size(cell []byte) (int64, error) {
	value, c, inline, err := decodeCell(cell)
	if err != nil {
		return 0, err
	}
	if inline {
		return int64(len(value)), nil
	}
	return c.size, nil
}
