package scdb_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/streamcrypt/scdb/internal/forge"
)

// FuzzForgedPage fuzzes past the lock: it opens a fuzzer-chosen page of the
// forged-page base file (hostileFixture) with the key, applies fuzzer-chosen
// edits to its plaintext, reseals it at its generation and drives every
// entry point over the result (hostileRun): Open, Lists, All, From, Get,
// Value, Reader, Stats, Check, CopyTo, CompactTo, and Put/Delete/DeleteList
// on top then Commit. Only typed errors, no panic, no hang, bounded
// allocation; Check must fail whenever a read failed; on a file Check
// passes, a write on top must read back.
//
// ops is a list of 4-byte edits: kind, offset (u16, taken modulo what fits
// the payload), selector. The selector picks the value from a table of
// extremes (forgedU16/32/64), with the page's own number, the page count
// and 2^54 past it (which wraps the byte size at 1 KiB pages) among them;
// kind 4 copies another page's whole payload over this one (a wrong type, a
// subtree shared by two parents).
//
//	go test -run '^$' -fuzz '^FuzzForgedPage$' -fuzztime 3s .
func FuzzForgedPage(f *testing.F) {
	h := hostileFixture(f)
	f.Fuzz(func(t *testing.T, page uint16, ops []byte) {
		fg, err := forge.Open(bytes.Clone(h.image), hostileKey)
		if err != nil {
			t.Fatal(err)
		}
		pg := uint64(page) % fg.Pages()
		if !h.pages[pg].ok { // the header, or a page that never opened
			return
		}
		err = fg.Edit(pg, func(p []byte) { applyForgedOps(h, fg, pg, p, ops) })
		if err != nil {
			t.Fatal(err)
		}
		hostileRun(t, fg.Image)
	})
}

// Edit kinds of FuzzForgedPage's ops.
const (
	opByte = iota
	opU16
	opU32
	opU64
	opCopyPage
	opKinds
)

func applyForgedOps(h *hostileFile, fg *forge.File, pg uint64, p, ops []byte) {
	for ; len(ops) >= 4; ops = ops[4:] {
		kind, off, sel := ops[0]%opKinds, int(le.Uint16(ops[1:])), ops[3]
		switch kind {
		case opByte:
			p[off%len(p)] = sel
		case opU16:
			le.PutUint16(p[off%(len(p)-1):], forgedU16(sel, len(p)))
		case opU32:
			le.PutUint32(p[off%(len(p)-3):], forgedU32(sel))
		case opU64:
			le.PutUint64(p[off%(len(p)-7):], forgedU64(sel, pg, h))
		case opCopyPage:
			src := uint64(sel) % uint64(len(h.pages))
			if other, _, err := fg.Find(src); err == nil && src != 0 {
				copy(p, other)
			}
		}
	}
}

func forgedU16(sel byte, payload int) uint16 {
	table := []uint16{0, 1, 0xffff, 0x8000, uint16(payload), uint16(payload - 1), 3}
	if int(sel) < len(table) {
		return table[sel]
	}
	return uint16(sel)
}

func forgedU32(sel byte) uint32 {
	table := []uint32{0, 1, 0xffffffff, 0x80000000, 15, 16, 1024, 1025}
	if int(sel) < len(table) {
		return table[sel]
	}
	return uint32(sel)
}

func forgedU64(sel byte, pg uint64, h *hostileFile) uint64 {
	table := []uint64{0, 1, 3, pg, pg - 1, h.count - 1, h.count, h.count + 1<<54,
		^uint64(0), 1 << 63, 1 << 40, h.gen, h.gen + 1, 1<<32 - 1, 1 << 32, pg + 1}
	if int(sel) < len(table) {
		return table[sel]
	}
	return uint64(sel)
}

// Selectors into the tables above, for the seeds.
const (
	sel16Max     = 2
	sel32Zero    = 0
	sel32Max     = 2
	sel32Big     = 6
	sel64Self    = 3
	sel64Before  = 4
	sel64Last    = 5
	sel64Wrap54  = 7
	sel64Max     = 8
	sel64MaxSize = 10
)

func op(kind byte, off int, sel byte) []byte {
	return []byte{kind, byte(off), byte(off >> 8), sel}
}

