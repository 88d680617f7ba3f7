package freelist_test

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// fataler is what the shared helpers need of *testing.T and *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// newStore returns a memstore where every page below 1<<14 may be written:
// the free list under test decides which pages it writes, not the store.
func newStore(payload int) *memstore.Store { return newStoreN(payload, 1<<14) }

// newStoreN is newStore for files of fewer than n pages.
func newStoreN(payload, n int) *memstore.Store {
	s := memstore.New(payload)
	if _, err := s.Alloc(n); err != nil {
		panic(err)
	}
	return s
}

// save saves f into s at s's generation, commits, and returns the meta
// the pager would commit.
func save(t fataler, f *freelist.Freelist, s *memstore.Store) pager.Meta {
	t.Helper()
	r, err := f.Save(s.PayloadSize(), s.WritePage)
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	m := pager.Meta{Gen: s.Gen(), PageCount: f.PageCount(), Freelist: r}
	f.Commit()
	s.NextGen()
	return m
}

// persisted walks the free list m records: its chain pages and its free
// pages, each sorted.
func persisted(t fataler, r pager.Reader, m pager.Meta) (chain, free []uint64) {
	t.Helper()
	err := freelist.Walk(r, m, func(ref pager.Ref) {
		if ref.Gen > m.Freelist.Gen {
			t.Fatalf("freelist page %v, newer than the head %v", ref, m.Freelist)
		}
		chain = append(chain, ref.Page)
	}, func(start, n uint64) error {
		for p := start; p < start+n; p++ {
			free = append(free, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	slices.Sort(chain)
	if !slices.IsSorted(free) {
		t.Fatalf("persisted runs are not in order")
	}
	return chain, free
}

func setOf(pages []uint64) map[uint64]bool {
	m := map[uint64]bool{}
	for _, p := range pages {
		m[p] = true
	}
	return m
}

func TestSaveLoadRoundTrip(t *testing.T) {
	s := newStore(payloadSize)
	f := freelist.New()
	f.Begin(s.Gen(), 0)
	wantAlloc(t, f, 2000, 3) // pages 3..2002
	m1 := save(t, f, s)
	if !m1.Freelist.IsZero() || m1.PageCount != 2003 {
		t.Fatalf("nothing free, yet meta %+v", m1)
	}
	g, err := freelist.Load(s, m1)
	if err != nil || g.FreeCount() != 0 || g.PageCount() != 2003 {
		t.Fatalf("Load of an empty free list: %v", err)
	}

	// Every other page free: 1000 runs, more than ten freelist pages.
	f.Begin(s.Gen(), s.Gen()-1)
	var freed []uint64
	for p := uint64(3); p < 2003; p += 2 {
		f.Free(ref(p, 1))
		freed = append(freed, p)
	}
	m2 := save(t, f, s)
	chain, free := persisted(t, s, m2)
	if len(chain) < 10 {
		t.Fatalf("%d freelist pages for 1000 runs", len(chain))
	}
	if !slices.Equal(free, freed) {
		t.Fatalf("persisted %d free pages, want the %d freed", len(free), len(freed))
	}
	for _, p := range chain {
		if p < 2003 && p%2 == 0 {
			t.Fatalf("freelist page %d is a live page", p)
		}
	}

	g, err = freelist.Load(s, m2)
	if err != nil {
		t.Fatal(err)
	}
	if g.PageCount() != m2.PageCount || g.FreeCount() != uint64(len(freed)) {
		t.Fatalf("loaded %d pages %d free, want %d %d", g.PageCount(), g.FreeCount(), m2.PageCount, len(freed))
	}
	// The loaded free list behaves as the one that saved it once no
	// snapshot is open.
	if h1, h2 := record(t, f, 3), record(t, g, 3); !slices.Equal(h1, h2) {
		t.Fatal("loaded free list behaves differently from the saved one")
	}

	// The next commit frees the old chain and records it as free.
	g, _ = freelist.Load(s, m2)
	g.Begin(s.Gen(), s.Gen()-1)
	m3 := save(t, g, s)
	chain3, free3 := persisted(t, s, m3)
	want := setOf(freed)
	for _, p := range chain {
		want[p] = true
	}
	for _, p := range chain3 {
		if !want[p] && p < m2.PageCount {
			t.Fatalf("new freelist page %d was neither free nor past the end", p)
		}
		delete(want, p)
	}
	if len(free3) != len(want) {
		t.Fatalf("persisted %d free pages, want %d", len(free3), len(want))
	}
	for _, p := range free3 {
		if !want[p] {
			t.Fatalf("page %d persisted as free", p)
		}
	}

	// Every free page is handed out before the file grows.
	g, err = freelist.Load(s, m3)
	if err != nil {
		t.Fatal(err)
	}
	g.Begin(s.Gen(), s.Gen()-1)
	got := map[uint64]bool{}
	for range free3 {
		got[alloc(t, g, 1)] = true
	}
	if len(got) != len(want) {
		t.Fatalf("allocated %d distinct pages, want %d", len(got), len(want))
	}
	for p := range got {
		if !want[p] {
			t.Fatalf("allocated page %d, which was not free", p)
		}
	}
	wantAlloc(t, g, 1, m3.PageCount)
}

// flEntry is one run in a hand-made freelist page.
type flEntry struct {
	start uint64
	n     uint32
}

// flPage encodes a freelist page by hand, as FORMAT.md describes it.
func flPage(payload int, next uint64, entries ...flEntry) []byte {
	b := make([]byte, payload)
	b[0] = pager.TypeFreelist
	binary.LittleEndian.PutUint32(b[4:], uint32(len(entries)))
	binary.LittleEndian.PutUint64(b[8:], next)
	for i, e := range entries {
		binary.LittleEndian.PutUint64(b[16+12*i:], e.start)
		binary.LittleEndian.PutUint32(b[16+12*i+8:], e.n)
	}
	return b
}

func TestLoadRejects(t *testing.T) {
	const pageCount = 100
	type page struct {
		pgno    uint64
		payload []byte
	}
	p := func(pgno, next uint64, e ...flEntry) page { return page{pgno, flPage(payloadSize, next, e...)} }
	edit := func(pg page, fn func(b []byte)) page { fn(pg.payload); return pg }
	tests := []struct {
		name  string
		root  uint64
		pages []page
		bad   uint64 // the page the error names
	}{
		{"overlapping runs", 50, []page{p(50, 0, flEntry{10, 5}, flEntry{12, 3})}, 50},
		{"duplicate run", 50, []page{p(50, 0, flEntry{10, 1}, flEntry{10, 1})}, 50},
		{"runs out of order", 50, []page{p(50, 0, flEntry{20, 1}, flEntry{10, 1})}, 50},
		{"overlap across pages", 50, []page{p(50, 51, flEntry{10, 5}), p(51, 0, flEntry{12, 1})}, 51},
		{"run on page 0", 50, []page{p(50, 0, flEntry{0, 1})}, 50},
		{"run on a meta page", 50, []page{p(50, 0, flEntry{2, 1})}, 50},
		{"run past the end", 50, []page{p(50, 0, flEntry{99, 2})}, 50},
		{"run at the end", 50, []page{p(50, 0, flEntry{pageCount, 1})}, 50},
		{"run wrapping around", 50, []page{p(50, 0, flEntry{1<<64 - 1, 2})}, 50},
		{"empty run", 50, []page{p(50, 0, flEntry{10, 0})}, 50},
		{"run over its own page", 50, []page{p(50, 0, flEntry{49, 3})}, 50},
		{"run over a later chain page", 50, []page{p(50, 51, flEntry{51, 1}), p(51, 0)}, 51},
		{"too many entries", 50, []page{edit(p(50, 0), func(b []byte) { binary.LittleEndian.PutUint32(b[4:], 81) })}, 50},
		{"wrong page type", 50, []page{edit(p(50, 0), func(b []byte) { b[0] = pager.TypeLeaf })}, 50},
		{"reserved byte", 50, []page{edit(p(50, 0), func(b []byte) { b[2] = 1 })}, 50},
		{"loop to itself", 50, []page{p(50, 50)}, 50},
		{"loop to itself with runs", 50, []page{p(50, 50, flEntry{10, 1})}, 50},
		{"loop of two", 50, []page{p(50, 51), p(51, 50)}, 50},
		{"next past the end", 50, []page{p(50, 100)}, 100},
		{"next is a meta page", 50, []page{p(50, 1)}, 1},
		{"root past the end", 150, nil, 150},
		{"root is page 2", 2, nil, 2},
		{"root never written", 60, nil, 60},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(payloadSize)
			for _, pg := range tc.pages {
				if err := s.WritePage(pg.pgno, pg.payload); err != nil {
					t.Fatal(err)
				}
			}
			m := pager.Meta{Gen: s.Gen(), PageCount: pageCount, Freelist: ref(tc.root, s.Gen())}
			_, err := freelist.Load(s, m)
			if !errors.Is(err, errs.ErrCorrupt) {
				t.Fatalf("Load: %v, want ErrCorrupt", err)
			}
			var pe *errs.PageError
			if !errors.As(err, &pe) || pe.Page != tc.bad {
				t.Fatalf("Load: %v, want corruption on page %d", err, tc.bad)
			}
		})
	}
}

func TestLoadAccepts(t *testing.T) {
	s := newStore(payloadSize)
	// Touching runs (not merged by the writer) and an empty page.
	s.WritePage(50, flPage(payloadSize, 51, flEntry{10, 2}, flEntry{12, 3}))
	s.WritePage(51, flPage(payloadSize, 0))
	g, err := freelist.Load(s, pager.Meta{Gen: 1, PageCount: 100, Freelist: ref(50, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if g.FreeCount() != 5 {
		t.Fatalf("FreeCount %d, want 5", g.FreeCount())
	}
	g.Begin(2, 1)
	wantAlloc(t, g, 5, 10) // merged into one run of five
}

func TestLoadWrongGeneration(t *testing.T) {
	s := newStore(payloadSize)
	s.WritePage(50, flPage(payloadSize, 0, flEntry{10, 2}))
	_, err := freelist.Load(s, pager.Meta{Gen: 2, PageCount: 100, Freelist: ref(50, 2)})
	var pe *errs.PageError
	if !errors.As(err, &pe) || pe.Page != 50 {
		t.Fatalf("Load of a page at the wrong generation: %v", err)
	}
}

// TestWalkLoopUnderLyingPageCount: a meta that claims 2^60 pages made the
// chain bound (at most page count pages) useless, and an empty freelist page
// pointing at itself was followed 2^60 times. The loop must be caught at the
// first repeat, by Walk (Stats, Check) and Load (a writable Open) alike.
func TestWalkLoopUnderLyingPageCount(t *testing.T) {
	s := newStore(payloadSize)
	s.WritePage(50, flPage(payloadSize, 51))
	s.WritePage(51, flPage(payloadSize, 50))
	m := pager.Meta{Gen: s.Gen(), PageCount: 1 << 60, Freelist: ref(50, s.Gen())}
	err := freelist.Walk(s, m, func(pager.Ref) {}, func(uint64, uint64) error { return nil })
	var pe *errs.PageError
	if !errors.As(err, &pe) || pe.Page != 50 {
		t.Fatalf("Walk: %v, want corruption on page 50", err)
	}
	if _, err := freelist.Load(s, m); !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("Load: %v, want ErrCorrupt", err)
	}
}

// TestWalkChecksOrder: every caller of Walk, not only Load, gets the runs
// in ascending order without overlap; Stats summed overlapping runs into a
// free count larger than the file.
func TestWalkChecksOrder(t *testing.T) {
	s := newStore(payloadSize)
	s.WritePage(50, flPage(payloadSize, 51, flEntry{10, 40}))
	s.WritePage(51, flPage(payloadSize, 0, flEntry{10, 40}))
	m := pager.Meta{Gen: s.Gen(), PageCount: 100, Freelist: ref(50, s.Gen())}
	var total uint64
	err := freelist.Walk(s, m, func(pager.Ref) {}, func(_, n uint64) error { total += n; return nil })
	var pe *errs.PageError
	if !errors.As(err, &pe) || pe.Page != 51 {
		t.Fatalf("Walk: %v (free pages %d), want corruption on page 51", err, total)
	}
}

// TestLoadRejectsRunOverTreeRoot: an authentic freelist that calls the
// directory root free would have the next commit overwrite it. The meta
// names the root, so Open can refuse it without walking the file.
func TestLoadRejectsRunOverTreeRoot(t *testing.T) {
	s := newStore(payloadSize)
	s.WritePage(50, flPage(payloadSize, 0, flEntry{10, 5}, flEntry{20, 1}))
	for _, root := range []uint64{10, 14, 20} {
		m := pager.Meta{Gen: s.Gen(), PageCount: 100, Freelist: ref(50, s.Gen()), Tree: ref(root, s.Gen())}
		_, err := freelist.Load(s, m)
		var pe *errs.PageError
		if !errors.As(err, &pe) || pe.Page != 50 {
			t.Errorf("root %d: Load: %v, want corruption on page 50", root, err)
		}
	}
	m := pager.Meta{Gen: s.Gen(), PageCount: 100, Freelist: ref(50, s.Gen()), Tree: ref(15, s.Gen())}
	if _, err := freelist.Load(s, m); err != nil {
		t.Errorf("root next to a run: %v", err)
	}
}

// TestGrowPastPageNumbers: a meta's page count near 2^64 must not let the
// allocator wrap page numbers around onto live pages.
func TestGrowPastPageNumbers(t *testing.T) {
	s := newStore(payloadSize)
	f, err := freelist.Load(s, pager.Meta{Gen: s.Gen(), PageCount: 1<<64 - 3})
	if err != nil {
		t.Fatal(err)
	}
	f.Begin(s.Gen()+1, s.Gen())
	if _, err := f.Alloc(2); err != nil {
		t.Fatalf("Alloc of the last 2 page numbers: %v", err)
	}
	if first, err := f.Alloc(2); !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("Alloc past 2^64 pages gave page %d, %v; want ErrCorrupt", first, err)
	}
}
