package record

import (
	"fmt"
	"io"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Put stores value and returns its cell: an inline cell if len(value) <=
// maxInline (a negative maxInline counts as 0), otherwise a chain cell for
// pages written at w.Gen(). Put does not retain value. On error it has freed
// every page it allocated.
func Put(w pager.Writer, value []byte, maxInline int) ([]byte, error) {
	if len(value) <= max(maxInline, 0) {
		return inlineCell(value), nil
	}
	if int64(len(value)) > sizeLimit {
		return nil, tooLarge()
	}
	g, err := geometryOf(w)
	if err != nil {
		return nil, err
	}
	cw := newChainWriter(w, g, g.pagesFor(int64(len(value))))
	cw.write(value)
	return cw.finish()
}

// PutReader stores the bytes r yields until io.EOF and returns the cell and
// the value's size. It reads ahead at most maxInline+1 bytes to choose an
// inline cell (a negative maxInline counts as 0); past that it streams r
// into a chain while holding at most two pages, whatever the size. A value
// over MaxSize bytes fails with an error wrapping errs.ErrTooLarge. On any
// error, r's included, PutReader has freed every page it allocated.
func PutReader(w pager.Writer, r io.Reader, maxInline int) (cell []byte, size int64, err error) {
	maxInline = max(maxInline, 0)
	ahead := make([]byte, maxInline+1)
	n, err := readFull(r, ahead)
	if err != nil {
		return nil, 0, err
	}
	if n <= maxInline {
		return inlineCell(ahead[:n]), int64(n), nil
	}
	g, err := geometryOf(w)
	if err != nil {
		return nil, 0, err
	}
	cw := newChainWriter(w, g, -1)
	cw.write(ahead)
	if err := cw.readFrom(r); err != nil {
		cw.abort()
		return nil, 0, err
	}
	cell, err = cw.finish()
	if err != nil {
		return nil, 0, err
	}
	return cell, cw.size, nil
}

func tooLarge() error {
	return fmt.Errorf("record: value over %d bytes: %w", sizeLimit, errs.ErrTooLarge)
}

// maxEmptyReads bounds how many (0, nil) results in a row PutReader accepts
// from an io.Reader before giving up with io.ErrNoProgress, as bufio does.
const maxEmptyReads = 100

// readFull reads into b until it is full or r reports io.EOF, returning the
// number of bytes read. io.EOF is not an error.
func readFull(r io.Reader, b []byte) (int, error) {
	n, empty := 0, 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		if m < 0 || m > len(b)-n {
			return n, badCount(m, len(b)-n)
		}
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if empty = emptyReads(m, empty); empty > maxEmptyReads {
			return n, io.ErrNoProgress
		}
	}
	return n, nil
}

// badCount is the error for an io.Reader that claims to have read more
// bytes than it was given room for (or a negative count): its data cannot
// be trusted, and using the count would read past the buffer.
func badCount(n, room int) error {
	return fmt.Errorf("%w: the value's reader returned %d from a Read of %d bytes", errs.ErrInvalid, n, room)
}

func emptyReads(n, sofar int) int {
	if n > 0 {
		return 0
	}
	return sofar + 1
}

// run is a range of contiguous pages allocated for a chain.
type run struct {
	first uint64
	pages int
}

// chainWriter writes a chain page by page. It fills one page (cur) at a
// time and holds back the current run's head page (head) until it knows
// whether another run follows, so memory stays at two pages.
type chainWriter struct {
	w          pager.Writer
	g          geometry
	gen        uint64
	knownPages int64 // total pages when the size is known up front, else -1
	runs       []run // every run allocated so far, to free them on error
	pos        int   // pages of the last run emitted so far
	head, cur  []byte
	fill       int   // value bytes in cur
	size       int64 // value bytes taken so far
	emitted    int64 // pages emitted so far
	err        error // first error; the writer stops at it
}

func newChainWriter(w pager.Writer, g geometry, knownPages int64) *chainWriter {
	return &chainWriter{
		w: w, g: g, gen: w.Gen(), knownPages: knownPages,
		head: make([]byte, g.payload), cur: make([]byte, g.payload),
	}
}

// first returns the chain's first page; valid once a page has been emitted.
func (cw *chainWriter) first() uint64 { return cw.runs[0].first }

