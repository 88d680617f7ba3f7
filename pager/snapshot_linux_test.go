package pager_test

import (
	"path/filepath"
	"testing"

	"github.com/streamcrypt/scdb/pager"
)

// TestSnapshotLocks: a read-only pager announces the generations it reads;
// the writer, through another open of the file, finds the lowest one, and
// stops finding it when the snapshot ends or the reader closes.
func TestSnapshotLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.scdb")
	wf, err := pager.OpenFile(path, true, false)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pager.Create(wf, keyA, opts())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	commit(t, w, pager.Meta{Gen: 1, PageCount: pager.FirstDataPage})

	rf, err := pager.OpenFile(path, false, true)
	if err != nil {
		t.Fatal(err)
	}
	ro := opts()
	ro.ReadOnly = true
	r, err := pager.Open(rf, keyA, ro)
	if err != nil {
		t.Fatal(err)
	}
	oldest := func() (uint64, bool) {
		t.Helper()
		g, ok, err := w.OldestForeignSnapshot(1 << 40)
		if err != nil {
			t.Fatal(err)
		}
		return g, ok
	}
	if _, ok := oldest(); ok {
		t.Fatal("a snapshot is found before any began")
	}
	m1, err := r.BeginSnapshot()
	if err != nil || m1.Gen != 1 {
		t.Fatalf("BeginSnapshot: %+v, %v", m1, err)
	}
	commit(t, w, pager.Meta{Gen: 2, PageCount: pager.FirstDataPage})
	commit(t, w, pager.Meta{Gen: 3, PageCount: pager.FirstDataPage})
	m3, err := r.BeginSnapshot()
	if err != nil || m3.Gen != 3 {
		t.Fatalf("BeginSnapshot after two commits elsewhere: %+v, %v", m3, err)
	}
	if g, ok := oldest(); !ok || g != 1 {
		t.Fatalf("oldest foreign snapshot %d %v, want 1", g, ok)
	}
	if g, _, _ := w.OldestForeignSnapshot(1); g != 0 {
		t.Fatalf("below 1: %d, want none", g)
	}
	r.EndSnapshot(m1.Gen)
	if g, ok := oldest(); !ok || g != 3 {
		t.Fatalf("after the older one ended: %d %v, want 3", g, ok)
	}
	r.Close()
	if g, ok := oldest(); ok {
		t.Fatalf("after the reader closed: %d still held", g)
	}
}
