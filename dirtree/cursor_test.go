package dirtree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/streamcrypt/scdb/internal/errs"
)

func key64(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) }

// TestCursorDeleteCurrent deletes every key just returned while iterating,
// through held nodes, committed pages and spilled pages.
func TestCursorDeleteCurrent(t *testing.T) {
	for _, mode := range []string{"held", "committed", "spilled"} {
		t.Run(mode, func(t *testing.T) {
			s, tr := newStore(984)
			const n = 3000
			for i := range n {
				mustPut(t, tr, key64(i), bytes.Repeat([]byte{byte(i)}, 20))
			}
			switch mode {
			case "committed":
				tr = commit(t, s, tr)
			case "spilled":
				if err := tr.Spill(); err != nil {
					t.Fatal(err)
				}
			}
			c := tr.Cursor()
			seen := 0
			for k, _, ok, err := c.First(); ok || err != nil; k, _, ok, err = c.Next() {
				if err != nil {
					t.Fatal(err)
				}
				if want := key64(seen); !bytes.Equal(k, want) {
					t.Fatalf("key %d = %x, want %x", seen, k, want)
				}
				if _, ok, err := tr.Delete(k); !ok || err != nil {
					t.Fatalf("Delete %x: %v %v", k, ok, err)
				}
				seen++
				if seen%500 == 0 {
					if p := problems(tr); len(p) > 0 {
						t.Fatal(p)
					}
				}
			}
			if seen != n {
				t.Fatalf("iterated %d keys, want %d", seen, n)
			}
			if _, _, ok, _ := tr.Cursor().First(); ok || s.Live() != 0 {
				t.Fatalf("tree not empty (%d pages live)", s.Live())
			}
		})
	}
}

