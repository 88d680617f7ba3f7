package dirtree

import (
	"bytes"
	"testing"
)

// TestCursorBackward walks trees several levels deep backward, through held
// nodes, committed pages and spilled pages: Last and Prev give every key in
// decreasing order, SeekLast the last key <= any probe, and Prev after Next
// (and Next after Prev) the neighbouring key.
func TestCursorBackward(t *testing.T) {
	for _, mode := range []string{"empty", "held", "committed", "spilled"} {
		t.Run(mode, func(t *testing.T) {
			s, tr := newStore(984)
			n := 3000
			if mode == "empty" {
				n = 0
			}
			for i := range n {
				mustPut(t, tr, key64(2*i+1), bytes.Repeat([]byte{byte(i)}, 20)) // odd keys only
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
			i := n - 1
			for k, _, ok, err := c.Last(); ok || err != nil; k, _, ok, err = c.Prev() {
				if err != nil {
					t.Fatal(err)
				}
				if want := key64(2*i + 1); !bytes.Equal(k, want) {
					t.Fatalf("backward key %d = %x, want %x", i, k, want)
				}
				i--
			}
			if i != -1 {
				t.Fatalf("backward walk stopped with %d keys left", i+1)
			}
			for probe := range 2*n + 2 {
				want := min(probe-1+probe%2, 2*n-1) // the last odd key <= probe
				k, _, ok, err := c.SeekLast(key64(probe))
				if err != nil {
					t.Fatal(err)
				}
				if want < 1 {
					if ok {
						t.Fatalf("SeekLast(%d) = %x, want none", probe, k)
					}
					continue
				}
				if !ok || !bytes.Equal(k, key64(want)) {
					t.Fatalf("SeekLast(%d) = %x %v, want %d", probe, k, ok, want)
				}
				checkStep(t, c.Prev, want-2, n)
				if want-2 < 1 {
					checkStep(t, c.Next, 0, n) // off the start, it stays there
					continue
				}
				checkStep(t, c.Next, want, n)
				checkStep(t, c.Next, want+2, n)
			}
		})
	}
}

// checkStep checks that step gives odd key want, or nothing when want is
// outside 1..2n-1.
func checkStep(t *testing.T, step func() ([]byte, []byte, bool, error), want, n int) {
	t.Helper()
	k, _, ok, err := step()
	if err != nil {
		t.Fatal(err)
	}
	if want < 1 || want > 2*n-1 {
		if ok {
			t.Fatalf("step gave %x, want none", k)
		}
		return
	}
	if !ok || !bytes.Equal(k, key64(want)) {
		t.Fatalf("step gave %x %v, want %d", k, ok, want)
	}
}

// TestCursorPrevDeleteCurrent deletes every key just returned while walking
// backward: Prev finds its place again after each change.
func TestCursorPrevDeleteCurrent(t *testing.T) {
	s, tr := newStore(984)
	const n = 3000
	for i := range n {
		mustPut(t, tr, key64(i), bytes.Repeat([]byte{byte(i)}, 20))
	}
	tr = commit(t, s, tr)
	c := tr.Cursor()
	i := n - 1
	for k, _, ok, err := c.Last(); ok || err != nil; k, _, ok, err = c.Prev() {
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k, key64(i)) {
			t.Fatalf("key %x, want %d", k, i)
		}
		if _, ok, err := tr.Delete(k); !ok || err != nil {
			t.Fatalf("Delete %x: %v %v", k, ok, err)
		}
		if i%100 == 0 {
			mustPut(t, tr, key64(n+i), []byte("after the walk")) // a key behind the cursor
		}
		i--
	}
	if i != -1 {
		t.Fatalf("walk stopped with %d keys left", i+1)
	}
}
