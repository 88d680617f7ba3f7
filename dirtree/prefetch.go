package dirtree

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/streamcrypt/scdb/pager"
)

// Read-ahead for forward iteration over a read-only tree. When a cursor
// steps from one leaf to the next, the parent branch already names the
// leaves that follow (and the grandparent the parents after it); a
// prefetcher names the next batch of them and starts a goroutine that
// decrypts them, page by page, while the caller works through the current
// batch, so a scan uses a second core for the decryption that dominates
// it. The cursor claims each page itself when it gets to it first, so it
// never waits for a goroutine that is not running (on a 2-vCPU VM a new
// goroutine took 110-140 µs to reach the idle core), and decrypts the
// next unclaimed pages while the goroutine decrypts the one it needs: the
// two share a batch page by page. Memory is bounded: three batches of at
// most prefetchLeaves pages per cursor, each no larger than the run of
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
	t       *Tree
	r       refsReader
	payload int
	cur     *leafBatch // the batch the cursor takes leaves from
	next    *leafBatch // the batch being decrypted ahead, or nil
	spare   *leafBatch // a batch no frame points into
}

// leafBatch is a run of leaves in cursor order: the children lo..lo+n-1 of
// each of its spans' parents, one span after the other.
type leafBatch struct {
	spans []span
	refs  []pager.Ref
	buf   []byte
	errv  []error
	job   *fetchJob // the claims on the pages of this filling
	after position  // where the leaves after the batch's begin
}

// span is the children lo..lo+n-1 of parent, at refs[at:at+n] of a batch.
type span struct {
	parent    pager.Ref
	lo, n, at int
}

// position is child i of the raw branch page parent, which is child gi of
// the raw branch page gp when hasGP: enough to name the leaves that follow
// across the parent's end, within gp.
type position struct {
	parent rawPage
	i      int
	gp     rawPage
	gi     int
	hasGP  bool
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
	j.abandon()
	for k := range j.state {
		for j.state[k].Load() != pageDone {
			runtime.Gosched()
		}
	}
}

