package pager_test

import (
	"bytes"
	"encoding/binary"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/pager"
)

// This file checks the pager and the free list together against a model,
// through crashes. The test owns a set of live pages; each commit writes
// their list to one "tree" page (a stand-in for the directory tree) that
// Meta.Tree points at. After any crash the reopened file must hold exactly
// the last state whose commit returned nil, or the state being committed
// when the crash came if its meta landed: never a mix, never a lost page.

// liveRef is a live page as the model knows it.
type liveRef struct {
	gen uint64 // generation that wrote it
	tag uint64 // its content is payload(tag)
}

// state is one committed state of the model.
type state struct {
	gen  uint64
	tree pager.Ref
	live map[uint64]liveRef // page number -> what it holds
}

const maxLive = 32 // a tree page holds (payload-8)/24 = 40 entries at 1 KiB

func encodeTree(payloadSize int, live map[uint64]liveRef) []byte {
	b := make([]byte, payloadSize)
	b[0] = pager.TypeBranch
	binary.LittleEndian.PutUint32(b[4:], uint32(len(live)))
	for i, pg := range slices.Sorted(maps.Keys(live)) {
		e := b[8+24*i:]
		binary.LittleEndian.PutUint64(e, pg)
		binary.LittleEndian.PutUint64(e[8:], live[pg].gen)
		binary.LittleEndian.PutUint64(e[16:], live[pg].tag)
	}
	return b
}

func decodeTree(b []byte) map[uint64]liveRef {
	live := map[uint64]liveRef{}
	n := int(binary.LittleEndian.Uint32(b[4:]))
	for i := 0; i < n && 8+24*(i+1) <= len(b); i++ {
		e := b[8+24*i:]
		live[binary.LittleEndian.Uint64(e)] = liveRef{binary.LittleEndian.Uint64(e[8:]), binary.LittleEndian.Uint64(e[16:])}
	}
	return live
}

type sysModel struct {
	f  *faultfile.File
	p  *pager.Pager
	fl *freelist.Freelist

	committed state           // last commit that returned nil, or that a reopen found
	flPages   map[uint64]bool // freelist pages of the committed state
	tx        map[uint64]liveRef
	snapshots map[uint64]state // open read snapshots by generation
	nextTag   uint64
}

func newSysModel(t *rapid.T) *sysModel {
	f := faultfile.New(nil)
	p, err := pager.Create(f, keyA, opts())
	if err != nil {
		t.Fatal(err)
	}
	return &sysModel{
		f: f, p: p, fl: freelist.New(),
		committed: state{live: map[uint64]liveRef{}},
		flPages:   map[uint64]bool{},
		snapshots: map[uint64]state{},
	}
}

func (m *sysModel) oldest() uint64 {
	o := m.committed.gen
	for g := range m.snapshots {
		o = min(o, g)
	}
	return o
}

func (m *sysModel) begin() {
	if m.tx == nil {
		m.fl.Begin(m.committed.gen+1, m.oldest())
		m.tx = maps.Clone(m.committed.live)
	}
}

// alloc takes n pages from the free list and checks that none of them is
// reachable from the committed state, the transaction or a snapshot.
func (m *sysModel) alloc(t *rapid.T, n int) uint64 {
	first, err := m.fl.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	for pg := first; pg < first+uint64(n); pg++ {
		_, inTx := m.tx[pg]
		_, inCommitted := m.committed.live[pg]
		if inTx || inCommitted || m.flPages[pg] || pg == m.committed.tree.Page || pg < pager.FirstDataPage {
			t.Fatalf("Alloc handed out page %d, which is in use", pg)
		}
		for g, s := range m.snapshots {
			if _, ok := s.live[pg]; ok || pg == s.tree.Page {
				t.Fatalf("Alloc handed out page %d, reachable from the snapshot at generation %d", pg, g)
			}
		}
	}
	return first
}

func (m *sysModel) write(t *rapid.T) {
	m.begin()
	n := rapid.IntRange(1, 3).Draw(t, "n")
	if len(m.tx)+n > maxLive {
		t.Skip("tree page full")
	}
	gen := m.committed.gen + 1
	first := m.alloc(t, n)
	for pg := first; pg < first+uint64(n); pg++ {
		m.nextTag++
		if err := m.p.WritePage(pg, gen, payload(m.p, m.nextTag)); err != nil {
			t.Fatalf("WritePage(%d): %v", pg, err)
		}
		m.tx[pg] = liveRef{gen, m.nextTag}
	}
}

