package freelist

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// run is a range of pages [start, start+n).
type run struct{ start, n uint64 }

func (r run) end() uint64 { return r.start + r.n }

func byStart(a, b run) int { return cmp.Compare(a.start, b.start) }

func byLength(a, b run) int {
	if c := cmp.Compare(a.n, b.n); c != 0 {
		return c
	}
	return cmp.Compare(a.start, b.start)
}

// runSet is a set of pages held as maximal runs (no two runs overlap or
// touch), ordered by start. With an index (indexed) it also finds the
// smallest run of at least n pages, the lowest one on a tie, for best-fit
// allocation. Every operation costs O(log runs + maxBlock).
type runSet struct {
	runs  blist[run]
	pages uint64
	idx   *lengthIndex
}

// smallRuns is the longest run length with a bucket of its own in the
// length index; longer runs share one list ordered by (length, start).
const smallRuns = 64

// lengthIndex finds best-fit runs. Runs of length k ≤ smallRuns are in
// small[k-1], a list of their starts (so a set loaded in order of start
// builds its buckets by appending); nonEmpty has bit k-1 set when that
// bucket holds any. Longer runs are in large.
type lengthIndex struct {
	small    [smallRuns]blist[uint64]
	nonEmpty uint64
	large    blist[run]
}

func newRunSet(indexed bool) runSet {
	s := runSet{runs: newBlist(byStart)}
	if indexed {
		s.idx = &lengthIndex{large: newBlist(byLength)}
		for i := range s.idx.small {
			s.idx.small[i] = newBlist(cmp.Compare[uint64])
		}
	}
	return s
}

func (s *runSet) len() int { return s.runs.len() }

// containing returns the position of the run that holds page p.
func (s *runSet) containing(p uint64) (pos, bool) {
	at := s.runs.lowerBound(run{start: p})
	if s.runs.valid(at) && s.runs.at(at).start == p {
		return at, true
	}
	before, ok := s.runs.prev(at)
	if ok && s.runs.at(before).end() > p {
		return before, true
	}
	return at, false
}

func (s *runSet) contains(p uint64) bool {
	_, ok := s.containing(p)
	return ok
}

// add puts the pages of r into the set, merging it with the runs it
// touches. It fails, changing nothing, if any page of r is already in.
func (s *runSet) add(r run) error {
	if r.n == 0 || r.start > math.MaxUint64-r.n {
		return fmt.Errorf("pages %d+%d are not a run", r.start, r.n)
	}
	if last, ok := s.runs.last(); !ok || last.end() < r.start {
		s.runs.insert(r) // past the last run: an append, no search
		s.index(r)
		s.pages += r.n
		return nil
	}
	at := s.runs.lowerBound(run{start: r.start})
	before, hasBefore := s.runs.prev(at)
	hasAfter := s.runs.valid(at)
	if (hasAfter && s.runs.at(at).start < r.end()) || (hasBefore && s.runs.at(before).end() > r.start) {
		return fmt.Errorf("page %d is already free", s.firstCommon(r))
	}
	mergeBefore := hasBefore && s.runs.at(before).end() == r.start
	mergeAfter := hasAfter && s.runs.at(at).start == r.end()
	switch {
	case mergeBefore && mergeAfter:
		b, a := s.runs.at(before), s.runs.at(at)
		s.unindex(b)
		s.unindex(a)
		m := run{b.start, b.n + r.n + a.n}
		s.runs.set(before, m)
		s.runs.delete(at)
		s.index(m)
	case mergeBefore:
		b := s.runs.at(before)
		s.unindex(b)
		m := run{b.start, b.n + r.n}
		s.runs.set(before, m)
		s.index(m)
	case mergeAfter:
		a := s.runs.at(at)
		s.unindex(a)
		m := run{r.start, r.n + a.n}
		s.runs.set(at, m)
		s.index(m)
	default:
		s.runs.insert(r)
		s.index(r)
	}
	s.pages += r.n
	return nil
}

// firstCommon is the first page of r in the set (r overlaps the set).
func (s *runSet) firstCommon(r run) uint64 {
	if s.contains(r.start) {
		return r.start
	}
	return s.runs.at(s.runs.lowerBound(run{start: r.start})).start
}

