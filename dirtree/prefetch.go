package dirtree

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/streamcrypt/scdb/pager"
)

// Read-ahead for forward iteration over a read-only tree. When a cursor
// steps from one leaf to the next, the parent branch already names the
// leaves that follow; a prefetcher names the next batch of them and starts
// a goroutine that decrypts them, page by page, while the caller works
// through the current batch, so a scan uses a second core for the
// decryption that dominates it. The cursor claims each page itself when it
// gets to it first, so it never waits for a goroutine that is not running
// (on a 2-vCPU VM a new goroutine took 110-140 µs to reach the idle core):
// the two share a batch page by page. Memory is bounded: three batches of
// at most prefetchLeaves pages per cursor, each no larger than the run of
// leaves it names.
//
// Aliasing: only leaf frames point into a batch buffer, and a cursor pops
// its leaf frame before it descends to the next leaf, so when a buffer is
// refilled no frame points into it.

// prefetchLeaves bounds the leaves named per batch (512 KiB at 4 KiB
// pages): enough work that the goroutine started for the next batch is
// running well before the cursor gets there. Measured on issue 9's stream
// (a 4 KiB-page tree of 13,000 leaves): 8, 32, 64, 128 and 256 leaves
// streamed in 0.48, 0.45, 0.41, 0.38 and 0.41 s.
const prefetchLeaves = 128

// refsReader is the optional pager.Reader method a prefetcher needs.
type refsReader interface {
	ReadRefs(refs []pager.Ref, dst []byte, errv []error)
}

// intoReader is the optional pager.Reader method that decrypts a missed
// page into the caller's buffer instead of a fresh one.
type intoReader interface {
	PageInto(ref pager.Ref, dst []byte) ([]byte, error)
}

type prefetcher struct {
	r       refsReader
	payload int
	cur     *leafBatch // the batch the cursor takes leaves from
	next    *leafBatch // the batch being decrypted ahead, or nil
	spare   *leafBatch // a batch no frame points into
}

// leafBatch is the leaves lo..lo+len(refs)-1 of one parent.
type leafBatch struct {
	parent pager.Ref
	lo     int
	refs   []pager.Ref
	buf    []byte
	errv   []error
	job    *fetchJob // the claims on the pages of this filling
}

// Page states in a fetchJob.
const (
	pageWaiting uint32 = iota // nobody claimed it
	pageReading               // claimed, being decrypted
	pageDone                  // decrypted (or abandoned): nobody writes it again
)

// fetchJob is one filling of a batch. Each page is decrypted by whoever
// claims it first: the goroutine started for the batch, walking it in
// order, or the cursor when it reaches a page still waiting. A goroutine
// that starts after the batch was refilled finds every page of its job
// done and touches nothing.
type fetchJob struct {
	refs    []pager.Ref // the batch's, as filled for this job
	buf     []byte
	errv    []error
	payload int
	state   []atomic.Uint32
}

func newFetchJob(b *leafBatch, payload int) *fetchJob {
	return &fetchJob{refs: b.refs, buf: b.buf, errv: b.errv, payload: payload, state: make([]atomic.Uint32, len(b.refs))}
}

// take decrypts page k if nobody claimed it yet, and reports whether it did.
func (j *fetchJob) take(r refsReader, k int) bool {
	if !j.state[k].CompareAndSwap(pageWaiting, pageReading) {
		return false
	}
	r.ReadRefs(j.refs[k:k+1], j.buf[k*j.payload:(k+1)*j.payload], j.errv[k:k+1])
	j.state[k].Store(pageDone)
	return true
}

// wait returns once page k is decrypted, by the caller if nobody else is.
// While the goroutine decrypts page k, the caller decrypts the pages after
// it that nobody claimed yet instead of waiting idle: a cursor that has
// caught up with its goroutine then shares the batch with it, page for
// page, and the scan decrypts on two cores rather than one.
func (j *fetchJob) wait(r refsReader, k int) {
	if j.take(r, k) {
		return
	}
	for h := k + 1; j.state[k].Load() != pageDone; h++ {
		if h >= len(j.state) || !j.take(r, h) {
			runtime.Gosched() // the goroutine is decrypting page k: one page
		}
	}
}

// finish makes sure nobody writes the batch after it returns: pages still
// waiting are abandoned, pages being read are waited for.
func (j *fetchJob) finish() {
	for k := range j.state {
		if !j.state[k].CompareAndSwap(pageWaiting, pageDone) {
			for j.state[k].Load() != pageDone {
				runtime.Gosched()
			}
		}
	}
}