func (m *sysModel) free(t *rapid.T) {
	m.begin()
	if len(m.tx) == 0 {
		t.Skip("nothing live")
	}
	pg := rapid.SampledFrom(slices.Sorted(maps.Keys(m.tx))).Draw(t, "page")
	m.fl.Free(pager.Ref{Page: pg, Gen: m.tx[pg].gen})
	delete(m.tx, pg)
}

func (m *sysModel) rollback(t *rapid.T) {
	if m.tx == nil {
		t.Skip("no transaction")
	}
	m.fl.Rollback()
	m.tx = nil
}

func (m *sysModel) snapshot(t *rapid.T) {
	if _, ok := m.snapshots[m.committed.gen]; ok || len(m.snapshots) >= 2 || m.tx != nil {
		t.Skip("no snapshot now")
	}
	m.snapshots[m.committed.gen] = m.committed
}

func (m *sysModel) closeSnapshot(t *rapid.T) {
	if len(m.snapshots) == 0 {
		t.Skip("no snapshot")
	}
	delete(m.snapshots, rapid.SampledFrom(slices.Sorted(maps.Keys(m.snapshots))).Draw(t, "snapshot"))
}

// commitTx commits the transaction (an empty one if none is open) and
// returns the state it tried to make durable and Commit's result. Errors
// before the meta write are returned too: the file holds the old state.
func (m *sysModel) commitTx(t *rapid.T) (state, error) {
	m.begin()
	gen := m.committed.gen + 1
	next := state{gen: gen, live: m.tx}
	treePg := m.alloc(t, 1)
	next.tree = pager.Ref{Page: treePg, Gen: gen}
	if err := m.p.WritePage(treePg, gen, encodeTree(m.p.PayloadSize(), m.tx)); err != nil {
		return next, err
	}
	if !m.committed.tree.IsZero() {
		m.fl.Free(m.committed.tree)
	}
	flPages := map[uint64]bool{}
	flRef, err := m.fl.Save(m.p.PayloadSize(), func(pgno uint64, b []byte) error {
		flPages[pgno] = true
		return m.p.WritePage(pgno, gen, b)
	})
	if err != nil {
		return next, err
	}
	meta := pager.Meta{Gen: gen, PageCount: m.fl.PageCount(), Tree: next.tree, Freelist: flRef}
	if err := m.p.Commit(meta); err != nil {
		return next, err
	}
	m.fl.Commit()
	m.committed, m.flPages, m.tx = next, flPages, nil
	return next, nil
}

