// Package freelist owns the set of free pages of an scdb file: which pages
// a write transaction may allocate, which pages freed by a commit must wait
// for older read snapshots to close, and how the free set is persisted in
// freelist pages at each commit.
//
// It never reads or writes a page other than its own freelist pages, and it
// never hands out a page that the last committed state or an open snapshot
// can reach: a page freed by commit G stays pending until every open
// snapshot is at generation G or later.
package freelist

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// run is a range of free pages [start, start+n).
type run struct{ start, n uint64 }

func (r run) end() uint64 { return r.start + r.n }

// Freelist tracks free pages for one open file. It is used by one writer at
// a time and is not safe for concurrent use.
type Freelist struct {
	pageCount uint64              // pages [0, pageCount) are in the file
	free      []run               // reusable now; sorted by start, no two touch
	pending   map[uint64][]uint64 // commit gen -> committed pages it freed
	ownPages  []pager.Ref         // the freelist pages of the last commit

	// The open write transaction, if any.
	txGen     uint64
	txFreed   []uint64 // committed pages the transaction no longer references
	txOwn     []uint64 // pages the transaction wrote and no longer references
	saved     []run    // free as it was at Begin, restored by Rollback
	savedSize uint64
	savedOwn  []pager.Ref
	err       error // a misuse seen by Free (a double free), reported by Save
}

// New returns the free list of a newly created, empty file.
func New() *Freelist {
	return &Freelist{pageCount: pager.FirstDataPage, pending: map[uint64][]uint64{}}
}

// PageCount is the number of pages in the file as the free list sees it: the
// first page it would hand out by growing the file.
func (f *Freelist) PageCount() uint64 { return f.pageCount }

// FreeCount is the number of free pages, pending ones included.
func (f *Freelist) FreeCount() uint64 {
	var n uint64
	for _, r := range f.free {
		n += r.n
	}
	for _, p := range f.pending {
		n += uint64(len(p))
	}
	return n + uint64(len(f.txFreed)+len(f.txOwn))
}

// Begin starts a write transaction that will commit as generation gen.
// Pages freed by commits up to and including oldestSnapshot become
// reusable: no open snapshot can reach them any more. oldestSnapshot is the
// generation of the oldest open read snapshot, or the last committed
// generation when none is open.
func (f *Freelist) Begin(gen, oldestSnapshot uint64) {
	for g, pages := range f.pending {
		if g <= oldestSnapshot {
			for _, p := range pages {
				f.insert(run{p, 1})
			}
			delete(f.pending, g)
		}
	}
	f.txGen = gen
	f.txFreed = f.txFreed[:0]
	f.txOwn = f.txOwn[:0]
	f.saved = slices.Clone(f.free)
	f.savedSize = f.pageCount
	f.savedOwn = f.ownPages
	f.err = nil
}

// Rollback forgets every allocation and free since Begin.
func (f *Freelist) Rollback() {
	f.free = f.saved
	f.pageCount = f.savedSize
	f.ownPages = f.savedOwn
	f.txFreed = f.txFreed[:0]
	f.txOwn = f.txOwn[:0]
	f.saved = nil
	f.err = nil
}

// Alloc returns the first of n contiguous pages. It takes the smallest free
// run that fits (so long runs stay whole for long values), the lowest such
// run on a tie, and grows the file only when no run fits.
func (f *Freelist) Alloc(n int) (uint64, error) {
	if n < 1 {
		return 0, fmt.Errorf("freelist: alloc of %d pages", n)
	}
	want := uint64(n)
	best := -1
	for i, r := range f.free {
		if r.n >= want && (best < 0 || r.n < f.free[best].n) {
			best = i
			if r.n == want {
				break
			}
		}
	}
	if best < 0 {
		return f.grow(want)
	}
	r := &f.free[best]
	first := r.start
	r.start += want
	r.n -= want
	if r.n == 0 {
		f.free = slices.Delete(f.free, best, best+1)
	}
	return first, nil
}