// forgedSeed is one seed of FuzzForgedPage: a page and its edits, found
// from the base file's layout by the helpers of hostile_test.go.
type forgedSeed struct {
	name string
	make func(s *forgeSet) (page uint64, ops []byte)
}

var forgedSeeds = []forgedSeed{
	{"freelist-next-self", func(s *forgeSet) (uint64, []byte) {
		return s.freelistPage(), slices.Concat(op(opU32, 4, sel32Zero), op(opU64, 8, sel64Self))
	}},
	{"freelist-count-max", func(s *forgeSet) (uint64, []byte) { return s.freelistPage(), op(opU32, 4, sel32Max) }},
	{"freelist-run-wraps", func(s *forgeSet) (uint64, []byte) {
		return s.freelistPage(), slices.Concat(op(opU64, 16, sel64Max), op(opU32, 24, sel32Max))
	}},
	{"freelist-run-past-count", func(s *forgeSet) (uint64, []byte) {
		return s.freelistPage(), slices.Concat(op(opU64, 16, sel64Last), op(opU32, 24, sel32Big))
	}},
	{"meta-page-count-wraps", func(s *forgeSet) (uint64, []byte) {
		return s.metaPage(), op(opU64, forge.MetaPageCount, sel64Wrap54)
	}},
	{"meta-page-count-max", func(s *forgeSet) (uint64, []byte) {
		return s.metaPage(), op(opU64, forge.MetaPageCount, sel64Max)
	}},
	{"branch-child-self", func(s *forgeSet) (uint64, []byte) { return s.listRoot("a"), op(opU64, 4, sel64Self) }},
	{"branch-child-before", func(s *forgeSet) (uint64, []byte) { return s.listRoot("a"), op(opU64, 4, sel64Before) }},
	{"leaf-count-max", func(s *forgeSet) (uint64, []byte) { return s.listLeaf("c", "c0001"), op(opU16, 2, sel16Max) }},
	{"leaf-is-freelist", func(s *forgeSet) (uint64, []byte) {
		return s.listLeaf("c", "c0001"), op(opCopyPage, 0, byte(s.freelistPage()))
	}},
	{"chain-next-self", func(s *forgeSet) (uint64, []byte) {
		return s.chainFirst("streamed"), op(opU64, 16, sel64Self)
	}},
	{"chain-run-length-max", func(s *forgeSet) (uint64, []byte) {
		return s.chainFirst("streamed"), op(opU32, 4, sel32Max)
	}},
	{"cell-size-max", func(s *forgeSet) (uint64, []byte) {
		leaf := s.listLeaf("b", "streamed")
		off, _ := leafCell(s.tb, s.page(leaf), "streamed")
		return leaf, op(opU64, off+1, sel64MaxSize)
	}},
	{"list-entry-count-max", func(s *forgeSet) (uint64, []byte) {
		off, _ := leafCell(s.tb, s.page(s.dirLeaf()), "a")
		return s.dirLeaf(), slices.Concat(op(opU64, off, sel64Max), op(opU64, off+8, sel64Max))
	}},
}

const forgedSeedDir = "testdata/fuzz/FuzzForgedPage"

var updateForgedSeeds = flag.Bool("update-forged-seeds", false, "rewrite "+forgedSeedDir+" from forgedSeeds")

func forgedSeedFile(s *forgeSet, seed forgedSeed) []byte {
	page, ops := seed.make(s)
	return fmt.Appendf(nil, "go test fuzz v1\nuint16(%d)\n[]byte(%q)\n", page, ops)
}

// TestForgedSeeds keeps FuzzForgedPage's corpus in step with the base
// file's layout: every seed names the page the generator finds for it
// today. (Inputs the fuzzer adds beside them are kept as they are.) A
// change to the writer's allocation moves pages; rewrite with
//
//	go test -run '^TestForgedSeeds$' -update-forged-seeds .
func TestForgedSeeds(t *testing.T) {
	s := newForgeSet(t)
	for _, seed := range forgedSeeds {
		path := filepath.Join(forgedSeedDir, seed.name)
		b := forgedSeedFile(s, seed)
		if *updateForgedSeeds {
			if err := os.MkdirAll(forgedSeedDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s is stale (%v): rerun with -update-forged-seeds", path, err)
		}
	}
}
