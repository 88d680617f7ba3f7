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

// payload4k is the payload of a 4 KiB page.
const payload4k = 4096 - 40

// fragmented returns a store and free list whose last commit (generation 2)
// records every other page of [3, 3+2*runs) as free: runs single-page runs,
// written as one checkpoint.
func fragmented(t testing.TB, payload, runs int) (*memstore.Store, *freelist.Freelist, pager.Meta) {
	t.Helper()
	s := newStoreN(payload, 4*runs+1024)
	f := freelist.New()
	f.Begin(s.Gen(), 0)
	first, err := f.Alloc(2 * runs)
	if err != nil {
		t.Fatal(err)
	}
	save(t, f, s)
	f.Begin(s.Gen(), s.Gen()-1)
	for p := first; p < first+uint64(2*runs); p += 2 {
		f.Free(ref(p, 1))
	}
	m := save(t, f, s)
	if n := len(freelist.CheckpointPages(f)); n < 2 {
		t.Fatalf("fixture: %d checkpoint pages", n)
	}
	return s, f, m
}

// churn commits n transactions that each allocate k pages and free the k
// pages the transaction before allocated, as 1-record updates do, and
// returns the pages each commit's Save wrote.
func churn(t testing.TB, s *memstore.Store, f *freelist.Freelist, m pager.Meta, n, k int) ([]int, pager.Meta) {
	t.Helper()
	var written []int
	var last []pager.Ref
	for range n {
		f.Begin(s.Gen(), s.Gen()-1)
		var now []pager.Ref
		for range k {
			p, err := f.Alloc(1)
			if err != nil {
				t.Fatal(err)
			}
			now = append(now, ref(p, s.Gen()))
		}
		for _, r := range last {
			f.Free(r)
		}
		pages := 0
		r, err := f.Save(s.PayloadSize(), func(p uint64, b []byte) error { pages++; return s.WritePage(p, b) })
		if err != nil {
			t.Fatal(err)
		}
		m = pager.Meta{Gen: s.Gen(), PageCount: f.PageCount(), Freelist: r}
		f.Commit()
		s.NextGen()
		written = append(written, pages)
		last = now
	}
	return written, m
}

// TestCommitWritesItsChange: on a file with 20,000 scattered free pages, a
// commit that changes a few pages writes one log page, and a checkpoint
// comes about once per checkpoint size of commits, so the pages written per
// commit stay below 2 on average and the log never outgrows the checkpoint.
func TestCommitWritesItsChange(t *testing.T) {
	s, f, m := fragmented(t, payload4k, 20000)
	ckpt := len(freelist.CheckpointPages(f))
	written, m := churn(t, s, f, m, 4*ckpt, 3)
	var total, checkpoints int
	for _, n := range written {
		total += n
		if n > 1 {
			checkpoints++
		}
	}
	if checkpoints > 5 || total > 2*len(written)+3*ckpt/2 {
		t.Fatalf("%d commits wrote %d pages, %d of them checkpoints of ~%d pages", len(written), total, checkpoints, ckpt)
	}
	if n := len(freelist.LogPages(f)); n > ckpt {
		t.Fatalf("log of %d pages after a checkpoint of %d", n, ckpt)
	}
	s.Reads = 0
	g, err := freelist.Load(s, m)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(freelist.RecordedFree(g), freelist.RecordedFree(f)) {
		t.Fatal("loaded set differs from the one saved")
	}
	if s.Reads > 3*ckpt+2 {
		t.Fatalf("Load read %d pages for a checkpoint of %d", s.Reads, ckpt)
	}
	t.Logf("%d commits: %d pages written, %d checkpoints of %d pages; Load read %d pages", len(written), total, checkpoints, ckpt, s.Reads)
}

