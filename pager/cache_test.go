package pager_test

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/pager"
)

// cachedFile is a committed file of n data pages (tags = page numbers),
// reopened with a cache of cachePages payloads.
func cachedFile(t *testing.T, n int, cachePages int) (*faultfile.File, *pager.Pager) {
	t.Helper()
	f, p := create(t, keyA)
	for pg := uint64(3); pg < uint64(3+n); pg++ {
		writePage(t, p, pg, 1, pg)
	}
	commit(t, p, pager.Meta{Gen: 1, PageCount: uint64(3 + n)})
	g := image(f)
	o := opts()
	o.CacheSize = cachePages * p.PayloadSize()
	q, err := pager.Open(g, keyA, o)
	if err != nil {
		t.Fatal(err)
	}
	return g, q
}

// reads reports how many file reads fn caused.
func reads(f *faultfile.File, fn func()) int {
	before := f.Reads()
	fn()
	return f.Reads() - before
}

func TestCacheHitsAndEvicts(t *testing.T) {
	f, p := cachedFile(t, 10, 3)
	ref := func(pg uint64) pager.Ref { return pager.Ref{Page: pg, Gen: 1} }
	if n := reads(f, func() { wantPage(t, p, ref(3), 3) }); n != 1 {
		t.Fatalf("first read of a page did %d file reads", n)
	}
	if n := reads(f, func() { wantPage(t, p, ref(3), 3) }); n != 0 {
		t.Fatalf("second read of a page did %d file reads, want a cache hit", n)
	}
	wantPage(t, p, ref(4), 4)
	wantPage(t, p, ref(5), 5)
	wantPage(t, p, ref(3), 3) // most recent again
	wantPage(t, p, ref(6), 6) // evicts 4, the least recent
	if n := reads(f, func() { wantPage(t, p, ref(3), 3); wantPage(t, p, ref(5), 5); wantPage(t, p, ref(6), 6) }); n != 0 {
		t.Fatalf("reads of the 3 cached pages did %d file reads", n)
	}
	if n := reads(f, func() { wantPage(t, p, ref(4), 4) }); n != 1 {
		t.Fatalf("read of the evicted page did %d file reads, want 1", n)
	}
	// A wrong generation is never served from the cache.
	if _, err := p.Page(pager.Ref{Page: 3, Gen: 2}); err == nil {
		t.Fatal("page 3 at generation 2 served")
	}
	// ReadPages bypasses the cache.
	if n := reads(f, func() {
		if err := p.ReadPages(ref(3), make([]byte, p.PayloadSize())); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Fatalf("ReadPages did %d file reads", n)
	}
}

func TestCacheTooSmallForAPage(t *testing.T) {
	f, p := create(t, keyA)
	writePage(t, p, 3, 1, 3)
	commit(t, p, pager.Meta{Gen: 1, PageCount: 4})
	o := opts()
	o.CacheSize = 1
	g := image(f)
	q, err := pager.Open(g, keyA, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if n := reads(g, func() { wantPage(t, q, pager.Ref{Page: 3, Gen: 1}, 3) }); n != 1 {
			t.Fatalf("read %d with a 1-byte cache did %d file reads", i, n)
		}
	}
}

// TestCacheBounded reads many pages through a small cache in random order:
// every read returns the right content, and a page read again right away
// comes from the cache.
func TestCacheBounded(t *testing.T) {
	const n = 60
	f, p := cachedFile(t, n, 4)
	rng := rand.New(rand.NewPCG(1, 2))
	misses := 0
	for i := 0; i < 1000; i++ {
		pg := uint64(3 + rng.IntN(n))
		misses += reads(f, func() { wantPage(t, p, pager.Ref{Page: pg, Gen: 1}, pg) })
		if r := reads(f, func() { wantPage(t, p, pager.Ref{Page: pg, Gen: 1}, pg) }); r != 0 {
			t.Fatalf("page %d read twice in a row missed the cache", pg)
		}
	}
	// With 4 of 60 pages cached, most random reads must miss: the cache
	// does not grow past its bound.
	if misses < 800 {
		t.Fatalf("only %d of 1000 random reads missed a 4-page cache", misses)
	}
}

func TestCacheRewrittenPage(t *testing.T) {
	_, p := create(t, keyA)
	writePage(t, p, 3, 1, 1)
	commit(t, p, pager.Meta{Gen: 1, PageCount: 4})
	wantPage(t, p, pager.Ref{Page: 3, Gen: 1}, 1) // now cached
	writePage(t, p, 3, 2, 2)                      // rewritten in place
	_, err := p.Page(pager.Ref{Page: 3, Gen: 1})
	wantPageError(t, err, 3) // the cached old payload is gone
	wantPage(t, p, pager.Ref{Page: 3, Gen: 2}, 2)
	// Rewritten at the same generation (a rolled-back transaction's page
	// reused): the new payload, not the cached one.
	writePage(t, p, 3, 2, 3)
	wantPage(t, p, pager.Ref{Page: 3, Gen: 2}, 3)
}

func TestConcurrentReads(t *testing.T) {
	_, p := cachedFile(t, 20, 5)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 0))
			for i := 0; i < 300; i++ {
				pg := uint64(3 + rng.IntN(20))
				got, err := p.Page(pager.Ref{Page: pg, Gen: 1})
				if err != nil || got[8] != payload(p, pg)[8] || got[len(got)-9] != payload(p, pg)[len(got)-9] {
					t.Errorf("page %d: %v", pg, err)
					return
				}
			}
		}(uint64(w))
	}
	wg.Wait()
}
