package freelist

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Freelist page payload layout (see FORMAT.md, "Freelist pages"):
//
//	0  1  type = pager.TypeFreelist
//	1  3  reserved, zero
//	4  4  entry count
//	8  8  next freelist page (0 = last); same generation as this page
//	16 .. entries: start page u64, run length u32
const (
	pageHeaderSize = 16
	entrySize      = 12
)

func entriesPerPage(payloadSize int) int { return (payloadSize - pageHeaderSize) / entrySize }

// persistSet is what a commit records as free: free, pending and freed by
// the transaction, merged into runs no longer than a u32 can say.
func (f *Freelist) persistSet() ([]run, error) {
	all := slices.Clone(f.free)
	for _, pages := range f.pending {
		for _, p := range pages {
			all = append(all, run{p, 1})
		}
	}
	for _, p := range f.txFreed {
		all = append(all, run{p, 1})
	}
	for _, p := range f.txOwn {
		all = append(all, run{p, 1})
	}
	slices.SortFunc(all, func(a, b run) int { return cmp.Compare(a.start, b.start) })
	var out []run
	for _, r := range all {
		if k := len(out); k > 0 {
			last := &out[k-1]
			if r.start < last.end() {
				return nil, fmt.Errorf("freelist: page %d is free twice", r.start)
			}
			if r.start == last.end() && last.n+r.n <= math.MaxUint32 {
				last.n += r.n
				continue
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// Save writes the free set into new freelist pages at the transaction's
// generation, calling write for each page, and returns the first one (zero
// when nothing is free). The previous commit's freelist pages are freed.
// Afterwards PageCount is the page count to commit.
func (f *Freelist) Save(payloadSize int, write func(pgno uint64, payload []byte) error) (pager.Ref, error) {
	if f.err != nil {
		return pager.Ref{}, f.err
	}
	for _, ref := range f.ownPages {
		f.Free(ref)
	}
	f.ownPages = nil
	f.trimTail()
	set, err := f.persistSet()
	if err != nil || len(set) == 0 {
		return pager.Ref{}, err
	}
	per := entriesPerPage(payloadSize)
	// Allocating can split one run of the set in two, hence the +1.
	npages := (len(set) + 1 + per - 1) / per
	first, err := f.Alloc(npages)
	if err != nil {
		return pager.Ref{}, err
	}
	if set, err = f.persistSet(); err != nil {
		return pager.Ref{}, err
	}
	if len(set) > npages*per {
		return pager.Ref{}, fmt.Errorf("freelist: %d runs do not fit %d pages", len(set), npages)
	}
	payload := make([]byte, payloadSize)
	for i := 0; i < npages; i++ {
		pgno := first + uint64(i)
		next := uint64(0)
		if i < npages-1 {
			next = pgno + 1
		}
		chunk := set[min(i*per, len(set)):min((i+1)*per, len(set))]
		encodePage(payload, chunk, next)
		if err := write(pgno, payload); err != nil {
			return pager.Ref{}, err
		}
		f.ownPages = append(f.ownPages, pager.Ref{Page: pgno, Gen: f.txGen})
	}
	return pager.Ref{Page: first, Gen: f.txGen}, nil
}

func encodePage(payload []byte, runs []run, next uint64) {
	clear(payload)
	payload[0] = pager.TypeFreelist
	binary.LittleEndian.PutUint32(payload[4:], uint32(len(runs)))
	binary.LittleEndian.PutUint64(payload[8:], next)
	for i, r := range runs {
		e := payload[pageHeaderSize+i*entrySize:]
		binary.LittleEndian.PutUint64(e, r.start)
		binary.LittleEndian.PutUint32(e[8:], uint32(r.n))
	}
}

// Load reads the free list that meta m records. Every run must lie inside
// [FirstDataPage, m.PageCount), in ascending order, without overlap; the
// chain may not visit a page twice. After a reopen no snapshot is open, so
// every page the commit recorded as free is reusable at once.
//
// A freelist that authenticates can still lie: one that calls live pages
// free makes the next commit overwrite them, which the pages' referrers then
// detect as corruption. Load refuses the cheap cases, runs over the pages
// the meta itself points at (the freelist's own pages and the directory
// root); finding every live page a run covers takes a walk of the whole
// file, which is Check's job, not Open's.
func Load(r pager.Reader, m pager.Meta) (*Freelist, error) {
	f := New()
	f.pageCount = m.PageCount
	err := Walk(r, m, func(ref pager.Ref) { f.ownPages = append(f.ownPages, ref) }, func(start, n uint64) error {
		f.free = append(f.free, run{start, n})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Runs are stored merged, but touching runs are harmless: merge them.
	merged := f.free[:0]
	for _, r := range f.free {
		if k := len(merged); k > 0 && merged[k-1].end() == r.start {
			merged[k-1].n += r.n
			continue
		}
		merged = append(merged, r)
	}
	f.free = merged
	for _, own := range f.ownPages {
		if f.isFree(own.Page) {
			return nil, errs.Corrupt(own.Page, "freelist page is itself recorded as free")
		}
	}
	if !m.Tree.IsZero() && f.isFree(m.Tree.Page) {
		return nil, errs.Corrupt(m.Freelist.Page, "freelist records the directory root, page %d, as free", m.Tree.Page)
	}
	return f, nil
}

// isFree reports whether pgno lies in a run of f.free.
func (f *Freelist) isFree(pgno uint64) bool {
	i := sort.Search(len(f.free), func(i int) bool { return f.free[i].end() > pgno })
	return i < len(f.free) && f.free[i].start <= pgno
}

// Walk visits the freelist pages of meta m (page) and their runs (run), in
// order, checking each page's layout and that the runs lie in the file, in
// ascending order, without overlap (FORMAT.md §8). A run callback error
// stops the walk and is reported as corruption of the page that holds the
// run. A chain that returns to a page it visited is a loop: it is caught at
// the first repeat, whatever the page count claims.
func Walk(r pager.Reader, m pager.Meta, page func(ref pager.Ref), runFn func(start, n uint64) error) error {
	ref := m.Freelist
	per := entriesPerPage(r.PayloadSize())
	seen := map[uint64]struct{}{}
	var end uint64 // end of the previous run
	for !ref.IsZero() {
		if ref.Page < pager.FirstDataPage || ref.Page >= m.PageCount {
			return errs.Corrupt(ref.Page, "freelist page outside the file of %d pages", m.PageCount)
		}
		if _, dup := seen[ref.Page]; dup {
			return errs.Corrupt(ref.Page, "freelist chain returns to page %d (a loop)", ref.Page)
		}
		seen[ref.Page] = struct{}{}
		b, err := r.Page(ref)
		if err != nil {
			return err
		}
		if b[0] != pager.TypeFreelist || b[1]|b[2]|b[3] != 0 {
			return errs.Corrupt(ref.Page, "not a freelist page (type %d)", b[0])
		}
		count := binary.LittleEndian.Uint32(b[4:])
		if int64(count) > int64(per) {
			return errs.Corrupt(ref.Page, "freelist page claims %d entries, room for %d", count, per)
		}
		page(ref)
		for i := 0; i < int(count); i++ {
			e := b[pageHeaderSize+i*entrySize:]
			start, n := binary.LittleEndian.Uint64(e), uint64(binary.LittleEndian.Uint32(e[8:]))
			if n == 0 || start < pager.FirstDataPage || start >= m.PageCount || n > m.PageCount-start {
				return errs.Corrupt(ref.Page, "free run %d+%d outside pages %d..%d", start, n, pager.FirstDataPage, m.PageCount)
			}
			if start < end {
				return errs.Corrupt(ref.Page, "free run at page %d overlaps or is out of order", start)
			}
			end = start + n
			if err := runFn(start, n); err != nil {
				return errs.Corrupt(ref.Page, "%v", err)
			}
		}
		next := binary.LittleEndian.Uint64(b[8:])
		ref = pager.Ref{Page: next, Gen: ref.Gen}
	}
	return nil
}