// TestCursorChangesAround inserts keys behind and ahead of a cursor and
// deletes the next key while iterating: the cursor sees the tree as it is
// at each call.
func TestCursorChangesAround(t *testing.T) {
	_, tr := newStore(984)
	for i := 0; i < 1000; i += 2 {
		mustPut(t, tr, key64(i), []byte("even"))
	}
	c := tr.Cursor()
	var got []int
	for k, _, ok, err := c.First(); ok || err != nil; k, _, ok, err = c.Next() {
		if err != nil {
			t.Fatal(err)
		}
		i := int(binary.BigEndian.Uint64(k))
		got = append(got, i)
		if i%2 == 0 && i > 0 {
			mustPut(t, tr, key64(i-1), []byte("behind")) // never seen
		}
		if i%4 == 0 {
			mustPut(t, tr, key64(i+1), []byte("ahead")) // seen next
		}
		if i%10 == 0 {
			tr.Delete(key64(i + 2)) // skipped
		}
	}
	// The same changes on a set, reading "the next key after the last".
	set := map[int]bool{}
	for i := 0; i < 1000; i += 2 {
		set[i] = true
	}
	var want []int
	for i := 0; i < 1002; i++ {
		if !set[i] {
			continue
		}
		want = append(want, i)
		if i%2 == 0 && i > 0 {
			set[i-1] = true
		}
		if i%4 == 0 {
			set[i+1] = true
		}
		if i%10 == 0 {
			delete(set, i+2)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("iterated %v\nwant %v", got, want)
	}
}

func TestCursorSeekAndEmpty(t *testing.T) {
	_, tr := newStore(984)
	c := tr.Cursor()
	if k, _, ok, err := c.First(); ok || err != nil || k != nil {
		t.Fatalf("First on empty tree = %q %v %v", k, ok, err)
	}
	if _, _, ok, err := c.Next(); ok || err != nil {
		t.Fatalf("Next on empty tree = %v %v", ok, err)
	}
	mustPut(t, tr, []byte{}, []byte("empty key"))
	mustPut(t, tr, []byte("b"), []byte("bee"))
	// The cursor was at the end of an empty tree; the tree changed, so it
	// resumes from where it was (the start) and sees the new keys.
	if k, v, ok, err := c.Next(); !ok || err != nil || len(k) != 0 || string(v) != "empty key" {
		t.Fatalf("Next after inserts = %q %q %v %v", k, v, ok, err)
	}
	if k, _, ok, _ := c.Seek([]byte("a")); !ok || string(k) != "b" {
		t.Fatalf("Seek(a) = %q %v", k, ok)
	}
	if _, _, ok, _ := c.Seek([]byte("c")); ok {
		t.Fatalf("Seek(c) found a key")
	}
	if _, _, ok, _ := c.Next(); ok {
		t.Fatalf("Next after a Seek past the end found a key")
	}
	mustPut(t, tr, []byte("d"), nil)
	if k, v, ok, _ := c.Next(); !ok || string(k) != "d" || v == nil {
		t.Fatalf("Next after inserting past a failed Seek = %q %v %v", k, v, ok)
	}
	if k, _, ok, _ := c.Seek(nil); !ok || len(k) != 0 {
		t.Fatalf("Seek(nil) = %q %v", k, ok)
	}
}

func TestReadOnly(t *testing.T) {
	s, tr := newStore(984)
	mustPut(t, tr, []byte("k"), []byte("v"))
	root, _ := tr.Flush()
	ro := Open(s, root)
	if v, ok, err := ro.Get([]byte("k")); !ok || err != nil || string(v) != "v" {
		t.Fatalf("Get = %q %v %v", v, ok, err)
	}
	if _, _, err := ro.Put([]byte("x"), nil); !errors.Is(err, errs.ErrReadOnly) {
		t.Errorf("Put on read-only tree: %v", err)
	}
	if _, _, err := ro.Delete([]byte("k")); !errors.Is(err, errs.ErrReadOnly) {
		t.Errorf("Delete on read-only tree: %v", err)
	}
	if err := ro.Drop(nil); !errors.Is(err, errs.ErrReadOnly) {
		t.Errorf("Drop on read-only tree: %v", err)
	}
	if _, err := ro.Flush(); !errors.Is(err, errs.ErrReadOnly) {
		t.Errorf("Flush on read-only tree: %v", err)
	}
}

// TestCursorRest: at every key of a scan, Rest offers exactly the cells
// that follow it in its leaf, as the next calls of Next return them, and
// nothing once the tree changed until the cursor finds its place again.
func TestCursorRest(t *testing.T) {
	s, tr := newStore(984)
	for i := range 400 {
		mustPut(t, tr, key64(i), bytes.Repeat([]byte{byte(i)}, 1+i%60))
	}
	tr = commit(t, s, tr)
	c := tr.Cursor()
	var rest [][]byte // what Rest offered at the previous key, not yet met
	asked := 0
	for k, v, ok, err := c.First(); ok || err != nil; k, v, ok, err = c.Next() {
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) > 0 {
			if !bytes.Equal(rest[0], v) {
				t.Fatalf("at %x: Rest offered %x next, Next gave %x", k, rest[0], v)
			}
			rest = rest[1:]
		} else {
			asked++
			c.Rest(func(_, val []byte) bool {
				rest = append(rest, bytes.Clone(val))
				return true
			})
		}
	}
	if len(rest) != 0 || asked < 10 {
		t.Fatalf("%d cells offered but not met; Rest asked %d times", len(rest), asked)
	}

	c = tr.Cursor()
	if _, _, ok, err := c.First(); !ok || err != nil {
		t.Fatal(ok, err)
	}
	mustPut(t, tr, key64(1000), []byte("x"))
	c.Rest(func(_, _ []byte) bool {
		t.Fatal("Rest offered cells of a tree that changed")
		return false
	})
	n := 0
	if _, _, ok, err := c.Next(); !ok || err != nil {
		t.Fatal(ok, err)
	}
	c.Rest(func(_, _ []byte) bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("Rest called fn %d times after fn asked to stop at 3", n)
	}
}