// abandon marks the pages nobody claimed yet as done: nobody decrypts them.
// Abandoning them all before waiting for any matters: waiting page by page
// let the goroutine claim each next page first, and a cursor closed after a
// few leaves waited for the whole batch to be decrypted.
func (j *fetchJob) abandon() {
	for k := range j.state {
		j.state[k].CompareAndSwap(pageWaiting, pageDone)
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
	return &prefetcher{t: t, r: rr, payload: t.payload}
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
	return &leafBatch{refs: make([]pager.Ref, 0, prefetchLeaves), spans: make([]span, 0, 4)}
}

// release finishes b's job, so that b may be refilled.
func (b *leafBatch) release() {
	if b != nil && b.job != nil {
		b.job.finish()
		b.job = nil
	}
}

// find returns where the batch holds child i of parent.
func (b *leafBatch) find(parent pager.Ref, i int) (k int, ok bool) {
	if b == nil {
		return 0, false
	}
	for _, sp := range b.spans {
		if sp.parent == parent && i >= sp.lo && i < sp.lo+sp.n {
			return sp.at + i - sp.lo, true
		}
	}
	return 0, false
}

// leaf returns child i of the raw branch frame on top of stack (the level
// above the leaves), decrypted ahead if it was, and starts decrypting the
// batch after it. ok is false when the prefetcher cannot help (the caller
// reads the page itself).
func (pf *prefetcher) leaf(stack []frame, i int) (b []byte, ref pager.Ref, err error, ok bool) {
	parent := &stack[len(stack)-1]
	pref := parent.p.ref
	k, held := pf.cur.find(pref, i)
	if !held {
		if k, held = pf.next.find(pref, i); held {
			pf.cur.release()
			pf.spare, pf.cur, pf.next = pf.cur, pf.next, nil
		}
	}
	if !held {
		// A cold start: read child i alone, now, in a batch of its own.
		pf.stop()
		cur := pf.batch()
		at := position{parent: parent.p, i: i}
		if len(stack) >= 2 && stack[len(stack)-2].n == nil {
			gp := &stack[len(stack)-2]
			at.gp, at.gi, at.hasGP = gp.p, gp.i, true
		}
		if !pf.fill(cur, at, 1) {
			pf.spare = cur
			return nil, pager.Ref{}, nil, false
		}
		if pf.cur != nil {
			pf.spare = pf.cur
		}
		pf.cur, k = cur, 0
	}
	cur := pf.cur
	if cur.job != nil {
		cur.job.wait(pf.r, k)
	} else {
		pf.r.ReadRefs(cur.refs[k:k+1], cur.buf[k*pf.payload:(k+1)*pf.payload], cur.errv[k:k+1])
	}
	if pf.next == nil && k == 0 {
		pf.ahead(cur.after)
	}
	if err := cur.errv[k]; err != nil {
		return nil, cur.refs[k], err, true
	}
	return cur.buf[k*pf.payload : (k+1)*pf.payload], cur.refs[k], nil, true
}

// ahead names the leaves from at on in a spare batch and starts a goroutine
// decrypting them.
func (pf *prefetcher) ahead(at position) {
	nb := pf.batch()
	if !pf.fill(nb, at, prefetchLeaves) {
		pf.spare = nb
		return
	}
	job := newFetchJob(nb, pf.payload)
	nb.job = job
	pf.next = nb
	go job.run(pf.r)
}

// fill names in b up to n leaves from at on, and sizes its buffers for
// them. Past the end of at's parent it goes on with the children of the
// parents after it under the same grandparent, so that the goroutine is
// already decrypting the next parent's leaves when the cursor gets there
// (a batch per parent meant a leaf read alone and a goroutine started at
// every parent: on the bench's file, 111 leaves per scan read outside a
// batch instead of 60, one per list). It stops at a pointer
// that does not decode or a page that is not a branch: the cursor meets
// that error, or reads that page, itself.
func (pf *prefetcher) fill(b *leafBatch, at position, n int) bool {
	b.refs, b.spans = b.refs[:0], b.spans[:0]
	for len(b.refs) < n {
		if at.i >= at.parent.n+1 {
			if !at.hasGP || at.gi+1 >= at.gp.n+1 || len(b.spans) == cap(b.spans) {
				break
			}
			ref, err := at.gp.child(at.gi + 1)
			if err != nil {
				break
			}
			p, err := pf.t.readRaw(ref)
			if err != nil || p.leaf {
				break
			}
			at.parent, at.i, at.gi = p, 0, at.gi+1
		}
		sp := span{parent: at.parent.ref, lo: at.i, at: len(b.refs)}
		for ; at.i <= at.parent.n && len(b.refs) < n; at.i++ {
			r, err := at.parent.child(at.i)
			if err != nil {
				at.hasGP = false // the cursor stops here too
				break
			}
			b.refs = append(b.refs, r)
		}
		if sp.n = len(b.refs) - sp.at; sp.n == 0 {
			break
		}
		b.spans = append(b.spans, sp)
	}
	b.after = at
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
	pf.stop()
	for _, b := range []*leafBatch{pf.cur, pf.spare} {
		if b != nil {
			b.after = position{} // holds pages of this cursor's tree
			batchPool.Put(b)
		}
	}
	pf.cur, pf.spare = nil, nil
}

// stop ends both batches' jobs, the batch in flight becoming spare. It
// abandons the pages of both that nobody claimed before it waits for either's
// pages being read, or the other's goroutine would decrypt more meanwhile.
func (pf *prefetcher) stop() {
	for _, b := range []*leafBatch{pf.cur, pf.next} {
		if b != nil && b.job != nil {
			b.job.abandon()
		}
	}
	if pf.next != nil {
		pf.next.release()
		pf.spare, pf.next = pf.next, nil
	}
	pf.cur.release()
}
