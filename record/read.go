package record

import (
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Value returns the whole value cell describes, in a new slice the caller
// owns. A value too large for a []byte on this platform fails with an error
// wrapping errs.ErrTooLarge; use NewReader for values that should not be
// held in memory at once.
func Value(r pager.Reader, cell []byte) ([]byte, error) {
	v, err := AppendValue([]byte{}, r, cell)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// AppendValue appends the whole value cell describes to dst and returns the
// extended slice, as Value does into a new one: a caller that reuses dst
// reads values without allocating. On error it returns dst unchanged.
func AppendValue(dst []byte, r pager.Reader, cell []byte) ([]byte, error) {
	value, c, inline, err := decodeCell(cell)
	if err != nil {
		return dst, err
	}
	if inline {
		return append(dst, value...), nil
	}
	if c.size > math.MaxInt-int64(len(dst)) {
		return dst, fmt.Errorf("record: value of %d bytes: %w", c.size, errs.ErrTooLarge)
	}
	wk, err := newWalker(r, c)
	if err != nil {
		return dst, err
	}
	defer wk.release()
	// Grow the result as pages arrive, at most doubling, rather than
	// trusting a size no page has confirmed yet: a damaged cell may claim
	// a terabyte.
	base := len(dst)
	out := slices.Grow(dst, int(min(c.size, initialValueCap)))
	for {
		pages, index, err := wk.batch()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return dst, err
		}
		got := len(out) - base
		if need := len(pages) / wk.g.payload * wk.g.data; cap(out)-len(out) < need {
			grow := min(c.size, max(2*int64(cap(out)-base), int64(got+need)))
			out = slices.Grow(out, int(grow)-got)
		}
		for i := range len(pages) / wk.g.payload {
			out = append(out, wk.data(pages, i, index)...)
		}
	}
}

// initialValueCap is how much Value allocates before any page has been read.
const initialValueCap = 1 << 20

// Reader streams one value. It holds at most 64 KiB (or one page, if
// larger) of decrypted pages, fetched with pager.Reader.ReadPages a batch
// of contiguous pages at a time, and checks every page before it hands out
// its bytes; one made by NewReaderOver holds instead the whole value read
// ahead, until it has handed it out or is moved. It implements io.Reader,
// io.WriterTo, io.Seeker and io.ReaderAt (see seek.go); it is not safe for
// concurrent use, ReadAt included. An error is sticky: once Read or
// WriteTo has failed, every later call fails the same way.
type Reader struct {
	size  int64
	left  int64  // value bytes not yet handed out
	cur   []byte // bytes of the current page (or inline value) not yet handed out
	wk    *walker
	pages []byte // the current batch
	index int64  // chain index of the batch's first page
	next  int    // next page of the batch to hand out
	err   error

	lent   *[]byte    // the value read ahead (NewReaderOver) that cur is in, until given back
	inline []byte     // the whole value of an inline cell, for Seek
	runs   []chainRun // the chain's runs read so far, for Seek and ReadAt
	heads  heads      // the heads of runs, against a next pointer that loops
}

// NewReader returns a Reader over the value cell describes. It reads no
// page until the first Read or WriteTo.
func NewReader(r pager.Reader, cell []byte) (*Reader, error) {
	value, c, inline, err := decodeCell(cell)
	if err != nil {
		return nil, err
	}
	if inline {
		return &Reader{size: int64(len(value)), left: int64(len(value)), cur: value, inline: value}, nil
	}
	wk, err := newWalker(r, c)
	if err != nil {
		return nil, err
	}
	return &Reader{size: c.size, left: c.size, wk: wk}, nil
}

// NewReaderOver returns a Reader over the value cell describes whose bytes
// Slot.Take returned in *val. ReadAt reads from *val while the Reader
// holds it; the Reader gives it back (Release) once it has handed out the
// last byte or is moved (Seek), and reads pages from then on. ok is false,
// and the buffer stays the caller's, if *val is not the size cell gives.
func NewReaderOver(r pager.Reader, cell []byte, val *[]byte) (rd *Reader, ok bool, err error) {
	_, c, inline, err := decodeCell(cell)
	if err != nil || inline || c.size != int64(len(*val)) {
		return nil, false, err
	}
	wk, err := newWalker(r, c)
	if err != nil {
		return nil, false, err
	}
	wk.release() // until the Reader is moved, it reads no page
	return &Reader{size: c.size, left: c.size, wk: wk, cur: *val, lent: val}, true, nil
}

// giveBack returns the buffer of a value read ahead, once nothing points
// into it.
func (rd *Reader) giveBack() {
	if rd.lent != nil {
		rd.cur = nil
		Release(rd.lent)
		rd.lent = nil
	}
}

// Size returns the length of the whole value in bytes.
func (rd *Reader) Size() int64 { return rd.size }

// fill makes rd.cur non-empty, reading the next batch if the current one is
// used up. It returns io.EOF at the end of the value.
func (rd *Reader) fill() error {
	for len(rd.cur) == 0 {
		if rd.err != nil || rd.left == 0 {
			rd.giveBack()
			if rd.wk != nil {
				rd.wk.release()
				rd.pages = nil
			}
			if rd.err != nil {
				return rd.err
			}
			return io.EOF
		}
		if rd.next == len(rd.pages)/max(1, rd.payload()) {
			rd.pages, rd.index, rd.err = rd.wk.batch()
			if rd.err == io.EOF {
				// The walker ran out of pages before the size was reached;
				// it checks sizes against run lengths, so this is a bug.
				rd.err = errs.Corrupt(rd.wk.c.first, "chain ended %d bytes early", rd.left)
			}
			rd.next = 0
			continue
		}
		rd.cur = rd.wk.data(rd.pages, rd.next, rd.index)
		rd.next++
	}
	return nil
}

func (rd *Reader) payload() int {
	if rd.wk == nil {
		return 0
	}
	return rd.wk.g.payload
}

// Read implements io.Reader. It fills p unless the value ends or an error
// occurs first.
func (rd *Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if err := rd.fill(); err != nil {
			if n > 0 && err == io.EOF {
				return n, nil
			}
			return n, err
		}
		m := copy(p[n:], rd.cur)
		rd.cur = rd.cur[m:]
		rd.left -= int64(m)
		n += m
	}
	return n, nil
}

// WriteTo implements io.WriterTo: it writes the rest of the value to w
// straight from the decrypted pages, one Write per page (one Write in all
// for a value read ahead).
func (rd *Reader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for {
		if err := rd.fill(); err != nil {
			if err == io.EOF {
				return n, nil
			}
			return n, err
		}
		m, err := w.Write(rd.cur)
		if m > len(rd.cur) || m < 0 {
			m, err = 0, fmt.Errorf("record: writer returned %d for %d bytes", m, len(rd.cur))
		} else if err == nil && m < len(rd.cur) {
			err = io.ErrShortWrite
		}
		rd.cur = rd.cur[m:]
		rd.left -= int64(m)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
}