// TestOpenIsLazy: a writable open reads the freelist head only; the first
// Begin reads the rest. A free set of one checkpoint page is read at once.
func TestOpenIsLazy(t *testing.T) {
	s, f, m := fragmented(t, payloadSize, 500)
	_, m = churn(t, s, f, m, 3, 2) // a log after the checkpoint
	if len(freelist.LogPages(f)) == 0 {
		t.Fatal("fixture has no log")
	}
	s.Reads = 0
	g, err := freelist.Open(s, m)
	if err != nil {
		t.Fatal(err)
	}
	if s.Reads != 1 || freelist.Loaded(g) || g.PageCount() != m.PageCount {
		t.Fatalf("Open read %d pages (loaded %v), page count %d", s.Reads, freelist.Loaded(g), g.PageCount())
	}
	g.Begin(s.Gen(), s.Gen()-1)
	if err := g.Err(); err != nil || !freelist.Loaded(g) {
		t.Fatalf("Begin: loaded %v, %v", freelist.Loaded(g), err)
	}
	if !slices.Equal(freelist.RecordedFree(g), freelist.RecordedFree(f)) {
		t.Fatal("lazily loaded set differs")
	}

	s2 := newStore(payloadSize)
	s2.NextGen()
	s2.NextGen() // withFree's transaction commits generation 3
	small := withFree(t, 30, 5, 9)
	r, err := small.Save(payloadSize, s2.WritePage)
	if err != nil {
		t.Fatal(err)
	}
	g, err = freelist.Open(s2, pager.Meta{Gen: 3, PageCount: small.PageCount(), Freelist: r})
	if err != nil || !freelist.Loaded(g) || g.FreeCount() != 1 { // page 9; the checkpoint took page 5
		t.Fatalf("Open of a one-page free set: %v, loaded %v", err, g != nil && freelist.Loaded(g))
	}
}

// TestOpenLazyDamage: damage behind the head passes Open and fails the
// first write transaction with ErrCorrupt naming the page, every time;
// damage to the head fails Open.
func TestOpenLazyDamage(t *testing.T) {
	s, f, m := fragmented(t, payloadSize, 500)
	_, m = churn(t, s, f, m, 3, 2)
	logs := freelist.LogPages(f)
	if len(logs) < 2 {
		t.Fatalf("fixture log of %d pages", len(logs))
	}
	bad := logs[0].Page
	b, _ := s.Page(logs[0])
	b = slices.Clone(b)
	binary.LittleEndian.PutUint64(b[40:], binary.LittleEndian.Uint64(b[40:])+1) // a lying free count
	s.NextGen()                                                                 // the damaged copy is sealed at another generation:
	if err := s.WritePage(bad, b); err != nil {                                 // any read of it fails
		t.Fatal(err)
	}
	g, err := freelist.Open(s, m)
	if err != nil {
		t.Fatalf("Open: %v (the head is intact)", err)
	}
	for range 2 {
		g.Begin(m.Gen+1, m.Gen)
		var pe *errs.PageError
		if err := g.Err(); !errors.As(err, &pe) || pe.Page != bad {
			t.Fatalf("Begin: %v, want ErrCorrupt naming page %d", err, bad)
		}
		if _, err := g.Alloc(1); !errors.Is(err, errs.ErrCorrupt) {
			t.Fatalf("Alloc: %v", err)
		}
		if _, err := g.Save(payloadSize, discard); !errors.Is(err, errs.ErrCorrupt) {
			t.Fatalf("Save: %v", err)
		}
		g.Rollback()
	}
	if _, err := freelist.Open(s, pager.Meta{Gen: m.Gen, PageCount: m.PageCount, Freelist: logs[0]}); !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("Open with a damaged head: %v", err)
	}
}

// TestHoldLoaded: pages free in the loaded state wait for the hold's
// generation, loaded eagerly or lazily; pages freed later follow the usual
// rule.
func TestHoldLoaded(t *testing.T) {
	for _, lazy := range []bool{false, true} {
		s, f, m := fragmented(t, payloadSize, 300)
		_, m = churn(t, s, f, m, 2, 1)
		free := freelist.RecordedFree(f)
		var g *freelist.Freelist
		var err error
		if lazy {
			g, err = freelist.Open(s, m)
		} else {
			g, err = freelist.Load(s, m)
		}
		if err != nil {
			t.Fatal(err)
		}
		gen := m.Gen
		g.HoldLoaded(gen + 2)
		for i := range 2 { // oldest snapshot gen, then gen+1: both below the hold
			g.Begin(gen+1+uint64(i), gen+uint64(i))
			p := alloc(t, g, 1)
			if slices.Contains(free, p) {
				t.Fatalf("lazy %v: Alloc handed out held page %d before the hold's generation", lazy, p)
			}
			if i == 0 && p < m.PageCount {
				t.Fatalf("lazy %v: Alloc gave page %d inside the file, where every free page is held", lazy, p)
			}
			if _, err := g.Save(payloadSize, s.WritePage); err != nil {
				t.Fatal(err)
			}
			g.Commit()
			s.NextGen()
		}
		if g.FreeCount() < uint64(len(free)) {
			t.Fatalf("held pages no longer counted free: %d < %d", g.FreeCount(), len(free))
		}
		g.Begin(gen+3, gen+2)
		if p := alloc(t, g, 1); p != free[0] {
			t.Fatalf("lazy %v: after the hold, Alloc gave %d, want the lowest free page %d", lazy, p, free[0])
		}
	}
}