// remove takes the pages of r out of the set. It fails, changing nothing,
// unless every page of r is in the set.
func (s *runSet) remove(r run) error {
	if r.n == 0 || r.start > math.MaxUint64-r.n {
		return fmt.Errorf("pages %d+%d are not a run", r.start, r.n)
	}
	at, ok := s.containing(r.start)
	if !ok || s.runs.at(at).end() < r.end() {
		return fmt.Errorf("pages %d+%d are not all free", r.start, r.n)
	}
	old := s.runs.at(at)
	s.unindex(old)
	left, right := run{old.start, r.start - old.start}, run{r.end(), old.end() - r.end()}
	switch {
	case left.n > 0:
		s.runs.set(at, left)
		s.index(left)
		if right.n > 0 {
			s.runs.insert(right)
			s.index(right)
		}
	case right.n > 0:
		s.runs.set(at, right)
		s.index(right)
	default:
		s.runs.delete(at)
	}
	s.pages -= r.n
	return nil
}

// split calls in for each part of r that lies in the set and out for each
// part that does not, in order of page number.
func (s *runSet) split(r run, in, out func(run)) {
	var parts []run // the set's runs clipped to r
	at, ok := s.containing(r.start)
	if !ok {
		at = s.runs.lowerBound(run{start: r.start})
	}
	for ; s.runs.valid(at); at = s.next(at) {
		x := s.runs.at(at)
		if x.start >= r.end() {
			break
		}
		lo, hi := max(x.start, r.start), min(x.end(), r.end())
		parts = append(parts, run{lo, hi - lo})
	}
	p := r.start
	for _, x := range parts {
		if x.start > p {
			out(run{p, x.start - p})
		}
		in(x)
		p = x.end()
	}
	if p < r.end() {
		out(run{p, r.end() - p})
	}
}

func (s *runSet) next(p pos) pos {
	p.i++
	if p.i == len(s.runs.blocks[p.b]) {
		p.b++
		p.i = 0
	}
	return p
}

// bestFit returns the smallest run of at least n pages, the lowest such run
// on a tie. The set must be indexed.
func (s *runSet) bestFit(n uint64) (run, bool) {
	x := s.idx
	if n <= smallRuns {
		if m := x.nonEmpty &^ (1<<(n-1) - 1); m != 0 {
			k := bits.TrailingZeros64(m)
			start, _ := x.small[k].first()
			return run{start, uint64(k) + 1}, true
		}
	}
	at := x.large.lowerBound(run{n: n})
	if !x.large.valid(at) {
		return run{}, false
	}
	return x.large.at(at), true
}

// bestFitBelow is bestFit among the runs whose first n pages lie below
// limit. The set must be indexed.
func (s *runSet) bestFitBelow(n, limit uint64) (run, bool) {
	x := s.idx
	if n <= smallRuns {
		for m := x.nonEmpty &^ (1<<(n-1) - 1); m != 0; m &= m - 1 {
			k := bits.TrailingZeros64(m)
			if start, _ := x.small[k].first(); start+n <= limit {
				return run{start, uint64(k) + 1}, true
			}
		}
	}
	var found run
	ok := false
	x.large.each(func(r run) bool {
		if r.n >= n && r.start+n <= limit {
			found, ok = r, true
			return false
		}
		return true
	})
	return found, ok
}

func (s *runSet) last() (run, bool) { return s.runs.last() }

func (s *runSet) each(fn func(run) bool) { s.runs.each(fn) }

func (s *runSet) index(r run) {
	x := s.idx
	if x == nil {
		return
	}
	if r.n <= smallRuns {
		x.small[r.n-1].insert(r.start)
		x.nonEmpty |= 1 << (r.n - 1)
		return
	}
	x.large.insert(r)
}

func (s *runSet) unindex(r run) {
	x := s.idx
	if x == nil {
		return
	}
	if r.n <= smallRuns {
		l := &x.small[r.n-1]
		l.delete(l.lowerBound(r.start))
		if l.len() == 0 {
			x.nonEmpty &^= 1 << (r.n - 1)
		}
		return
	}
	x.large.delete(x.large.lowerBound(r))
}

// build fills the empty set with runs, which must be in order of start,
// without overlap or touching: what loading a checkpoint does, in O(runs).
func (s *runSet) build(runs []run) {
	s.runs.build(runs)
	s.pages = runPages(runs)
	x := s.idx
	if x == nil {
		return
	}
	var small [smallRuns][]uint64
	var large []run
	for _, r := range runs {
		if r.n <= smallRuns {
			small[r.n-1] = append(small[r.n-1], r.start)
			continue
		}
		large = append(large, r)
	}
	for i, starts := range small {
		if len(starts) > 0 {
			x.small[i].build(starts)
			x.nonEmpty |= 1 << i
		}
	}
	slices.SortFunc(large, byLength)
	x.large.build(large)
}
