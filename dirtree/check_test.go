package dirtree

import (
	"errors"
	"strings"
	"testing"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// committedTree builds a three-level tree of n keys on 1 KiB pages and
// returns it committed, with its pages by kind.
func committedTree(t *testing.T, n int) (s *memstore.Store, tr *Tree, leaves, branches []pager.Ref) {
	t.Helper()
	s, tr = newStore(984)
	for i := range n {
		mustPut(t, tr, key64(i*3), make([]byte, 30))
	}
	tr = commit(t, s, tr)
	tr.Check(CheckFuncs{Page: func(ref pager.Ref, leaf bool) {
		if leaf {
			leaves = append(leaves, ref)
		} else {
			branches = append(branches, ref)
		}
	}})
	if depth(tr) != 3 {
		t.Fatalf("tree of %d keys has %d levels, want 3", n, depth(tr))
	}
	return s, tr, leaves, branches
}

// raw returns the stored bytes of ref, which memstore shares: changing
// them tampers with the page.
func raw(t *testing.T, s *memstore.Store, ref pager.Ref) []byte {
	b, err := s.Page(ref)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckClean(t *testing.T) {
	_, tr, leaves, branches := committedTree(t, 3000)
	values, pages := 0, 0
	tr.Check(CheckFuncs{
		Page:    func(pager.Ref, bool) { pages++ },
		Value:   func(k, v []byte) { values++ },
		Problem: func(pgno uint64, msg string) { t.Errorf("page %d: %s", pgno, msg) },
	})
	if values != 3000 || pages != len(leaves)+len(branches) {
		t.Errorf("Check saw %d values on %d pages, want 3000 on %d", values, pages, len(leaves)+len(branches))
	}
}

func TestCheckDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, s *memstore.Store, leaves, branches []pager.Ref)
		want   []string // substrings, each in some problem
	}{
		{"swapped keys in a leaf", func(t *testing.T, s *memstore.Store, leaves, _ []pager.Ref) {
			b := raw(t, s, leaves[5])
			b[leafHeader], b[leafHeader+1], b[leafHeader+2], b[leafHeader+3] = b[leafHeader+2], b[leafHeader+3], b[leafHeader], b[leafHeader+1]
		}, []string{"key 1 is not greater than key 0"}},
		{"wrong page type", func(t *testing.T, s *memstore.Store, leaves, _ []pager.Ref) {
			raw(t, s, leaves[5])[0] = pager.TypeChain
		}, []string{"page type 5"}},
		{"truncated cell", func(t *testing.T, s *memstore.Store, leaves, _ []pager.Ref) {
			b := raw(t, s, leaves[5])
			n := int(le.Uint16(b[2:]))
			off := int(le.Uint16(b[leafHeader+2*(n-1):]))
			le.PutUint16(b[off+2:], uint16(len(b)-off)) // value runs past the end
		}, []string{"runs past the page end"}},
		{"overlapping cells", func(t *testing.T, s *memstore.Store, leaves, _ []pager.Ref) {
			b := raw(t, s, leaves[5])
			le.PutUint16(b[leafHeader+2:], le.Uint16(b[leafHeader:])+2) // reads lengths from inside cell 0
		}, []string{"cells overlap"}},
		{"key outside parent separators", func(t *testing.T, s *memstore.Store, leaves, _ []pager.Ref) {
			b := raw(t, s, leaves[5])
			off := int(le.Uint16(b[leafHeader:]))
			clear(b[off+leafCellFixed : off+leafCellFixed+8]) // key 0 becomes 0
		}, []string{"below its parent's separator"}},
		{"underfilled leaf", func(t *testing.T, s *memstore.Store, leaves, _ []pager.Ref) {
			le.PutUint16(raw(t, s, leaves[5])[2:], 2)
		}, []string{"under the fill minimum"}},
		{"uneven depth", func(t *testing.T, s *memstore.Store, leaves, branches []pager.Ref) {
			putRef(raw(t, s, branches[0])[4:], leaves[len(leaves)-1]) // root's first child
		}, []string{"leaf at depth", "reached twice"}},
		{"unreadable child and a second damage", func(t *testing.T, s *memstore.Store, leaves, branches []pager.Ref) {
			b := raw(t, s, branches[1])
			le.PutUint64(b[12:], le.Uint64(b[12:])-1) // child 0 at an older generation
			raw(t, s, leaves[len(leaves)-3])[0] = 9
		}, []string{"cannot read page", "page type 9"}},
		{"child newer than parent", func(t *testing.T, s *memstore.Store, leaves, branches []pager.Ref) {
			b := raw(t, s, branches[1])
			le.PutUint64(b[12:], 99)
		}, []string{"newer than its parent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, tr, leaves, branches := committedTree(t, 3000)
			if branches[0] != tr.root {
				t.Fatalf("first page checked is not the root")
			}
			tt.tamper(t, s, leaves, branches)
			got := problems(tr)
			for _, w := range tt.want {
				if !strings.Contains(strings.Join(got, "\n"), w) {
					t.Errorf("no problem mentions %q; problems:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}

func TestCorruptPageErrors(t *testing.T) {
	s, tr, leaves, _ := committedTree(t, 3000)
	raw(t, s, leaves[0])[0] = pager.TypeChain
	if _, _, err := tr.Get(key64(0)); !errors.Is(err, errs.ErrCorrupt) {
		t.Errorf("Get through a chain page: %v, want ErrCorrupt", err)
	}
	if _, _, _, err := tr.Cursor().First(); !errors.Is(err, errs.ErrCorrupt) {
		t.Errorf("First through a chain page: %v, want ErrCorrupt", err)
	}
	if _, _, err := tr.Put(key64(0), nil); !errors.Is(err, errs.ErrCorrupt) {
		t.Errorf("Put through a chain page: %v, want ErrCorrupt", err)
	}
	var pe *errs.PageError
	if _, _, err := tr.Get(key64(1)); !errors.As(err, &pe) || pe.Page != leaves[0].Page {
		t.Errorf("error %v does not name page %d", err, leaves[0].Page)
	}
}