func (m *sysModel) commit(t *rapid.T) {
	if _, err := m.commitTx(t); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// faultyCommit commits with a fault injected somewhere in it, then crashes.
func (m *sysModel) faultyCommit(t *rapid.T) {
	switch rapid.IntRange(0, 2).Draw(t, "fault") {
	case 0:
		m.f.StopAfter(rapid.IntRange(0, 10).Draw(t, "stopAfter"))
	case 1:
		m.f.FailWrite(rapid.IntRange(1, 6).Draw(t, "failWrite"))
	case 2:
		m.f.FailSync(rapid.IntRange(1, 2).Draw(t, "failSync"))
	}
	old := m.committed
	next, err := m.commitTx(t)
	if err == nil {
		m.crash(t, nil) // the commit is durable: only its state may come back
		return
	}
	m.committed = old
	m.crash(t, &next)
}

func (m *sysModel) crashAction(t *rapid.T) { m.crash(t, nil) }

// crash cuts the power, keeping a random subset of the writes since the
// last sync and maybe tearing one, and reopens. The file must hold the
// committed state, or inflight if that is not nil and its meta landed.
func (m *sysModel) crash(t *rapid.T, inflight *state) {
	un := m.f.Unsynced()
	keep := rapid.SliceOfN(rapid.Bool(), len(un), len(un)).Draw(t, "keep")
	var tear *faultfile.Tear
	var writes []int
	for i, op := range un {
		if op.Kind == faultfile.Write {
			writes = append(writes, i)
		}
	}
	if len(writes) > 0 && rapid.Bool().Draw(t, "tear") {
		w := rapid.SampledFrom(writes).Draw(t, "torn")
		tear = &faultfile.Tear{Write: w, Prefix: rapid.IntRange(0, len(un[w].Data)).Draw(t, "prefix")}
	}
	m.reopen(t, m.f.Crash(func(i int) bool { return keep[i] }, tear), inflight)
}

func (m *sysModel) cleanReopen(t *rapid.T) {
	if err := m.p.Close(); err != nil {
		t.Fatal(err)
	}
	m.reopen(t, m.f.Crash(faultfile.KeepAll, nil), nil)
}

func (m *sysModel) reopen(t *rapid.T, f *faultfile.File, inflight *state) {
	p, err := pager.Open(f, keyA, opts())
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	meta := p.Meta()
	want := m.committed
	if inflight != nil && meta.Gen == inflight.gen {
		want = *inflight
	}
	if meta.Gen != want.gen || meta.Tree != want.tree {
		t.Fatalf("reopened at generation %d tree %v; want generation %d tree %v (or the in-flight %v)",
			meta.Gen, meta.Tree, m.committed.gen, m.committed.tree, inflight)
	}
	if !want.tree.IsZero() {
		b, err := p.Page(want.tree)
		if err != nil {
			t.Fatalf("tree page: %v", err)
		}
		if got := decodeTree(b); !maps.Equal(got, want.live) {
			t.Fatalf("tree page lists %v, want %v", got, want.live)
		}
	}
	fl, err := freelist.Load(p, meta)
	if err != nil {
		t.Fatalf("freelist.Load after crash: %v", err)
	}
	m.f, m.p, m.fl = f, p, fl
	m.committed, m.tx = want, nil
	clear(m.snapshots)
	m.flPages = m.accountFor(t, meta)
	m.checkPages(t, want)
}

// accountFor walks the free list of meta and checks that every page of the
// file is exactly one of: live, the tree page, a freelist page, or free.
// It returns the freelist pages.
func (m *sysModel) accountFor(t *rapid.T, meta pager.Meta) map[uint64]bool {
	owner := map[uint64]string{}
	claim := func(pg uint64, what string) {
		if pg < pager.FirstDataPage || pg >= meta.PageCount {
			t.Fatalf("%s page %d outside [3, %d)", what, pg, meta.PageCount)
		}
		if o, ok := owner[pg]; ok {
			t.Fatalf("page %d is both %s and %s", pg, o, what)
		}
		owner[pg] = what
	}
	for pg := range m.committed.live {
		claim(pg, "live")
	}
	if !m.committed.tree.IsZero() {
		claim(m.committed.tree.Page, "tree")
	}
	flPages := map[uint64]bool{}
	err := freelist.Walk(m.p, meta, func(r pager.Ref) {
		claim(r.Page, "freelist")
		flPages[r.Page] = true
	}, func(start, n uint64) error {
		for pg := start; pg < start+n; pg++ {
			claim(pg, "free")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("freelist.Walk: %v", err)
	}
	if uint64(len(owner)) != meta.PageCount-pager.FirstDataPage {
		t.Fatalf("%d of %d pages accounted for", len(owner), meta.PageCount-pager.FirstDataPage)
	}
	return flPages
}

func (m *sysModel) checkPages(t *rapid.T, s state) {
	for pg, r := range s.live {
		got, err := m.p.Page(pager.Ref{Page: pg, Gen: r.gen})
		if err != nil {
			t.Fatalf("live page %d@%d of generation %d: %v", pg, r.gen, s.gen, err)
		}
		if !bytes.Equal(got, payload(m.p, r.tag)) {
			t.Fatalf("live page %d@%d of generation %d holds other content", pg, r.gen, s.gen)
		}
	}
}

func (m *sysModel) check(t *rapid.T) {
	if m.p.Meta().Gen != m.committed.gen {
		t.Fatalf("pager at generation %d, model at %d", m.p.Meta().Gen, m.committed.gen)
	}
	m.checkPages(t, m.committed)
	if m.tx != nil {
		m.checkPages(t, state{gen: m.committed.gen + 1, live: m.tx})
	}
	for _, s := range m.snapshots {
		m.checkPages(t, s)
	}
}

func TestCrashModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := newSysModel(t)
		t.Repeat(map[string]func(*rapid.T){
			"write":         m.write,
			"write more":    m.write,
			"free":          m.free,
			"commit":        m.commit,
			"faultyCommit":  m.faultyCommit,
			"faultyCommit2": m.faultyCommit,
			"rollback":      m.rollback,
			"crash":         m.crashAction,
			"reopen":        m.cleanReopen,
			"snapshot":      m.snapshot,
			"closeSnapshot": m.closeSnapshot,
			"":              m.check,
		})
	})
}
