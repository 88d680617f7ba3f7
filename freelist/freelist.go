// Package freelist owns the set of free pages of an scdb file: which pages
// a write transaction may allocate, which pages freed by a commit must wait
// for older read snapshots to close, and how the free set is persisted at
// each commit (FORMAT.md §8: a checkpoint of the whole set and a log of
// per-commit changes, so that a commit writes what it changed, not the set).
//
// It never reads or writes a page other than its own freelist pages, and it
// never hands out a page that the last committed state or an open snapshot
// can reach: a page freed by commit G stays pending until every open
// snapshot is at generation G or later.
//
// In memory the set is held as runs in sorted block lists (blist.go): by
// start for merging and lookups, and by length for best-fit allocation
// (runset.go), so allocating and freeing cost O(log runs + block size)
// whatever the size of the set. A transaction keeps the runs it took from
// and gave back to the recorded set; Save writes just those as a log page,
// or a checkpoint of the whole set once the log is as large as the
// checkpoint (persist.go). Load reads a checkpoint and its log back
// (load.go); Open defers that to the first write transaction.
package freelist

import (
	"fmt"
	"math"
	"slices"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Freelist tracks free pages for one open file. It is used by one writer at
// a time and is not safe for concurrent use.
//
// The set the last commit recorded as free (FORMAT.md §8) is free ∪
// pending: free is what Alloc may hand out, pending waits for snapshots.
// During a transaction, taken and added say how the set being built differs
// from the recorded one, so that Save can write only that difference.
type Freelist struct {
	pageCount uint64 // pages [0, pageCount) are in the file
	free      runSet // reusable now; indexed for best fit
	pending   runSet // recorded free, not reusable before the snapshots allow
	pendingAt map[uint64][]run
	disk      persisted // the freelist pages of the last commit

	// A free list opened lazily: src and srcMeta are read at the first
	// Begin (or FreeCount); hold is HoldLoaded's generation for them.
	src      pager.Reader
	srcMeta  pager.Meta
	loadErr  error
	hold     uint64
	holdSet  bool
	unsynced bool // a Commit without Save: the log no longer describes the set

	// The open write transaction, if any.
	txGen     uint64
	txFreed   []uint64   // committed pages the transaction no longer references
	txOwn     []uint64   // pages the transaction wrote and no longer references
	taken     runSet     // recorded free pages the transaction took
	added     runSet     // pages not recorded free that the transaction gives back
	journal   []change   // changes to free since Begin, undone by Rollback
	savedSize uint64     // pageCount at Begin
	saved     *persisted // what Save wrote, adopted by Commit
	err       error      // a misuse seen by Free (a double free), reported by Save
	limit     uint64     // when not 0, Alloc hands out only pages below it (Limit)
	ckpt      bool       // Save writes a checkpoint (Checkpoint)
}

// persisted describes the freelist pages of a commit.
type persisted struct {
	head  pager.Ref   // the meta's freelist head
	ckpt  []pager.Ref // checkpoint pages, in chain order
	log   []pager.Ref // log pages, oldest first
	pages uint64      // pages recorded free
}

// change is one change to free: pages put in (add) or taken out.
type change struct {
	r   run
	add bool
}

// New returns the free list of a newly created, empty file.
func New() *Freelist {
	return &Freelist{
		pageCount: pager.FirstDataPage,
		free:      newRunSet(true),
		pending:   newRunSet(false),
		pendingAt: map[uint64][]run{},
		taken:     newRunSet(false),
		added:     newRunSet(false),
	}
}

// PageCount is the number of pages in the file as the free list sees it: the
// first page it would hand out by growing the file.
func (f *Freelist) PageCount() uint64 { return f.pageCount }

// FreeCount is the number of free pages, pending ones included. A free list
// opened lazily is loaded first (0 if that fails: Err says why).
func (f *Freelist) FreeCount() uint64 {
	f.ensureLoaded()
	return f.free.pages + f.pending.pages + uint64(len(f.txFreed)+len(f.txOwn))
}

// Err reports why a free list opened lazily could not be loaded: the write
// transaction Begin started cannot allocate or commit. Nil otherwise.
func (f *Freelist) Err() error { return f.loadErr }

// HoldLoaded makes every page that the loaded state records as free pending
// on generation gen: Alloc hands none of them out before a Begin whose
// oldestSnapshot is at least gen. A reader in another process may hold a
// snapshot older than the state this free list was loaded from, and pages
// that state calls free may be reachable from it. Call it after Load or
// Open, before the first Begin (later, it holds every page free at the
// time).
func (f *Freelist) HoldLoaded(gen uint64) {
	if f.src != nil {
		if !f.holdSet || gen > f.hold {
			f.hold, f.holdSet = gen, true
		}
		return
	}
	f.holdFree(gen)
}

// holdFree moves every run of free to pending on gen.
func (f *Freelist) holdFree(gen uint64) {
	var runs []run
	f.free.each(func(r run) bool { runs = append(runs, r); return true })
	if f.pending.len() == 0 { // the usual case, right after a load: swap the sets
		f.pending.build(slices.Clone(runs))
		f.free = newRunSet(true)
	} else {
		for _, r := range runs {
			f.free.remove(r) // cannot fail: r is a run of free
			f.pending.add(r) // cannot fail: free and pending are disjoint
		}
	}
	f.pendingAt[gen] = append(f.pendingAt[gen], runs...)
}

// release makes the pages pending on generations up to oldestSnapshot
// free. When that is every pending page and many runs (a hold ending), the
// two sets are merged in one pass instead of run by run.
func (f *Freelist) release(oldestSnapshot uint64) {
	due, n := 0, 0
	for g, runs := range f.pendingAt {
		if g <= oldestSnapshot {
			due++
			n += len(runs)
		}
	}
	if due == 0 {
		return
	}
	if due == len(f.pendingAt) && n > f.free.len()/4 {
		var a, b []run
		f.free.each(func(r run) bool { a = append(a, r); return true })
		f.pending.each(func(r run) bool { b = append(b, r); return true })
		f.free = newRunSet(true)
		f.free.build(coalesce(mergeRuns(a, b)))
		f.pending = newRunSet(false)
		clear(f.pendingAt)
		return
	}
	for g, runs := range f.pendingAt {
		if g <= oldestSnapshot {
			for _, r := range runs {
				if f.pending.remove(r) == nil {
					f.free.add(r) // cannot fail: free and pending are disjoint
				}
			}
			delete(f.pendingAt, g)
		}
	}
}

// coalesce merges the touching runs of an ordered list in place.
func coalesce(runs []run) []run {
	out := runs[:0]
	for _, r := range runs {
		if k := len(out); k > 0 && out[k-1].end() == r.start {
			out[k-1].n += r.n
			continue
		}
		out = append(out, r)
	}
	return out
}

// Begin starts a write transaction that will commit as generation gen.
// Pages freed by commits up to and including oldestSnapshot become
// reusable: no open snapshot can reach them any more. oldestSnapshot is the
// generation of the oldest open read snapshot, or the last committed
// generation when none is open. A free list opened lazily is loaded here;
// if that fails, Err reports it and Alloc and Save fail with it.
func (f *Freelist) Begin(gen, oldestSnapshot uint64) {
	f.ensureLoaded()
	f.release(oldestSnapshot)
	f.txGen = gen
	f.resetTx()
	f.savedSize = f.pageCount
	f.err = nil
}

func (f *Freelist) resetTx() {
	f.limit, f.ckpt = 0, false
	f.txFreed = f.txFreed[:0]
	f.txOwn = f.txOwn[:0]
	f.taken.runs.reset()
	f.taken.pages = 0
	f.added.runs.reset()
	f.added.pages = 0
	f.journal = f.journal[:0]
	f.saved = nil
}

// Rollback forgets every allocation and free since Begin.
func (f *Freelist) Rollback() {
	for i := len(f.journal) - 1; i >= 0; i-- {
		c := f.journal[i]
		if c.add {
			f.free.remove(c.r)
		} else {
			f.free.add(c.r)
		}
	}
	f.pageCount = f.savedSize
	f.resetTx()
	f.err = nil
}

// Alloc returns the first of n contiguous pages. It takes the smallest free
// run that fits (so long runs stay whole for long values), the lowest such
// run on a tie, and grows the file only when no run fits.
func (f *Freelist) Alloc(n int) (uint64, error) {
	if f.loadErr != nil {
		return 0, f.loadErr
	}
	if n < 1 {
		return 0, fmt.Errorf("freelist: alloc of %d pages", n)
	}
	want := uint64(n)
	if f.limit != 0 {
		return f.allocBelow(want)
	}
	r, ok := f.free.bestFit(want)
	if !ok {
		return f.grow(want)
	}
	f.take(run{r.start, want})
	return r.start, nil
}

// grow takes want pages at the end of the file, starting inside a free run
// that touches the end if there is one. A page count that would pass 2^64
// can only come from a lying meta: growing past it would wrap page numbers
// back onto live pages.
func (f *Freelist) grow(want uint64) (uint64, error) {
	first := f.pageCount
	if r, ok := f.free.last(); ok && r.end() == f.pageCount {
		first = r.start
	}
	if first > math.MaxUint64-want {
		return 0, fmt.Errorf("%w: a file of %d pages cannot grow by %d", errs.ErrCorrupt, f.pageCount, want)
	}
	if first != f.pageCount {
		f.take(run{first, f.pageCount - first})
	}
	f.pageCount = first + want
	return first, nil
}

// take removes r, which lies in one free run, from free, and notes it: a
// page taken that the transaction had given back is simply no longer
// added; any other was recorded free by the last commit.
func (f *Freelist) take(r run) {
	f.free.remove(r) // cannot fail: r was found in free
	f.journal = append(f.journal, change{r: r})
	f.added.split(r, func(in run) { f.added.remove(in) }, func(out run) { f.taken.add(out) })
}

// put gives r back to free; it fails (a double free) if a page of r is
// already free.
func (f *Freelist) put(r run) error {
	if err := f.free.add(r); err != nil {
		return err
	}
	f.journal = append(f.journal, change{r: r, add: true})
	f.taken.split(r, func(in run) { f.taken.remove(in) }, func(out run) { f.added.add(out) })
	return nil
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
		f.fail(fmt.Errorf("freelist: page %d freed but the file's pages are %d..%d", ref.Page, pager.FirstDataPage, f.pageCount-1))
		return
	}
	if ref.Gen == f.txGen {
		f.txOwn = append(f.txOwn, ref.Page)
		return
	}
	f.txFreed = append(f.txFreed, ref.Page)
}

