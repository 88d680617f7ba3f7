package record

import (
	"io"
	"sync"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// maxBatchBytes bounds the read-ahead of a walker: it fetches at most
// max(1, maxBatchBytes/payload) pages per ReadPages call.
const maxBatchBytes = 64 << 10

// walker reads a chain's pages in order, a batch of contiguous pages per
// ReadPages call, and checks every page's header before handing it out.
// The number of pages it reads is bounded by the chain's size, so a damaged
// next pointer can neither loop nor run long.
type walker struct {
	r     pager.Reader
	g     geometry
	c     chainCell
	pages int64 // pages in the chain
	done  int64 // pages handed out so far

	runHead uint64 // head of the current run
	runLen  int    // pages in the current run; 0 before the first run
	runPos  int    // next page of the current run to read
	next    uint64 // first page of the run after the current one
	heads   heads  // run heads visited, against a next pointer that loops

	buf []byte // the current batch: n pages of g.payload bytes
}

func newWalker(r pager.Reader, c chainCell) (*walker, error) {
	g, err := geometryOf(r)
	if err != nil {
		return nil, err
	}
	pages := g.pagesFor(c.size)
	batch := int64(max(1, maxBatchBytes/g.payload))
	return &walker{
		r: r, g: g, c: c, pages: pages, next: c.first,
		buf: getBuf(int(min(batch, pages)) * g.payload),
	}, nil
}

// batchBufs recycles walkers' batch buffers: allocating and zeroing 64 KiB
// for every value read costs as much as copying the value.
var batchBufs sync.Pool // of *[]byte

func getBuf(n int) []byte {
	if b, ok := batchBufs.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]byte, n, max(n, maxBatchBytes))
}

// release gives the batch buffer back for reuse; the walker must not be
// used again, and no slice of the buffer may still be in use.
func (wk *walker) release() {
	if wk.buf != nil && cap(wk.buf) <= maxBatchBytes+wk.g.payload {
		b := wk.buf[:0]
		batchBufs.Put(&b)
	}
	wk.buf = nil
}

// batch reads and checks the next pages of the chain and returns them
// (a multiple of g.payload bytes, valid until the next call) together with
// the chain index of the first one. It returns io.EOF after the last page.
func (wk *walker) batch() (pages []byte, index int64, err error) {
	if wk.done == wk.pages {
		return nil, wk.done, io.EOF
	}
	left := wk.pages - wk.done
	var n int
	if wk.runPos == wk.runLen {
		n, err = wk.startRun(left)
	} else {
		n, err = wk.readCont(left)
	}
	if err != nil {
		return nil, wk.done, err
	}
	if wk.done+int64(n) == wk.pages {
		last := wk.buf[(n-1)*wk.g.payload : n*wk.g.payload]
		if err := checkPadding(last, wk.runHead+uint64(wk.runPos-1), wk.g.lastData(wk.c.size)); err != nil {
			return nil, wk.done, err
		}
	}
	index = wk.done
	wk.done += int64(n)
	return wk.buf[:n*wk.g.payload], index, nil
}

// startRun reads the head of the next run with as many following pages as
// the format guarantees the run has (minRunPages, or all that are left).
func (wk *walker) startRun(left int64) (int, error) {
	head := wk.next
	if err := wk.heads.visit(head); err != nil {
		return 0, err
	}
	n := int(min(int64(wk.batchPages()), minRunPages, left))
	if err := wk.r.ReadPages(wk.c.ref(head), wk.buf[:n*wk.g.payload]); err != nil {
		return 0, wk.explain(head, left, n, err)
	}
	runLen, next, err := checkHead(wk.buf, wk.g, head, wk.c, left)
	if err != nil {
		return 0, err
	}
	wk.runHead, wk.runLen, wk.runPos, wk.next = head, runLen, 0, next
	return n, wk.checkConts(n)
}

// explain turns the failed read of n pages from a run head into the more
// telling error about the head itself, when there is one: a damaged head
// may make the pages after it look like part of the run when they are not.
func (wk *walker) explain(head uint64, left int64, n int, err error) error {
	if n == 1 {
		return err
	}
	if herr := wk.r.ReadPages(wk.c.ref(head), wk.buf[:wk.g.payload]); herr != nil {
		return herr
	}
	if _, _, herr := checkHead(wk.buf, wk.g, head, wk.c, left); herr != nil {
		return herr
	}
	return err
}

// readCont reads the next batch of continuation pages of the current run.
func (wk *walker) readCont(left int64) (int, error) {
	n := int(min(int64(wk.batchPages()), int64(wk.runLen-wk.runPos), left))
	if err := wk.r.ReadPages(wk.c.ref(wk.runHead+uint64(wk.runPos)), wk.buf[:n*wk.g.payload]); err != nil {
		return 0, err
	}
	return n, wk.checkConts(n)
}

// checkConts checks the continuation pages among the n just read, which
// start at runPos, and advances runPos past them.
func (wk *walker) checkConts(n int) error {
	for i := range n {
		if wk.runPos > 0 {
			p := wk.buf[i*wk.g.payload : (i+1)*wk.g.payload]
			used := wk.g.used(wk.done+int64(i), wk.c.size)
			if err := checkCont(p, wk.runHead, wk.runPos, used, wk.c); err != nil {
				return err
			}
		}
		wk.runPos++
	}
	return nil
}

func (wk *walker) batchPages() int { return len(wk.buf) / wk.g.payload }

// data returns the value bytes of page i of a batch whose first page has
// chain index index.
func (wk *walker) data(pages []byte, i int, index int64) []byte {
	p := pages[i*wk.g.payload : (i+1)*wk.g.payload]
	if index+int64(i) == wk.pages-1 {
		return p[headerSize : headerSize+wk.g.lastData(wk.c.size)]
	}
	return p[headerSize:]
}

// heads remembers the run heads of one chain walk. The pages left shrink
// from head to head, but only by the run's length: a head whose next
// pointer returns to itself or an earlier head, under a cell claiming up to
// MaxSize bytes, would be followed about 2^40/(16·D) times, reading the
// same authentic pages again and again (and Value would grow its result to
// the claimed size). A head visited twice is therefore a loop. The set is
// made when a second run starts, so single-run values pay nothing.
type heads struct {
	first uint64 // the first head, 0 before any
	seen  map[uint64]struct{}
}

// visit records head, failing if the walk has been there before.
func (h *heads) visit(head uint64) error {
	switch {
	case h.first == 0:
		h.first = head
		return nil
	case h.seen == nil:
		h.seen = map[uint64]struct{}{h.first: {}}
	}
	if _, dup := h.seen[head]; dup {
		return errs.Corrupt(head, "chain returns to its run at page %d (a loop)", head)
	}
	h.seen[head] = struct{}{}
	return nil
}