// logPage encodes a log page by hand, as FORMAT.md §8.2 describes it.
func logPage(payload int, prev pager.Ref, seq, freePages uint64, removed, added []flEntry) []byte {
	b := make([]byte, payload)
	b[0] = freelist.TypeFreelistLog
	binary.LittleEndian.PutUint32(b[4:], uint32(len(removed)))
	binary.LittleEndian.PutUint32(b[8:], uint32(len(added)))
	pager.PutRef(b[16:], prev)
	binary.LittleEndian.PutUint64(b[32:], seq)
	binary.LittleEndian.PutUint64(b[40:], freePages)
	for i, e := range slices.Concat(removed, added) {
		binary.LittleEndian.PutUint64(b[48+12*i:], e.start)
		binary.LittleEndian.PutUint32(b[48+12*i+8:], e.n)
	}
	return b
}

// logFixture is a checkpoint at page 50 (pages 10..14 and 20 free) and two
// log pages: 60 (takes 10, adds 30..31) and 61 (takes 30, adds 10).
func logFixture() map[uint64][]byte {
	r1 := func(p uint64) pager.Ref { return ref(p, 1) }
	e := func(s uint64, n uint32) []flEntry { return []flEntry{{s, n}} }
	return map[uint64][]byte{
		50: flPage(payloadSize, 0, flEntry{10, 5}, flEntry{20, 1}),
		60: logPage(payloadSize, r1(50), 1, 7, e(10, 1), e(30, 2)),
		61: logPage(payloadSize, r1(60), 2, 7, e(30, 1), e(10, 1)),
	}
}

func loadHand(t *testing.T, pages map[uint64][]byte, head uint64, tree uint64) (*freelist.Freelist, error) {
	t.Helper()
	s := newStore(payloadSize)
	for pg, b := range pages {
		if err := s.WritePage(pg, b); err != nil {
			t.Fatal(err)
		}
	}
	m := pager.Meta{Gen: 1, PageCount: 100, Freelist: ref(head, 1)}
	if tree != 0 {
		m.Tree = ref(tree, 1)
	}
	return freelist.Load(s, m)
}