// write appends p to the value.
func (cw *chainWriter) write(p []byte) {
	for len(p) > 0 && cw.err == nil {
		if cw.fill == cw.g.data {
			cw.emit()
		}
		n := copy(cw.cur[headerSize+cw.fill:headerSize+cw.g.data], p)
		cw.fill += n
		cw.size += int64(n)
		p = p[n:]
	}
}

// readFrom appends everything r yields until io.EOF, reading straight into
// the page being filled.
func (cw *chainWriter) readFrom(r io.Reader) error {
	empty := 0
	for cw.err == nil {
		if cw.fill == cw.g.data {
			cw.emit()
			if cw.err != nil {
				break
			}
		}
		room := cw.g.data - cw.fill
		n, err := r.Read(cw.cur[headerSize+cw.fill : headerSize+cw.g.data])
		if n < 0 || n > room {
			return badCount(n, room)
		}
		cw.fill += n
		cw.size += int64(n)
		if cw.size > sizeLimit {
			return tooLarge()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if empty = emptyReads(n, empty); empty > maxEmptyReads {
			return io.ErrNoProgress
		}
	}
	return cw.err
}

// emit writes out cur, a full page or the last one, starting a new run
// first if the current one is used up. A run's head is held back in head.
func (cw *chainWriter) emit() {
	if len(cw.runs) == 0 || cw.pos == cw.runs[len(cw.runs)-1].pages {
		cw.startRun()
		if cw.err != nil {
			return
		}
	}
	r := cw.runs[len(cw.runs)-1]
	putUsed(cw.cur, cw.fill)
	if cw.pos == 0 {
		cw.head, cw.cur = cw.cur, cw.head
	} else {
		putCont(cw.cur, cw.pos, cw.first())
		cw.setErr(cw.w.WritePage(r.first+uint64(cw.pos), cw.cur))
	}
	cw.pos++
	cw.emitted++
	cw.fill = 0
}

// startRun allocates the next run and writes the previous run's head, now
// that it knows where the next run starts.
func (cw *chainWriter) startRun() {
	n := cw.nextRunPages()
	first, err := cw.w.Alloc(n)
	if err != nil {
		cw.setErr(fmt.Errorf("record: allocating a run of %d pages: %w", n, err))
		return
	}
	cw.runs = append(cw.runs, run{first: first, pages: n})
	if len(cw.runs) > 1 {
		prev := cw.runs[len(cw.runs)-2]
		putHead(cw.head, prev.pages, cw.first(), first)
		cw.setErr(cw.w.WritePage(prev.first, cw.head))
	}
	cw.pos = 0
}

// nextRunPages is the length of the next run: as many pages as are left (at
// most MaxRunPages) when the size is known, else 16, 32, ... MaxRunPages.
func (cw *chainWriter) nextRunPages() int {
	if cw.knownPages >= 0 {
		return int(min(cw.knownPages-cw.emitted, MaxRunPages))
	}
	return minRunPages << min(len(cw.runs), 6)
}

// finish writes the last page (unless the value ended exactly when a page
// was emitted) and the last run's head, frees the pages of the last run it
// did not use, and returns the chain cell. At least one byte must have been
// written.
func (cw *chainWriter) finish() ([]byte, error) {
	if cw.fill > 0 && cw.err == nil {
		clear(cw.cur[headerSize+cw.fill:])
		cw.emit()
	}
	if cw.err != nil {
		cw.abort()
		return nil, cw.err
	}
	last := &cw.runs[len(cw.runs)-1]
	unused := *last
	unused.first += uint64(cw.pos)
	unused.pages -= cw.pos
	last.pages = cw.pos
	if unused.pages > 0 {
		cw.w.Unalloc(unused.first, unused.pages)
	}
	putHead(cw.head, last.pages, cw.first(), 0)
	if err := cw.w.WritePage(last.first, cw.head); err != nil {
		cw.abort()
		return nil, err
	}
	return chainCell{size: cw.size, first: cw.first(), gen: cw.gen}.encode(), nil
}

// abort frees every page the writer allocated.
func (cw *chainWriter) abort() {
	for _, r := range cw.runs {
		for i := range r.pages {
			cw.w.Free(pager.Ref{Page: r.first + uint64(i), Gen: cw.gen})
		}
	}
	cw.runs = nil
}

func (cw *chainWriter) setErr(err error) {
	if cw.err == nil && err != nil {
		cw.err = err
	}
}