func (f *Freelist) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

// Unalloc gives back n pages from first on that Alloc handed out in this
// transaction and that were never written: unlike freed pages, they are
// reusable at once (no seal at this generation exists to be confused with).
func (f *Freelist) Unalloc(first uint64, n int) {
	if n < 1 || first < pager.FirstDataPage || first >= f.pageCount || uint64(n) > f.pageCount-first {
		f.fail(fmt.Errorf("freelist: unalloc of pages %d+%d outside the file", first, n))
		return
	}
	if err := f.put(run{first, uint64(n)}); err != nil {
		f.fail(fmt.Errorf("freelist: unalloc of pages %d+%d: %v", first, n, err))
	}
}

// Commit ends the transaction. Call it once the pager's commit has returned
// nil. Pages the transaction wrote and freed are free at once: no committed
// state or snapshot ever reached them. Older pages it freed become pending
// on its generation.
func (f *Freelist) Commit() {
	for _, p := range f.txOwn {
		f.free.add(run{p, 1}) // Save refused a double free
	}
	if len(f.txFreed) > 0 {
		slices.Sort(f.txFreed)
		var runs []run
		for _, p := range f.txFreed {
			if k := len(runs); k > 0 && runs[k-1].end() == p {
				runs[k-1].n++
				continue
			}
			runs = append(runs, run{p, 1})
		}
		for _, r := range runs {
			f.pending.add(r) // Save refused a double free
		}
		f.pendingAt[f.txGen] = append(f.pendingAt[f.txGen], runs...)
	}
	if f.saved != nil {
		f.disk = *f.saved
		f.unsynced = f.unsynced && len(f.disk.log) > 0 // a checkpoint describes the set again
	} else {
		// Committed without Save (tests do): the pages on disk no longer
		// describe the set, so the next Save writes a checkpoint.
		f.unsynced = true
	}
	f.txFreed, f.txOwn = nil, nil
	f.resetTx()
}

// trimTail gives back to the file system the free (not pending) pages at the
// end of the file. Only a checkpoint commit trims: every run of a log must
// lie within the page count of the meta it is read under (FORMAT.md §8.4),
// so the page count never shrinks under a log. It reports whether it gave
// any page back.
func (f *Freelist) trimTail() (trimmed bool) {
	if r, ok := f.free.last(); ok && r.end() == f.pageCount {
		f.take(r)
		f.pageCount = r.start
		return true
	}
	return false
}

// tailRun is the number of free pages at the end of the file.
func (f *Freelist) tailRun() uint64 {
	if r, ok := f.free.last(); ok && r.end() == f.pageCount {
		return r.n
	}
	return 0
}