// grow takes want pages at the end of the file, starting inside a free run
// that touches the end if there is one. A page count that would pass 2^64
// can only come from a lying meta: growing past it would wrap page numbers
// back onto live pages.
func (f *Freelist) grow(want uint64) (uint64, error) {
	first := f.pageCount
	k := len(f.free)
	if k > 0 && f.free[k-1].end() == f.pageCount {
		first = f.free[k-1].start
	}
	if first > math.MaxUint64-want {
		return 0, fmt.Errorf("%w: a file of %d pages cannot grow by %d", errs.ErrCorrupt, f.pageCount, want)
	}
	if first != f.pageCount {
		f.free = f.free[:k-1]
	}
	f.pageCount = first + want
	return first, nil
}

// Free records that the state being built no longer references ref. Either
// way the page is not handed out again before the commit: a page of an
// older generation may be reached by the committed state and by snapshots,
// and a page this transaction wrote must not be written twice at one
// generation, or a lost write could bring back its first content with a
// valid seal (FORMAT.md §8). A page past the end of the file is a misuse
// that Save reports, like a double free.
func (f *Freelist) Free(ref pager.Ref) {
	if ref.Page >= f.pageCount || ref.Page < pager.FirstDataPage {
		if f.err == nil {
			f.err = fmt.Errorf("freelist: page %d freed but the file's pages are %d..%d", ref.Page, pager.FirstDataPage, f.pageCount-1)
		}
		return
	}
	if ref.Gen == f.txGen {
		f.txOwn = append(f.txOwn, ref.Page)
		return
	}
	f.txFreed = append(f.txFreed, ref.Page)
}

// Unalloc gives back n pages from first on that Alloc handed out in this
// transaction and that were never written: unlike freed pages, they are
// reusable at once (no seal at this generation exists to be confused with).
func (f *Freelist) Unalloc(first uint64, n int) {
	if first < pager.FirstDataPage || first+uint64(n) > f.pageCount {
		if f.err == nil {
			f.err = fmt.Errorf("freelist: unalloc of pages %d+%d outside the file", first, n)
		}
		return
	}
	f.insert(run{first, uint64(n)})
}

// Commit ends the transaction. Call it once the pager's commit has returned
// nil. Pages the transaction wrote and freed are free at once: no committed
// state or snapshot ever reached them. Older pages it freed become pending
// on its generation.
func (f *Freelist) Commit() {
	for _, p := range f.txOwn {
		f.insert(run{p, 1})
	}
	if len(f.txFreed) > 0 {
		f.pending[f.txGen] = append(f.pending[f.txGen], f.txFreed...)
	}
	f.txFreed, f.txOwn = nil, nil
	f.saved = nil
}

// insert adds r to the free set, merging it with the runs it touches. A
// page already free is a double free: it is recorded, not inserted, and the
// commit fails rather than hand the page out twice.
func (f *Freelist) insert(r run) {
	i := sort.Search(len(f.free), func(i int) bool { return f.free[i].start > r.start })
	if (i > 0 && f.free[i-1].end() > r.start) || (i < len(f.free) && r.end() > f.free[i].start) || r.start < pager.FirstDataPage {
		if f.err == nil {
			f.err = fmt.Errorf("freelist: page %d freed twice or reserved", r.start)
		}
		return
	}
	if i > 0 && f.free[i-1].end() == r.start {
		f.free[i-1].n += r.n
		if i < len(f.free) && f.free[i-1].end() == f.free[i].start {
			f.free[i-1].n += f.free[i].n
			f.free = slices.Delete(f.free, i, i+1)
		}
		return
	}
	if i < len(f.free) && r.end() == f.free[i].start {
		f.free[i].start = r.start
		f.free[i].n += r.n
		return
	}
	f.free = slices.Insert(f.free, i, r)
}

// trimTail gives back to the file system the free (not pending) pages at the
// end of the file.
func (f *Freelist) trimTail() {
	if k := len(f.free); k > 0 && f.free[k-1].end() == f.pageCount {
		f.pageCount = f.free[k-1].start
		f.free = f.free[:k-1]
	}
}
