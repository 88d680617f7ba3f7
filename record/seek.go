package record

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/streamcrypt/scdb/internal/errs"
)

// Random access. A chain is a list of runs of consecutive pages, each
// run's head naming the next run, so page i of a chain is found by reading
// the heads up to the run that holds it: at most one head per
// MaxRunPages pages, and each is read once per Reader (the run table
// remembers them). Reading from page i then starts a walker there, which
// checks every page it hands out as a sequential read does.

// chainRun is one run of a chain, as its checked head page describes it.
type chainRun struct {
	head  uint64 // page number of the head
	first int64  // chain index of the head
	n     int    // pages in the run
	next  uint64 // head of the next run; 0 for the last
}

// Seek implements io.Seeker. A position past the end is allowed; reads
// there return io.EOF. Seeking reads the run heads up to the new position
// and, unless it is at or past the end, the page it falls in.
func (rd *Reader) Seek(offset int64, whence int) (int64, error) {
	if rd.err != nil {
		return 0, rd.err
	}
	pos := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		pos += rd.size - rd.left
	case io.SeekEnd:
		pos += rd.size
	default:
		return 0, fmt.Errorf("record: seek whence %d: %w", whence, errs.ErrInvalid)
	}
	if pos < 0 {
		return 0, fmt.Errorf("record: seek to %d, before the start: %w", pos, errs.ErrInvalid)
	}
	if err := rd.moveTo(pos); err != nil {
		rd.err = err
		return 0, err
	}
	return pos, nil
}

// moveTo makes pos the next byte Read hands out.
func (rd *Reader) moveTo(pos int64) error {
	rd.left = max(0, rd.size-pos)
	if rd.wk == nil {
		rd.cur = rd.inline[rd.size-rd.left:]
		return nil
	}
	rd.giveBack()
	rd.cur, rd.pages, rd.next = nil, nil, 0
	if rd.left == 0 {
		return nil
	}
	if rd.wk.buf == nil { // released at the end of an earlier read
		rd.wk.buf = getBuf(int(min(int64(max(1, maxBatchBytes/rd.wk.g.payload)), rd.wk.pages)) * rd.wk.g.payload)
	}
	index := pos / int64(rd.wk.g.data)
	if err := rd.startAt(rd.wk, index); err != nil {
		return err
	}
	if err := rd.fill(); err != nil {
		return err
	}
	rd.cur = rd.cur[pos-index*int64(rd.wk.g.data):]
	return nil
}

// startAt positions wk to hand out chain page index next.
func (rd *Reader) startAt(wk *walker, index int64) error {
	r, err := rd.runAt(index)
	if err != nil {
		return err
	}
	// The walker goes on from r by next pointers: it must know every head
	// before r as visited, or a next pointer back to one would loop.
	wk.heads = heads{}
	for _, before := range rd.runs {
		if before.first >= r.first {
			break
		}
		if err := wk.heads.visit(before.head); err != nil {
			return err
		}
	}
	wk.done = index
	if index == r.first {
		// Read the head again with its run: every page handed out is
		// checked when it is read.
		wk.runLen, wk.runPos, wk.next = 0, 0, r.head
		return nil
	}
	wk.runHead, wk.runLen, wk.runPos, wk.next = r.head, r.n, int(index-r.first), r.next
	return nil
}

// runAt returns the run holding chain page index, reading and checking the
// heads of the runs before it that the table does not hold yet.
func (rd *Reader) runAt(index int64) (chainRun, error) {
	wk := rd.wk
	for len(rd.runs) == 0 || rd.lastRun().first+int64(rd.lastRun().n) <= index {
		head, first := wk.c.first, int64(0)
		if len(rd.runs) > 0 {
			last := rd.lastRun()
			head, first = last.next, last.first+int64(last.n)
		}
		if head == 0 {
			// checkHead makes the runs' lengths add up to the chain's.
			return chainRun{}, errs.Corrupt(wk.c.first, "chain ends before page %d of %d", index, wk.pages)
		}
		if err := rd.heads.visit(head); err != nil {
			return chainRun{}, err
		}
		p := make([]byte, wk.g.payload)
		if err := wk.r.ReadPages(wk.c.ref(head), p); err != nil {
			return chainRun{}, err
		}
		n, next, err := checkHead(p, wk.g, head, wk.c, wk.pages-first)
		if err != nil {
			return chainRun{}, err
		}
		rd.runs = append(rd.runs, chainRun{head: head, first: first, n: n, next: next})
	}
	i := sort.Search(len(rd.runs), func(i int) bool { return rd.runs[i].first+int64(rd.runs[i].n) > index })
	return rd.runs[i], nil
}

func (rd *Reader) lastRun() chainRun { return rd.runs[len(rd.runs)-1] }

// ReadAt implements io.ReaderAt: it reads len(p) bytes from off, or fewer
// with io.EOF at the end of the value, without moving the position Read and
// Seek use. It reads only the pages that hold those bytes (and the run
// heads up to them, once). Unlike the io.ReaderAt contract, it must not be
// called concurrently with any other method.
func (rd *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("record: read at %d: %w", off, errs.ErrInvalid)
	}
	if rd.err != nil {
		return 0, rd.err
	}
	if off >= rd.size {
		return 0, io.EOF
	}
	if rd.lent != nil {
		n := copy(p, (*rd.lent)[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	at := &Reader{size: rd.size, inline: rd.inline, runs: rd.runs}
	if rd.wk != nil {
		at.wk = rd.pageWalker(off, len(p))
		defer at.wk.release()
	}
	err := at.moveTo(off)
	n := 0
	if err == nil {
		n, err = io.ReadFull(at, p)
	}
	rd.runs, rd.heads = at.runs, at.heads // keep the heads read
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// pageWalker returns a walker over rd's chain whose batches hold no more
// pages than reading size bytes from off needs.
func (rd *Reader) pageWalker(off int64, size int) *walker {
	g := rd.wk.g
	pages := (off+int64(size)+int64(g.data)-1)/int64(g.data) - off/int64(g.data) + 1
	batch := min(int64(max(1, maxBatchBytes/g.payload)), pages, rd.wk.pages)
	return &walker{r: rd.wk.r, g: g, c: rd.wk.c, pages: rd.wk.pages, buf: getBuf(int(batch) * g.payload)}
}