func TestLoadLog(t *testing.T) {
	f, err := loadHand(t, logFixture(), 61, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := freelist.RecordedFree(f), []uint64{10, 11, 12, 13, 14, 20, 31}; !slices.Equal(got, want) {
		t.Fatalf("free %v, want %v", got, want)
	}
	// A log may start from an empty set.
	pages := map[uint64][]byte{60: logPage(payloadSize, pager.Ref{}, 1, 2, nil, []flEntry{{7, 2}})}
	if f, err = loadHand(t, pages, 60, 0); err != nil || f.FreeCount() != 2 {
		t.Fatalf("log from an empty set: %v", err)
	}
}

func TestLoadRejectsLog(t *testing.T) {
	r1 := func(p uint64) pager.Ref { return ref(p, 1) }
	e := func(s uint64, n uint32) []flEntry { return []flEntry{{s, n}} }
	set := func(pg uint64, b []byte) func(map[uint64][]byte) {
		return func(p map[uint64][]byte) { p[pg] = b }
	}
	edit := func(pg uint64, fn func(b []byte)) func(map[uint64][]byte) {
		return func(p map[uint64][]byte) { fn(p[pg]) }
	}
	log60 := func(rem, add []flEntry, free uint64) func(map[uint64][]byte) {
		return set(60, logPage(payloadSize, r1(50), 1, free, rem, add))
	}
	tests := []struct {
		name  string
		head  uint64
		tree  uint64
		forge func(map[uint64][]byte)
		bad   uint64
	}{
		{"loop of two log pages", 61, 0, set(60, logPage(payloadSize, r1(61), 1, 7, nil, nil)), 61},
		{"log page pointing at itself", 61, 0, set(61, logPage(payloadSize, r1(61), 2, 7, nil, nil)), 61},
		{"sequence gap", 61, 0, edit(61, func(b []byte) { b[32] = 3 }), 60},
		{"first log page not 1", 60, 0, edit(60, func(b []byte) { b[32] = 2 }), 60},
		{"sequence 0", 60, 0, edit(60, func(b []byte) { b[32] = 0 }), 60},
		{"removed count overflows", 60, 0, edit(60, func(b []byte) { binary.LittleEndian.PutUint32(b[4:], 0xffffffff) }), 60},
		{"added count overflows", 60, 0, edit(60, func(b []byte) { binary.LittleEndian.PutUint32(b[8:], 0xffffffff) }), 60},
		{"counts one over capacity", 60, 0, edit(60, func(b []byte) {
			binary.LittleEndian.PutUint32(b[8:], uint32((payloadSize-48)/12))
		}), 60},
		{"reserved byte 12", 60, 0, edit(60, func(b []byte) { b[12] = 1 }), 60},
		{"reserved byte 2", 60, 0, edit(60, func(b []byte) { b[2] = 1 }), 60},
		{"removed runs out of order", 60, 0, log60([]flEntry{{20, 1}, {10, 1}}, nil, 4), 60},
		{"removed runs overlap", 60, 0, log60([]flEntry{{10, 2}, {11, 1}}, nil, 3), 60},
		{"added runs out of order", 60, 0, log60(nil, []flEntry{{40, 1}, {30, 1}}, 8), 60},
		{"removes a page not free", 60, 0, log60(e(15, 1), nil, 5), 60},
		{"removes a run half free", 60, 0, log60(e(13, 3), nil, 3), 60},
		{"adds a page already free", 60, 0, log60(nil, e(12, 1), 7), 60},
		{"wrong free count", 60, 0, log60(e(10, 1), nil, 6), 60},
		{"run past the page count", 60, 0, log60(nil, e(99, 2), 8), 60},
		{"empty run", 60, 0, log60(nil, e(30, 0), 6), 60},
		{"run wrapping around", 60, 0, log60(nil, e(1<<64-1, 2), 8), 60},
		{"previous of a newer generation", 60, 0, set(60, logPage(payloadSize, ref(50, 5), 1, 6, nil, nil)), 60},
		{"previous past the end", 60, 0, set(60, logPage(payloadSize, r1(150), 1, 6, nil, nil)), 150},
		{"previous not a freelist page", 60, 0, func(p map[uint64][]byte) {
			leaf := make([]byte, payloadSize)
			leaf[0] = pager.TypeLeaf
			p[70] = leaf
			p[60] = logPage(payloadSize, r1(70), 1, 6, nil, nil)
		}, 70},
		{"adds its own page", 61, 0, set(61, logPage(payloadSize, r1(60), 2, 8, e(30, 1), []flEntry{{10, 1}, {61, 1}})), 61},
		{"adds the checkpoint page", 61, 0, set(61, logPage(payloadSize, r1(60), 2, 8, e(30, 1), []flEntry{{10, 1}, {50, 1}})), 50},
		{"frees the directory root", 61, 31, nil, 61},
		{"checkpoint continues into a log page", 61, 0, set(50, flPage(payloadSize, 62, flEntry{10, 5}, flEntry{20, 1})), 62},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pages := logFixture()
			pages[62] = logPage(payloadSize, pager.Ref{}, 1, 0, nil, nil)
			if tc.forge != nil {
				tc.forge(pages)
			}
			_, err := loadHand(t, pages, tc.head, tc.tree)
			var pe *errs.PageError
			if !errors.Is(err, errs.ErrCorrupt) || !errors.As(err, &pe) || pe.Page != tc.bad {
				t.Fatalf("Load: %v, want ErrCorrupt naming page %d", err, tc.bad)
			}
		})
	}
}

// TestCommitWithoutSave: a commit that skipped Save (tests do) leaves the
// log behind the set, so the next Save writes a checkpoint, and the set
// read back is the one in memory.
func TestCommitWithoutSave(t *testing.T) {
	s, f, m := fragmented(t, payloadSize, 300)
	_, _ = churn(t, s, f, m, 1, 1)
	f.Begin(s.Gen(), s.Gen()-1)
	alloc(t, f, 2)
	f.Commit()
	s.NextGen()
	f.Begin(s.Gen(), s.Gen()-1)
	alloc(t, f, 1)
	m = save(t, f, s)
	if len(freelist.LogPages(f)) != 0 {
		t.Fatal("Save after a commit without Save wrote a log page")
	}
	g, err := freelist.Load(s, m)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(freelist.RecordedFree(g), freelist.RecordedFree(f)) {
		t.Fatal("loaded set differs")
	}
	_, _ = churn(t, s, f, m, 2, 1) // and logs again after
	if len(freelist.LogPages(f)) == 0 {
		t.Fatal("no log after the checkpoint")
	}
}
