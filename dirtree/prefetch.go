package dirtree

import (
	"sync"
	"sync/atomic"

	"github.com/streamcrypt/scdb/pager"
)

// Read-ahead for forward iteration over a read-only tree. When a cursor
// steps from one leaf to the next, the parent branch already names the
// leaves that follow; a prefetcher decrypts the next batch of them on
// another goroutine while the caller works through the current batch, so
// a scan uses a second core for the decryption that dominates it. Memory
// is bounded: two batches of prefetchLeaves pages per cursor.
//
// Aliasing: only leaf frames point into a batch buffer, and a cursor pops
// its leaf frame before it descends to the next leaf, so when a buffer is
// refilled no frame points into it.

// prefetchLeaves is the number of leaves decrypted per batch.
const prefetchLeaves = 8

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
	skip    int        // batches left to the cursor before a goroutine is tried again (see backoff)
}

// backoff adapts read-ahead to a machine where its goroutines do not get
// to run in time. Each batch a cursor had to decrypt itself doubles it (up
// to maxBackoff), and that cursor then leaves the next backoff batches to
// itself without starting a goroutine; a batch a goroutine decrypted
// resets it. It is shared by every cursor of the process: it measures the
// machine. On a 2-vCPU VM a new goroutine took 110-140 µs to reach the
// idle core, and while a scan allocates the GC's worker takes that core,
// so cursors claimed ~86% of the batches themselves: the goroutines only
// cost CPU (streams ran 3-8% slower than reading every batch in the
// cursor's goroutine).
var backoff atomic.Int32

// maxBackoff bounds the batches read ahead synchronously between two
// tries of a goroutine.
const maxBackoff = 64

// leafBatch is the decrypted leaves lo..lo+len(refs)-1 of one parent.
type leafBatch struct {
	parent pager.Ref
	lo     int
	refs   []pager.Ref
	buf    []byte
	errv   []error
	job    *fetchJob // the decryption started for it; nil when filled synchronously
	lazy   bool      // named but not decrypted yet: the cursor decrypts it when it needs it
}

// fetchJob is one start of a batch's decryption. Whoever claims it decrypts
// the batch: the goroutine started for it or, if that has not run yet when
// the cursor needs the batch (both cores busy), the cursor itself, which so
// never waits for a goroutine that is not running. A goroutine that loses
// the claim touches nothing, even if its batch was refilled since.
type fetchJob struct {
	claimed atomic.Bool
	done    chan struct{} // closed by the goroutine once it claimed and finished
}

func newPrefetcher(t *Tree) *prefetcher {
	rr, ok := t.r.(refsReader)
	if !ok || t.w != nil {
		return nil
	}
	return &prefetcher{r: rr, payload: t.payload, skip: int(backoff.Load())}
}

// batchPool keeps the batches of closed cursors (Cursor.Close) for the
// next ones: a scan of many short lists then allocates no batch per list.
var batchPool sync.Pool // of *leafBatch

func (pf *prefetcher) batch() *leafBatch {
	if b := pf.spare; b != nil {
		pf.spare = nil
		return b
	}
	if b, ok := batchPool.Get().(*leafBatch); ok && len(b.buf) == prefetchLeaves*pf.payload {
		return b
	}
	return &leafBatch{
		refs: make([]pager.Ref, 0, prefetchLeaves),
		buf:  make([]byte, prefetchLeaves*pf.payload),
		errv: make([]error, prefetchLeaves),
	}
}

// wait makes the batch's pages available: it decrypts them itself if no
// goroutine was started for them or it has not claimed them yet, or waits
// for it to finish; and adapts pf's backoff to who did the work.
func (b *leafBatch) wait(pf *prefetcher) {
	if b.job == nil {
		if b.lazy {
			b.lazy = false
			pf.r.ReadRefs(b.refs, b.buf, b.errv)
		}
		return
	}
	if b.job.claimed.CompareAndSwap(false, true) {
		pf.r.ReadRefs(b.refs, b.buf, b.errv)
		n := min(max(1, 2*backoff.Load()), maxBackoff)
		backoff.Store(n)
		pf.skip = int(n)
	} else {
		<-b.job.done
		backoff.Store(0)
	}
	b.job = nil
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
		pf.next.wait(pf)
		pf.spare, pf.cur, pf.next = pf.cur, pf.next, nil
	default:
		// A cold start: read child i alone, now, in a batch of its own.
		pf.drain()
		cur := pf.batch()
		if !pf.fill(cur, parent, i, 1) {
			pf.spare = cur
			return nil, pager.Ref{}, nil, false
		}
		pf.r.ReadRefs(cur.refs, cur.buf, cur.errv)
		if pf.cur != nil {
			pf.spare = pf.cur
		}
		pf.cur = cur
	}
	cur := pf.cur
	k := i - cur.lo
	if pf.next == nil && k == 0 {
		pf.ahead(parent, cur.lo+len(cur.refs))
	}
	if err := cur.errv[k]; err != nil {
		return nil, cur.refs[k], err, true
	}
	return cur.buf[k*pf.payload : (k+1)*pf.payload], cur.refs[k], nil, true
}

// ahead starts decrypting the children of parent from i on into a spare
// batch on another goroutine.
func (pf *prefetcher) ahead(parent *frame, i int) {
	if i >= parent.count() {
		return
	}
	nb := pf.batch()
	if !pf.fill(nb, parent, i, prefetchLeaves) {
		pf.spare = nb
		return
	}
	pf.next = nb
	if pf.skip > 0 {
		pf.skip--
		nb.lazy = true
		return
	}
	job := &fetchJob{done: make(chan struct{})}
	nb.job = job
	go func(r refsReader, b *leafBatch, job *fetchJob) {
		if job.claimed.CompareAndSwap(false, true) {
			r.ReadRefs(b.refs, b.buf, b.errv)
			close(job.done)
		}
	}(pf.r, nb, job)
}

// fill names in b up to n children of parent from i on; it stops at a
// child pointer that does not decode (the caller meets that error itself).
func (pf *prefetcher) fill(b *leafBatch, parent *frame, i, n int) bool {
	b.parent, b.lo, b.refs = parent.p.ref, i, b.refs[:0]
	for j := i; j < min(i+n, parent.count()); j++ {
		r, err := parent.p.child(j)
		if err != nil {
			break
		}
		b.refs = append(b.refs, r)
	}
	return len(b.refs) > 0
}

// close gives the batches to batchPool once no goroutine can write to them
// (drain waits for, or claims, the one in flight).
func (pf *prefetcher) close() {
	pf.drain()
	for _, b := range []*leafBatch{pf.cur, pf.spare} {
		if b != nil {
			batchPool.Put(b)
		}
	}
	pf.cur, pf.spare = nil, nil
}

// drain waits for the batch in flight, if any, and makes it spare.
func (pf *prefetcher) drain() {
	if pf.next != nil {
		if pf.next.lazy {
			pf.next.lazy = false // never needed: not decrypted at all
		} else {
			pf.next.wait(pf)
		}
		pf.spare, pf.next = pf.next, nil
	}
}
