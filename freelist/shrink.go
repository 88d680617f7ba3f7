package freelist

import (
	"errors"
	"fmt"
	"math"

	"github.com/streamcrypt/scdb/pager"
)

// This file serves a transaction that shrinks the file: it moves the live
// pages at the end of the file into free pages further down (Limit), so
// that a later commit can give the end back to the file system (trimTail).

// ErrNoRoom is Alloc's error, under Limit, when no free run below the limit
// holds the pages asked for.
var ErrNoRoom = errors.New("freelist: no free run below the limit")

// Limit makes Alloc, until the transaction ends, hand out only pages below
// limit, and fail with ErrNoRoom rather than grow the file; Save then
// writes a checkpoint, whose pages obey the limit too, so that no freelist
// page of the commit lies at or past it. The limit may rise during the
// transaction (a value that cannot move keeps the end of the file).
func (f *Freelist) Limit(limit uint64) { f.limit = limit }

// allocBelow is Alloc under Limit: the smallest run below the limit that
// fits, the lowest on a tie, so that single pages fill single holes and the
// longer holes stay for value chains, which need their pages contiguous.
func (f *Freelist) allocBelow(want uint64) (uint64, error) {
	r, ok := f.free.bestFitBelow(want, f.limit)
	if !ok {
		return 0, fmt.Errorf("%w: %d pages below page %d", ErrNoRoom, want, f.limit)
	}
	f.take(run{r.start, want})
	return r.start, nil
}

// ShrinkTarget returns the page count a shrinking transaction should aim
// at: the lowest limit such that the pages at or past it that are not free
// — the pages to move — number at most maxMove and fit in the free pages
// below it with reserve pages to spare (for the pages below the limit that
// the move rewrites: the parents of moved nodes, the new checkpoint). A
// pending page cannot be given back, so the limit stays above every one.
// It returns PageCount when nothing can be given back. Call it after
// Begin.
func (f *Freelist) ShrinkTarget(reserve, maxMove uint64) uint64 {
	floor := uint64(pager.FirstDataPage)
	if r, ok := f.pending.last(); ok {
		floor = max(floor, r.end())
	}
	limit := f.pageCount
	var live, freeAbove uint64
	// spare is how many more pages the limit may pass: a live page passed
	// needs a free page below it, a free page passed is no longer below.
	spare := func() uint64 { return f.free.pages - min(f.free.pages, freeAbove+live+reserve) }
	at := f.free.runs.lowerBound(run{start: math.MaxUint64})
	for limit > floor {
		p, ok := f.free.runs.prev(at)
		r := run{start: floor, n: 0} // past the lowest run, all is live
		if ok {
			r, at = f.free.runs.at(p), p
		}
		liveFrom, freeFrom := max(r.end(), floor), max(r.start, floor)
		k := min(limit-liveFrom, maxMove-live, spare())
		limit, live = limit-k, live+k
		if limit > liveFrom || !ok {
			return limit
		}
		k = min(limit-freeFrom, spare())
		limit, freeAbove = limit-k, freeAbove+k
		if limit > freeFrom {
			return limit
		}
	}
	return limit
}

// Checkpoint makes Save write a checkpoint at the end of this transaction,
// which gives back the free pages at the end of the file (trimTail) however
// large the checkpoint: the commit after a shrinking one.
func (f *Freelist) Checkpoint() { f.ckpt = true }

// Room returns, under Limit, the free pages below the limit and the pages
// at or past it that are neither free nor freed by the transaction: the
// live pages a shrinking transaction has still to move below. It costs a
// pass over the free runs.
func (f *Freelist) Room() (below, toMove uint64) {
	var freeAbove uint64
	f.free.each(func(r run) bool {
		if r.start < f.limit {
			below += min(r.end(), f.limit) - r.start
		}
		if r.end() > f.limit {
			freeAbove += r.end() - max(r.start, f.limit)
		}
		return true
	})
	for _, p := range f.txFreed {
		if p >= f.limit {
			freeAbove++
		}
	}
	return below, f.pageCount - min(f.pageCount, f.limit+freeAbove)
}

// Loaded reports whether the free set is in memory: always, but for a free
// list opened lazily (Open) before its first Begin.
func (f *Freelist) Loaded() bool { return f.src == nil }

// Reusable is the number of free pages Alloc may hand out now, and the
// number still pending on snapshots.
func (f *Freelist) Reusable() (free, pending uint64) { return f.free.pages, f.pending.pages }
