package freelist_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// flModel drives a free list through random transactions, snapshots,
// reloads and crashes, and checks: Alloc never hands out a page that the
// last commit, the transaction, an open snapshot or a hold can reach, and
// Save never writes one; after every Save, each page of the file is exactly
// one of live, freelist page (checkpoint or log) or recorded free, and the
// recorded set is the one held in memory; a reload, or a crash in the middle
// of a commit (its freelist pages written, its meta not), gives back exactly
// the set of the last commit.
type flModel struct {
	s         *memstore.Store
	f         *freelist.Freelist
	meta      pager.Meta          // last commit
	live      map[uint64]uint64   // committed state: page -> generation written
	chain     map[uint64]bool     // freelist pages of the last commit
	snapshots map[uint64][]uint64 // open snapshot generation -> pages it reaches
	tx        map[uint64]uint64   // the open transaction's live pages, nil if none
	held      map[uint64]bool     // pages HoldLoaded holds until holdGen
	holdGen   uint64
	logged    bool // a commit wrote log pages
}

func (m *flModel) gen() uint64 { return m.meta.Gen }

func (m *flModel) oldest() uint64 {
	o := m.gen()
	for g := range m.snapshots {
		o = min(o, g)
	}
	return o
}

func (m *flModel) begin(t *rapid.T) {
	if m.tx != nil {
		t.Skip("transaction open")
	}
	m.f.Begin(m.gen()+1, m.oldest())
	m.tx = maps.Clone(m.live)
}

// inUse fails t if page p may not be handed out or written now.
func (m *flModel) inUse(t *rapid.T, p uint64, what string) {
	if _, ok := m.tx[p]; ok {
		t.Fatalf("%s page %d, live in the transaction", what, p)
	}
	if _, ok := m.live[p]; ok {
		t.Fatalf("%s page %d, live in the last commit", what, p)
	}
	if m.chain[p] {
		t.Fatalf("%s page %d, a freelist page of the last commit", what, p)
	}
	for g, pages := range m.snapshots {
		if slices.Contains(pages, p) {
			t.Fatalf("%s page %d, reachable from the open snapshot at %d", what, p, g)
		}
	}
	if m.held[p] && m.oldest() < m.holdGen {
		t.Fatalf("%s page %d, held until generation %d (oldest snapshot %d)", what, p, m.holdGen, m.oldest())
	}
	if p < pager.FirstDataPage {
		t.Fatalf("%s reserved page %d", what, p)
	}
}

func (m *flModel) alloc(t *rapid.T) {
	if m.tx == nil {
		m.begin(t)
	}
	n := rapid.IntRange(1, 4).Draw(t, "n")
	first, err := m.f.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	for p := first; p < first+uint64(n); p++ {
		m.inUse(t, p, "Alloc handed out")
		m.tx[p] = m.gen() + 1
	}
}

// fragment allocates pages one at a time and frees every other one, so the
// free set soon spans several checkpoint pages and later commits log.
func (m *flModel) fragment(t *rapid.T) {
	if m.tx == nil {
		m.begin(t)
	}
	n := rapid.IntRange(4, 40).Draw(t, "fragment")
	for i := range n {
		p, err := m.f.Alloc(1)
		if err != nil {
			t.Fatal(err)
		}
		m.inUse(t, p, "Alloc handed out")
		if i%2 == 0 {
			m.f.Free(pager.Ref{Page: p, Gen: m.gen() + 1})
			continue
		}
		m.tx[p] = m.gen() + 1
	}
}

func (m *flModel) free(t *rapid.T) {
	if m.tx == nil {
		m.begin(t)
	}
	if len(m.tx) == 0 {
		t.Skip("nothing live")
	}
	pages := slices.Sorted(maps.Keys(m.tx))
	p := rapid.SampledFrom(pages).Draw(t, "page")
	m.f.Free(pager.Ref{Page: p, Gen: m.tx[p]})
	delete(m.tx, p)
}

// write is Save's write function: it refuses a page in use.
func (m *flModel) write(t *rapid.T) func(uint64, []byte) error {
	return func(p uint64, b []byte) error {
		m.inUse(t, p, "Save wrote")
		return m.s.WritePage(p, b)
	}
}

func (m *flModel) commit(t *rapid.T) {
	if m.tx == nil {
		m.begin(t)
	}
	r, err := m.f.Save(m.s.PayloadSize(), m.write(t))
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	meta := pager.Meta{Gen: m.s.Gen(), PageCount: m.f.PageCount(), Freelist: r}
	m.f.Commit()
	m.s.NextGen()
	chain, free := persisted(t, m.s, meta)
	owner := map[uint64]string{}
	claim := func(p uint64, what string) {
		if p < pager.FirstDataPage || p >= meta.PageCount {
			t.Fatalf("%s page %d outside [3, %d)", what, p, meta.PageCount)
		}
		if o, ok := owner[p]; ok {
			t.Fatalf("page %d is both %s and %s", p, o, what)
		}
		owner[p] = what
	}
	for p := range m.tx {
		claim(p, "live")
	}
	for _, p := range chain {
		claim(p, "freelist")
	}
	for _, p := range free {
		claim(p, "free")
	}
	if uint64(len(owner)) != meta.PageCount-pager.FirstDataPage {
		t.Fatalf("%d of %d pages accounted for: leaked pages", len(owner), meta.PageCount-pager.FirstDataPage)
	}
	if m.f.FreeCount() != uint64(len(free)) {
		t.Fatalf("FreeCount %d, but %d pages recorded free", m.f.FreeCount(), len(free))
	}
	if got := freelist.RecordedFree(m.f); !slices.Equal(got, free) {
		t.Fatalf("in memory %v free, on disk %v", got, free)
	}
	if len(freelist.LogPages(m.f)) > 0 {
		m.logged = true
	}
	m.meta, m.live, m.chain, m.tx = meta, m.tx, setOf(chain), nil
}

