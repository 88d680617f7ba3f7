package pager

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOldestForeignSnapshotQuery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x")
	os.WriteFile(path, nil, 0o600)
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	w, a, b := open(), open(), open()
	for _, g := range []uint64{5, 6, 7, maxSnapshotGen} {
		if err := lockSnapshot(a, g); err != nil {
			t.Fatal(err)
		}
	}
	if err := lockSnapshot(b, 3); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		below, want uint64
		found       bool
	}{
		{10, 3, true}, {4, 3, true}, {3, 0, false}, {7, 3, true}, {1 << 63, 3, true},
	}
	for _, c := range cases {
		g, ok, err := oldestForeignSnapshot(w, c.below)
		if err != nil || g != c.want || ok != c.found {
			t.Errorf("below %d: %d %v %v", c.below, g, ok, err)
		}
	}
	unlockSnapshot(b, 3)
	unlockSnapshot(a, 6) // splits the merged [5,8)
	for _, c := range []struct{ below, want uint64 }{{100, 5}, {1 << 63, 5}} {
		g, ok, _ := oldestForeignSnapshot(w, c.below)
		if !ok || g != c.want {
			t.Errorf("after: below %d: %d %v", c.below, g, ok)
		}
	}
	unlockSnapshot(a, 5)
	unlockSnapshot(a, 7)
	g, ok, _ := oldestForeignSnapshot(w, 1<<63)
	if !ok || g != maxSnapshotGen {
		t.Errorf("max: %d %v", g, ok)
	}
	// own locks are not reported
	g, ok, _ = oldestForeignSnapshot(a, 1<<63)
	if ok {
		t.Errorf("own lock reported: %d", g)
	}
}
