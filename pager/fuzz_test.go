package pager_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/pager"
)

// fuzzKey opens the FuzzOpen seed files. It is a raw key, so no mutated
// passphrase slot can make the fuzzer spend time in Argon2id.
var fuzzKey = rawKey(0xf0)

// FuzzOpen opens arbitrary bytes as a whole file with a fixed key. Any
// error is fine as long as it is one of the four an Open may give; no
// input may panic or hang. When Open succeeds, the tree root and the free
// list are read too.
func FuzzOpen(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := pager.Open(faultfile.New(data), fuzzKey, pager.Options{CacheSize: 1 << 16})
		if err != nil {
			for _, want := range []error{errs.ErrNotSCDB, errs.ErrVersion, errs.ErrCorrupt, errs.ErrWrongKey} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("Open failed with an unclassified error: %v", err)
		}
		defer p.Close()
		m := p.Meta()
		if !m.Tree.IsZero() {
			p.Page(m.Tree)
		}
		fl, err := freelist.Load(p, m)
		if err != nil {
			return
		}
		fl.Begin(m.Gen+1, m.Gen)
		if _, err := fl.Alloc(2); err != nil {
			t.Fatal(err)
		}
	})
}

// seedFile builds a small valid file deterministically: two commits, the
// second freeing pages so the file has freelist pages.
func seedFile(t *testing.T) []byte {
	t.Helper()
	var seed [32]byte
	f := faultfile.New(nil)
	o := opts()
	o.Rand = mrand.NewChaCha8(seed)
	p, err := pager.Create(f, fuzzKey, o)
	if err != nil {
		t.Fatal(err)
	}
	fl := freelist.New()
	write := func(gen uint64) func(uint64, []byte) error {
		return func(pg uint64, b []byte) error { return p.WritePage(pg, gen, b) }
	}
	for gen := uint64(1); gen <= 2; gen++ {
		fl.Begin(gen, gen-1)
		first, _ := fl.Alloc(3)
		for pg := first; pg < first+3; pg++ {
			writePage(t, p, pg, gen, pg)
		}
		if gen == 2 {
			fl.Free(pager.Ref{Page: 3, Gen: 1})
			fl.Free(pager.Ref{Page: 5, Gen: 1})
		}
		r, err := fl.Save(p.PayloadSize(), write(gen))
		if err != nil {
			t.Fatal(err)
		}
		commit(t, p, pager.Meta{Gen: gen, PageCount: fl.PageCount(), Tree: pager.Ref{Page: first, Gen: gen}, Freelist: r})
		fl.Commit()
	}
	return f.Bytes()
}

// TestWriteFuzzOpenSeeds regenerates FuzzOpen's seed corpus when run with
// -update-seeds (a flag defined by the internal fuzz tests).
func TestWriteFuzzOpenSeeds(t *testing.T) {
	if fl := flag.Lookup("update-seeds"); fl == nil || fl.Value.String() != "true" {
		t.Skip("run with -update-seeds to rewrite testdata/fuzz")
	}
	valid := seedFile(t)
	variant := func(edit func(b []byte) []byte) []byte { return edit(bytes.Clone(valid)) }
	flip := func(offs ...int) []byte {
		return variant(func(b []byte) []byte {
			for _, o := range offs {
				b[o] ^= 0x04
			}
			return b
		})
	}
	random := make([]byte, 3*testPageSize)
	mrand.NewChaCha8([32]byte{1}).Read(random)
	pw := faultfile.New(nil)
	if _, err := pager.Create(pw, pass("not the key"), pager.Options{PageSize: testPageSize, KDF: testKDF, Rand: mrand.NewChaCha8([32]byte{2})}); err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{
		"valid":               valid,
		"copy0-damaged":       flip(100),
		"copy1-damaged":       flip(headerSize + 100),
		"both-copies-damaged": flip(100, headerSize+100),
		"newest-meta-damaged": flip(int(metaOffset(2)) + 50),
		"both-metas-damaged":  flip(int(metaOffset(1))+50, int(metaOffset(2))+50),
		"tree-damaged":        flip(3*testPageSize + 500), // first data page
		"truncated":           valid[:5*testPageSize],
		"header-only":         valid[:pager.HeaderBytes],
		"version-2": variant(func(b []byte) []byte {
			editHeader(b, 0, func(h []byte) { h[8] = 2 })
			editHeader(b, 1, func(h []byte) { h[8] = 2 })
			return b
		}),
		"passphrase-file": pw.Bytes(),
		"random":          random,
		"empty":           {},
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFuzzOpenSeedValid guards the committed valid seed: it must still
// open, reach generation 2 and have a loadable free list, or FuzzOpen
// starts from nothing deeper than the header.
func TestFuzzOpenSeedValid(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzOpen", "valid"))
	if err != nil {
		t.Fatal(err)
	}
	head, arg, ok := strings.Cut(strings.TrimSuffix(string(b), ")\n"), "\n[]byte(")
	if !ok || head != "go test fuzz v1" {
		t.Fatal("FuzzOpen/valid is not a corpus file")
	}
	data, err := strconv.Unquote(arg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pager.Open(faultfile.New([]byte(data)), fuzzKey, opts())
	if err != nil {
		t.Fatalf("the valid FuzzOpen seed does not open (regenerate with -update-seeds): %v", err)
	}
	m := p.Meta()
	if m.Gen != 2 || m.Freelist.IsZero() {
		t.Fatalf("valid seed at %+v, want generation 2 with a free list", m)
	}
	if _, err := freelist.Load(p, m); err != nil {
		t.Fatal(err)
	}
}