func (m *flModel) rollback(t *rapid.T) {
	if m.tx == nil {
		t.Skip("no transaction")
	}
	m.f.Rollback()
	m.tx = nil
}

func (m *flModel) snapshot(t *rapid.T) {
	if len(m.snapshots) >= 3 {
		t.Skip("enough snapshots")
	}
	if _, ok := m.snapshots[m.gen()]; ok {
		t.Skip("already open")
	}
	pages := slices.Collect(maps.Keys(m.live))
	pages = append(pages, slices.Collect(maps.Keys(m.chain))...)
	m.snapshots[m.gen()] = pages
}

func (m *flModel) closeSnapshot(t *rapid.T) {
	if len(m.snapshots) == 0 {
		t.Skip("no snapshot")
	}
	g := rapid.SampledFrom(slices.Sorted(maps.Keys(m.snapshots))).Draw(t, "snapshot")
	delete(m.snapshots, g)
}

// reload drops the in-memory free list and loads the committed one, as a
// reopen does, eagerly or through Open; snapshots do not survive a reopen.
// The loaded set must be the one the last commit recorded.
func (m *flModel) reload(t *rapid.T) {
	if m.tx != nil {
		m.f.Rollback()
		m.tx = nil
	}
	want := freelist.RecordedFree(m.f)
	var f *freelist.Freelist
	var err error
	if rapid.Bool().Draw(t, "lazy") {
		f, err = freelist.Open(m.s, m.meta)
	} else {
		f, err = freelist.Load(m.s, m.meta)
	}
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if f.PageCount() != m.meta.PageCount || f.FreeCount() != m.f.FreeCount() {
		t.Fatalf("loaded %d pages %d free, had %d %d", f.PageCount(), f.FreeCount(), m.f.PageCount(), m.f.FreeCount())
	}
	if got := freelist.RecordedFree(f); !slices.Equal(got, want) {
		t.Fatalf("loaded %v free, had %v", got, want)
	}
	m.f = f
	clear(m.snapshots)
	m.held = nil
}

// reloadHeld reloads as a writer does while a reader in another process may
// hold an older snapshot: every loaded free page is held until the next
// generation.
func (m *flModel) reloadHeld(t *rapid.T) {
	m.reload(t)
	m.holdGen = m.gen() + 1
	m.held = setOf(freelist.RecordedFree(m.f))
	m.f.HoldLoaded(m.holdGen)
}

// crash writes a commit's freelist pages and dies before its meta: the file
// must still load as the last commit, whatever those pages overwrote.
func (m *flModel) crash(t *rapid.T) {
	if m.tx == nil {
		m.begin(t)
	}
	if _, err := m.f.Save(m.s.PayloadSize(), m.write(t)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	m.f.Rollback()
	m.tx = nil
	m.reload(t)
}

func TestFreelistModel(t *testing.T) {
	logged := 0
	rapid.Check(t, func(t *rapid.T) {
		// Small pages, so the free set often spans several checkpoint
		// pages and a commit's changes several log pages.
		perLog := rapid.IntRange(1, 5).Draw(t, "runsPerLogPage")
		m := &flModel{
			s:         newStore(freelist.LogHeaderSize + 12*perLog + rapid.IntRange(0, 11).Draw(t, "slack")),
			f:         freelist.New(),
			meta:      pager.Meta{Gen: 0, PageCount: pager.FirstDataPage},
			live:      map[uint64]uint64{},
			chain:     map[uint64]bool{},
			snapshots: map[uint64][]uint64{},
		}
		if rapid.Bool().Draw(t, "prefragment") { // start where logs are likely
			for range 2 {
				m.fragment(t)
				m.commit(t)
			}
		}
		t.Repeat(map[string]func(*rapid.T){
			"alloc":         m.alloc,
			"alloc more":    m.alloc,
			"alloc most":    m.alloc,
			"free":          m.free,
			"free more":     m.free,
			"commit":        m.commit,
			"commit more":   m.commit,
			"fragment":      m.fragment,
			"rollback":      m.rollback,
			"snapshot":      m.snapshot,
			"closeSnapshot": m.closeSnapshot,
			"reload":        m.reload,
			"reloadHeld":    m.reloadHeld,
			"crash":         m.crash,
			"": func(t *rapid.T) {
				if m.tx == nil && m.f.PageCount() != m.meta.PageCount {
					t.Fatalf("PageCount %d outside a transaction, committed %d", m.f.PageCount(), m.meta.PageCount)
				}
				if m.f.PageCount() > 1<<13 {
					panic(fmt.Sprintf("file grew to %d pages", m.f.PageCount()))
				}
			},
		})
		if m.logged {
			logged++
		}
	})
	t.Logf("%d runs wrote log pages", logged)
	if logged == 0 && !testing.Short() {
		t.Error("no run wrote a log page: the model does not reach the log")
	}
}