func (j *fetchJob) run(r refsReader) {
	for k := range j.state {
		j.take(r, k)
	}
}

func newPrefetcher(t *Tree) *prefetcher {
	rr, ok := t.r.(refsReader)
	if !ok || t.w != nil {
		return nil
	}
	return &prefetcher{r: rr, payload: t.payload}
}

// batchPool keeps the batches of closed cursors (Cursor.Close) for the
// next ones: a scan of many short lists then allocates no batch per list.
var batchPool sync.Pool // of *leafBatch

func (pf *prefetcher) batch() *leafBatch {
	if b := pf.spare; b != nil {
		pf.spare = nil
		return b
	}
	if b, ok := batchPool.Get().(*leafBatch); ok {
		return b
	}
	return &leafBatch{refs: make([]pager.Ref, 0, prefetchLeaves)}
}

// release finishes b's job, so that b may be refilled.
func (b *leafBatch) release() {
	if b != nil && b.job != nil {
		b.job.finish()
		b.job = nil
	}
}

func (b *leafBatch) holds(parent pager.Ref, i int) bool {
	return b != nil && b.parent == parent && i >= b.lo && i < b.lo+len(b.refs)
}

// leaf returns child i of the raw branch frame parent, decrypted ahead if
// it was, and starts decrypting the batch after it. ok is false when the
// prefetcher cannot help (the caller reads the page itself).
func (pf *prefetcher) leaf(parent *frame, i int) (b []byte, ref pager.Ref, err error, ok bool) {
	pref := parent.p.ref
	switch {
	case pf.cur.holds(pref, i):
	case pf.next.holds(pref, i):
		pf.cur.release()
		pf.spare, pf.cur, pf.next = pf.cur, pf.next, nil
	default:
		// A cold start: read child i alone, now, in a batch of its own.
		pf.drain()
		pf.cur.release()
		cur := pf.batch()
		if !pf.fill(cur, parent, i, 1) {
			pf.spare = cur
			return nil, pager.Ref{}, nil, false
		}
		if pf.cur != nil {
			pf.spare = pf.cur
		}
		pf.cur = cur
	}
	cur := pf.cur
	k := i - cur.lo
	if cur.job != nil {
		cur.job.wait(pf.r, k)
	} else {
		pf.r.ReadRefs(cur.refs[k:k+1], cur.buf[k*pf.payload:(k+1)*pf.payload], cur.errv[k:k+1])
	}
	if pf.next == nil && k == 0 {
		pf.ahead(parent, cur.lo+len(cur.refs))
	}
	if err := cur.errv[k]; err != nil {
		return nil, cur.refs[k], err, true
	}
	return cur.buf[k*pf.payload : (k+1)*pf.payload], cur.refs[k], nil, true
}

// ahead names the children of parent from i on in a spare batch and starts
// a goroutine decrypting them.
func (pf *prefetcher) ahead(parent *frame, i int) {
	if i >= parent.count() {
		return
	}
	nb := pf.batch()
	if !pf.fill(nb, parent, i, prefetchLeaves) {
		pf.spare = nb
		return
	}
	job := newFetchJob(nb, pf.payload)
	nb.job = job
	pf.next = nb
	go job.run(pf.r)
}

// fill names in b up to n children of parent from i on, and sizes its
// buffers for them; it stops at a child pointer that does not decode (the
// caller meets that error itself).
func (pf *prefetcher) fill(b *leafBatch, parent *frame, i, n int) bool {
	b.parent, b.lo, b.refs = parent.p.ref, i, b.refs[:0]
	for j := i; j < min(i+n, parent.count()); j++ {
		r, err := parent.p.child(j)
		if err != nil {
			break
		}
		b.refs = append(b.refs, r)
	}
	if need := len(b.refs) * pf.payload; cap(b.buf) < need {
		b.buf = make([]byte, need)
	} else {
		b.buf = b.buf[:need]
	}
	if cap(b.errv) < len(b.refs) {
		b.errv = make([]error, len(b.refs))
	} else {
		b.errv = b.errv[:len(b.refs)]
	}
	return len(b.refs) > 0
}

// close gives the batches to batchPool once no goroutine can write to them.
func (pf *prefetcher) close() {
	pf.drain()
	pf.cur.release()
	for _, b := range []*leafBatch{pf.cur, pf.spare} {
		if b != nil {
			batchPool.Put(b)
		}
	}
	pf.cur, pf.spare = nil, nil
}

// drain ends the batch in flight, if any, and makes it spare.
func (pf *prefetcher) drain() {
	if pf.next != nil {
		pf.next.release()
		pf.spare, pf.next = pf.next, nil
	}
}
