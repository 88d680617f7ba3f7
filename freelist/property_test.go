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

// flModel drives a free list through random transactions, snapshots and
// reloads, and checks two things: Alloc never hands out a page that the
// last commit, the transaction or an open snapshot can reach; and after
// every Save, each page of the file is exactly one of live, freelist page
// or recorded free (nothing leaks, nothing is counted twice).
type flModel struct {
	s         *memstore.Store
	f         *freelist.Freelist
	meta      pager.Meta          // last commit
	live      map[uint64]uint64   // committed state: page -> generation written
	chain     map[uint64]bool     // freelist pages of the last commit
	snapshots map[uint64][]uint64 // open snapshot generation -> pages it reaches
	tx        map[uint64]uint64   // the open transaction's live pages, nil if none
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
		if _, ok := m.tx[p]; ok {
			t.Fatalf("Alloc handed out page %d, live in the transaction", p)
		}
		if m.chain[p] {
			t.Fatalf("Alloc handed out page %d, a freelist page of the last commit", p)
		}
		for g, pages := range m.snapshots {
			if slices.Contains(pages, p) {
				t.Fatalf("Alloc handed out page %d, reachable from the open snapshot at %d", p, g)
			}
		}
		if p < pager.FirstDataPage {
			t.Fatalf("Alloc handed out reserved page %d", p)
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

func (m *flModel) commit(t *rapid.T) {
	if m.tx == nil {
		m.begin(t)
	}
	meta := save(t, m.f, m.s)
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
// reopen does; snapshots do not survive a reopen.
func (m *flModel) reload(t *rapid.T) {
	if m.tx != nil {
		m.f.Rollback()
		m.tx = nil
	}
	f, err := freelist.Load(m.s, m.meta)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if f.PageCount() != m.meta.PageCount || f.FreeCount() != m.f.FreeCount() {
		t.Fatalf("loaded %d pages %d free, had %d %d", f.PageCount(), f.FreeCount(), m.f.PageCount(), m.f.FreeCount())
	}
	m.f = f
	clear(m.snapshots)
}

func TestFreelistModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Small pages, so the free set often spans several freelist pages.
		per := rapid.IntRange(1, 6).Draw(t, "runsPerPage")
		m := &flModel{
			s:         newStore(16 + 12*per + rapid.IntRange(0, 11).Draw(t, "slack")),
			f:         freelist.New(),
			meta:      pager.Meta{Gen: 0, PageCount: pager.FirstDataPage},
			live:      map[uint64]uint64{},
			chain:     map[uint64]bool{},
			snapshots: map[uint64][]uint64{},
		}
		t.Repeat(map[string]func(*rapid.T){
			"alloc":         m.alloc,
			"alloc more":    m.alloc,
			"free":          m.free,
			"commit":        m.commit,
			"rollback":      m.rollback,
			"snapshot":      m.snapshot,
			"closeSnapshot": m.closeSnapshot,
			"reload":        m.reload,
			"": func(t *rapid.T) {
				if m.tx == nil && m.f.PageCount() != m.meta.PageCount {
					t.Fatalf("PageCount %d outside a transaction, committed %d", m.f.PageCount(), m.meta.PageCount)
				}
				if m.f.PageCount() > 1<<13 {
					panic(fmt.Sprintf("file grew to %d pages", m.f.PageCount()))
				}
			},
		})
	})
}
