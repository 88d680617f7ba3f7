package dirtree

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestSequentialAndRandom(t *testing.T) {
	for _, payload := range []int{984, 4056} {
		s, tr := newStore(payload)
		m := model{}
		for i := 0; i < 5000; i++ {
			k := binary.BigEndian.AppendUint64(nil, uint64(i*7919%5000))
			v := []byte{byte(i), byte(i >> 8)}
			mustPut(t, tr, k, v)
			m[string(k)] = v
		}
		compare(t, tr, m)
		tr = commit(t, s, tr)
		compare(t, tr, m)
		for i := 0; i < 5000; i += 2 {
			k := binary.BigEndian.AppendUint64(nil, uint64(i))
			if _, ok, err := tr.Delete(k); err != nil || !ok {
				t.Fatalf("Delete %d: %v %v", i, ok, err)
			}
			delete(m, string(k))
		}
		compare(t, tr, m)
		if err := tr.Drop(func([]byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if s.Live() != 0 {
			t.Fatalf("payload %d: %d pages live after Drop", payload, s.Live())
		}
	}
}

func TestFlushDirtyDrop(t *testing.T) {
	s, tr := newStore(984)
	if root, err := tr.Flush(); err != nil || !root.IsZero() {
		t.Fatalf("Flush of an empty tree = %v, %v", root, err)
	}
	for i := range 500 {
		mustPut(t, tr, key64(i), make([]byte, 40))
	}
	held := tr.Dirty()
	if held == 0 || held != s.Live() {
		t.Fatalf("Dirty() = %d with %d pages allocated", held, s.Live())
	}
	root, err := tr.Flush()
	if err != nil || root.IsZero() {
		t.Fatalf("Flush = %v, %v", root, err)
	}
	if tr.Dirty() != held {
		t.Errorf("Dirty() = %d after Flush, want the %d nodes still held", tr.Dirty(), held)
	}
	// A second writable tree on the flushed root, in the same transaction,
	// after the first is done: pages are updated in place.
	if err := tr.Spill(); err != nil {
		t.Fatal(err)
	}
	tr2 := OpenWritable(s, root)
	mustPut(t, tr2, key64(1000), nil)
	if root2, _ := tr2.Flush(); root2 != root || s.Live() != held {
		t.Errorf("in-place update moved the root %v -> %v or allocated (%d pages, want %d)", root, root2, s.Live(), held)
	}
	errStop := errors.New("stop")
	if err := tr2.Drop(func([]byte) error { return errStop }); !errors.Is(err, errStop) {
		t.Errorf("Drop returned %v, want the callback's error", err)
	}
}

func TestEmptyKeyAndValue(t *testing.T) {
	_, tr := newStore(984)
	mustPut(t, tr, nil, nil)
	if v, ok, err := tr.Get([]byte{}); !ok || err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get(empty) = %v %v %v", v, ok, err)
	}
	if old, replaced, _ := tr.Put([]byte{}, []byte("x")); !replaced || old == nil || len(old) != 0 {
		t.Fatalf("Put over empty value: old %v replaced %v", old, replaced)
	}
	if old, ok, _ := tr.Delete(nil); !ok || string(old) != "x" {
		t.Fatalf("Delete(empty) = %q %v", old, ok)
	}
	if _, ok, _ := tr.Delete(nil); ok {
		t.Fatalf("second Delete(empty) found the key")
	}
}
