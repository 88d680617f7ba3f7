package freelist_test

import (
	"testing"

	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// These benchmarks use only the API the whole-set freelist had, so they run
// on both designs. Measured when the checkpoint and log replaced it (2 shared
// cores, median of 3, -benchtime 2s):
//
//	                    whole set        checkpoint + log
//	CommitFragmented    7.27 ms          12.1 us   (179 -> 1.99 pages/commit)
//	CommitFresh         3.0 us           3.4 us
//	AllocUnalloc        50.4 us          0.83 us
//	LoadFragmented      1.93 ms          2.53 ms   (paid by the first write after an open)

// fragRuns is issue 9's fragmented file: ~60,000 scattered free pages.
const fragRuns = 60000

// fragmentedList builds, in memory only, a free list whose last commit
// recorded every other page of 2*runs as free.
func fragmentedList(b *testing.B, runs int) *freelist.Freelist {
	f := freelist.New()
	f.Begin(1, 0)
	first, err := f.Alloc(2 * runs)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Save(payload4k, discard); err != nil {
		b.Fatal(err)
	}
	f.Commit()
	f.Begin(2, 1)
	for p := first; p < first+uint64(2*runs); p += 2 {
		f.Free(pager.Ref{Page: p, Gen: 1})
	}
	if _, err := f.Save(payload4k, discard); err != nil {
		b.Fatal(err)
	}
	f.Commit()
	return f
}

// BenchmarkCommitFragmented is the free list's share of a 1-record commit
// on a file with 60,000 scattered free pages: 3 pages allocated, the 3 the
// previous commit allocated freed, Save (pages counted, not sealed),
// Commit. It reports the freelist pages written per commit.
func BenchmarkCommitFragmented(b *testing.B) { benchCommit(b, fragRuns) }

// BenchmarkCommitFresh is the same on a file with nothing free.
func BenchmarkCommitFresh(b *testing.B) { benchCommit(b, 0) }

func benchCommit(b *testing.B, runs int) {
	f := freelist.New()
	if runs > 0 {
		f = fragmentedList(b, runs)
	}
	gen := uint64(3)
	var last []pager.Ref
	pages := 0
	write := func(uint64, []byte) error { pages++; return nil }
	b.ResetTimer()
	for b.Loop() {
		f.Begin(gen, gen-1)
		var now []pager.Ref
		for range 3 {
			p, err := f.Alloc(1)
			if err != nil {
				b.Fatal(err)
			}
			now = append(now, pager.Ref{Page: p, Gen: gen})
		}
		for _, r := range last {
			f.Free(r)
		}
		if _, err := f.Save(payload4k, write); err != nil {
			b.Fatal(err)
		}
		f.Commit()
		last = now
		gen++
	}
	b.ReportMetric(float64(pages)/float64(b.N), "pages/commit")
}

// BenchmarkAllocUnalloc takes one page from and gives it back to a free set
// of 60,000 runs: the allocator's and the set's insert cost.
func BenchmarkAllocUnalloc(b *testing.B) {
	f := fragmentedList(b, fragRuns)
	f.Begin(3, 2)
	b.ResetTimer()
	for b.Loop() {
		p, err := f.Alloc(1)
		if err != nil {
			b.Fatal(err)
		}
		f.Unalloc(p, 1)
	}
}

// fragmentedStore saves a free set of fragRuns one-page runs (every other
// page of a 2·fragRuns-page stretch) and returns the store and its meta.
func fragmentedStore(b *testing.B) (*memstore.Store, pager.Meta) {
	s := newStoreN(payload4k, 3*fragRuns)
	f := freelist.New()
	f.Begin(s.Gen(), 0)
	first, err := f.Alloc(2 * fragRuns)
	if err != nil {
		b.Fatal(err)
	}
	save(b, f, s)
	f.Begin(s.Gen(), s.Gen()-1)
	for p := first; p < first+2*fragRuns; p += 2 {
		f.Free(pager.Ref{Page: p, Gen: 1})
	}
	return s, save(b, f, s)
}

// BenchmarkLoadFragmented reads a checkpoint of 60,000 runs from memory:
// what the first write transaction after an open pays.
func BenchmarkLoadFragmented(b *testing.B) {
	s, m := fragmentedStore(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := freelist.Load(s, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHoldRelease loads 60,000 free runs, holds them (HoldLoaded, as a
// writer does while readers in other processes may hold older snapshots)
// and releases them at the next Begin past the hold.
func BenchmarkHoldRelease(b *testing.B) {
	s, m := fragmentedStore(b)
	b.ResetTimer()
	for b.Loop() {
		g, err := freelist.Load(s, m)
		if err != nil {
			b.Fatal(err)
		}
		g.HoldLoaded(m.Gen + 1)
		g.Begin(m.Gen+1, m.Gen)
		g.Rollback()
		g.Begin(m.Gen+2, m.Gen+1)
		g.Rollback()
	}
}
