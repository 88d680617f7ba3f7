package dirtree

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

const fuzzPayload = 984

// fuzzStore returns a store holding a small committed tree (generation 1)
// plus page bytes b written as page pg, also at generation 1, with the
// store moved on to generation 2. The base tree gives b's child pointers
// real pages to land on.
func fuzzStore(b []byte) (s *memstore.Store, baseRoot, root pager.Ref) {
	s, tr := newStore(fuzzPayload)
	for i := range 120 {
		if _, _, err := tr.Put(key64(i*5), bytes.Repeat([]byte{byte(i)}, 24)); err != nil {
			panic(err)
		}
	}
	baseRoot, err := tr.Flush()
	if err != nil {
		panic(err)
	}
	page := make([]byte, fuzzPayload)
	copy(page, b)
	pg, _ := s.Alloc(1)
	if err := s.WritePage(pg, page); err != nil {
		panic(err)
	}
	s.NextGen()
	return s, baseRoot, pager.Ref{Page: pg, Gen: 1}
}

// fuzzSeeds returns valid root pages: the base tree's root branch, a leaf,
// and a one-leaf tree's root.
func fuzzSeeds() [][]byte {
	s, base, _ := fuzzStore(nil)
	var seeds [][]byte
	Open(s, base).Check(CheckFuncs{Page: func(ref pager.Ref, leaf bool) {
		if ref == base || (leaf && len(seeds) < 3) {
			b, _ := s.Page(ref)
			seeds = append(seeds, bytes.Clone(b))
		}
	}})
	leaf, branch := samplePages(fuzzPayload)
	return append(seeds, leaf, branch)
}

// FuzzDecodeNode opens a tree whose root page holds arbitrary bytes and
// runs every read path, then writes, on it: nothing may panic, loop
// forever, or double-free a page.
func FuzzDecodeNode(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(fuzzOne)
}

func fuzzOne(t *testing.T, b []byte) {
	s, _, root := fuzzStore(b)
	ro := Open(s, root)
	probe := [][]byte{nil, {}, key64(0), key64(5 * 60), key64(1 << 40), []byte("a"), []byte("b"), []byte("m")}
	for _, k := range probe {
		ro.Get(k)
		ro.Cursor().Seek(k)
	}
	var scanned []string
	c := ro.Cursor()
	for k, v, ok, err := c.First(); ok && err == nil; k, v, ok, err = c.Next() {
		if scanned = append(scanned, string(k)+"="+string(v)); len(scanned) > 100000 {
			t.Fatalf("scan does not end")
		}
	}
	var problems, checked []string
	ro.Check(CheckFuncs{
		Page:    func(pager.Ref, bool) {},
		Value:   func(k, v []byte) { checked = append(checked, string(k)+"="+string(v)) },
		Problem: func(pgno uint64, msg string) { problems = append(problems, msg) },
	})
	clean := len(problems) == 0

	// A tree Check passes is a valid tree: reads agree with Check, and
	// writes succeed and keep it valid. On any other tree, writes stop at
	// the first error: after one the tree is undefined.
	if clean && fmt.Sprint(scanned) != fmt.Sprint(checked) {
		t.Fatalf("Check passes but the cursor scan differs from Check's values")
	}
	w := OpenWritable(s, root)
	for i, k := range probe {
		var err error
		if i%3 == 2 {
			_, _, err = w.Delete(k)
		} else {
			_, _, err = w.Put(k, bytes.Repeat([]byte{1}, i*7))
		}
		if err != nil {
			if clean {
				t.Fatalf("write on a valid tree: %v", err)
			}
			return
		}
	}
	if _, err := w.Flush(); err != nil {
		if clean {
			t.Fatalf("Flush on a valid tree: %v", err)
		}
		return
	}
	w.Check(CheckFuncs{Problem: func(pgno uint64, msg string) {
		if clean {
			t.Fatalf("valid tree has a problem after writes: page %d: %s", pgno, msg)
		}
	}})
	if err := w.Drop(func([]byte) error { return nil }); err != nil && clean {
		t.Fatalf("Drop of a valid tree: %v", err)
	}
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzDecodeNode when
// DIRTREE_WRITE_SEEDS is set.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("DIRTREE_WRITE_SEEDS") == "" {
		t.Skip("set DIRTREE_WRITE_SEEDS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeNode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, seed := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("valid-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
