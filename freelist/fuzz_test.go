package freelist_test

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// updateSeeds rewrites testdata/fuzz/FuzzLoad:
//
//	go test ./freelist -run WriteFuzzSeeds -update-seeds
var updateSeeds = flag.Bool("update-seeds", false, "rewrite the seed corpus under testdata/fuzz")

// fuzzPayload gives 4 runs per log page and 6 per checkpoint page, so
// chains are long.
const fuzzPayload = 48 + 4*entrySize

const entrySize = 12

// fuzzStore lays data out as consecutive freelist-sized pages from page 3
// on, all at generation 1, as FuzzLoad reads them.
func fuzzStore(data []byte) *memstore.Store {
	s := newStoreN(fuzzPayload, 2048) // page counts stay below 1024 + the new chain
	for i := 0; i*fuzzPayload < len(data) && i < 64; i++ {
		b := make([]byte, fuzzPayload)
		copy(b, data[i*fuzzPayload:])
		if err := s.WritePage(pager.FirstDataPage+uint64(i), b); err != nil {
			panic(err)
		}
	}
	return s
}

func fuzzMeta(pageCount, root uint16) pager.Meta {
	return pager.Meta{Gen: 1, PageCount: pager.FirstDataPage + uint64(pageCount)%1021, Freelist: pager.Ref{Page: uint64(root), Gen: 1}}
}

// FuzzLoad loads arbitrary freelist pages. A failure must be corruption; a
// success must describe a sane free set, and a Save of it must succeed and
// record exactly the same pages as not in use. Minimizing new inputs takes
// most of a short run; -fuzzminimizetime=2s leaves time for fuzzing.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, pageCount, root uint16, data []byte) {
		s := fuzzStore(data)
		m := fuzzMeta(pageCount, root)
		g, err := freelist.Load(s, m)
		// Open, which defers reading past the head to Begin, must agree.
		o, oerr := freelist.Open(s, m)
		if oerr == nil {
			o.Begin(2, 1)
			oerr = o.Err()
			o.Rollback()
		}
		if (oerr == nil) != (err == nil) || (oerr != nil && !errors.Is(oerr, errs.ErrCorrupt)) {
			t.Fatalf("Load: %v; Open and Begin: %v", err, oerr)
		}
		if err != nil {
			if !errors.Is(err, errs.ErrCorrupt) {
				t.Fatalf("Load failed with an unclassified error: %v", err)
			}
			return
		}
		chain1, free1 := persisted(t, s, m)
		if g.PageCount() != m.PageCount || g.FreeCount() != uint64(len(free1)) {
			t.Fatalf("loaded %d pages %d free; meta says %d, runs %d", g.PageCount(), g.FreeCount(), m.PageCount, len(free1))
		}
		unused1 := setOf(append(chain1, free1...))
		if len(unused1) != len(chain1)+len(free1) {
			t.Fatal("Load accepted a free set that holds its own freelist pages")
		}

		// Saving what was loaded changes nothing about which pages are in
		// use: the old chain becomes free, the new chain comes from free
		// pages or the end of the file.
		s.NextGen()
		g.Begin(2, 1)
		m2 := save(t, g, s)
		chain2, free2 := persisted(t, s, m2)
		unused2 := setOf(append(chain2, free2...))
		if len(unused2) != len(chain2)+len(free2) {
			t.Fatal("Save recorded one of its own pages as free")
		}
		for p := uint64(pager.FirstDataPage); p < max(m.PageCount, m2.PageCount); p++ {
			u1 := unused1[p] || p >= m.PageCount
			u2 := unused2[p] || p >= m2.PageCount
			if u1 != u2 {
				t.Fatalf("page %d: unused %v before Save, %v after", p, u1, u2)
			}
		}
	})
}

// fuzzPage encodes one page of a FuzzLoad input.
func fuzzPage(next uint64, runs ...flEntry) []byte { return flPage(fuzzPayload, next, runs...) }

// fuzzLog encodes one log page of a FuzzLoad input; its previous page,
// like every page of the input, has generation 1.
func fuzzLog(prev, seq, free uint64, removed, added []flEntry) []byte {
	r := pager.Ref{}
	if prev != 0 {
		r = pager.Ref{Page: prev, Gen: 1}
	}
	return logPage(fuzzPayload, r, seq, free, removed, added)
}

func concat(pages ...[]byte) []byte {
	var out []byte
	for _, p := range pages {
		out = append(out, p...)
	}
	return out
}

type loadSeed struct {
	pageCount, root uint16
	data            []byte
}

func loadSeeds() map[string]loadSeed {
	valid := concat(
		fuzzPage(4, flEntry{10, 2}, flEntry{20, 1}, flEntry{30, 5}, flEntry{40, 1}),
		fuzzPage(0, flEntry{50, 3}, flEntry{60, 1}),
	)
	tooMany := fuzzPage(0, flEntry{10, 1}, flEntry{12, 1}, flEntry{14, 1}, flEntry{16, 1})
	tooMany[4] = 5 // entry count: one more than the page holds
	e := func(start uint64, n uint32) []flEntry { return []flEntry{{start, n}} }
	ckpt := fuzzPage(0, flEntry{10, 2}, flEntry{20, 1})
	log1 := fuzzLog(3, 1, 4, e(10, 1), e(30, 2))
	overflow := fuzzLog(3, 1, 3, nil, nil)
	binary.LittleEndian.PutUint32(overflow[4:], 0xffffffff)
	return map[string]loadSeed{
		"valid-log":             {97, 5, concat(ckpt, log1, fuzzLog(4, 2, 4, e(30, 1), e(40, 1)))},
		"valid-log-empty-base":  {97, 3, fuzzLog(0, 1, 3, nil, e(10, 3))},
		"log-loop":              {97, 3, concat(fuzzLog(4, 2, 0, nil, nil), fuzzLog(3, 1, 0, nil, nil))},
		"log-sequence-gap":      {97, 5, concat(ckpt, log1, fuzzLog(4, 3, 4, nil, nil))},
		"log-count-overflow":    {97, 4, concat(ckpt, overflow)},
		"log-out-of-order":      {97, 4, concat(ckpt, fuzzLog(3, 1, 5, nil, []flEntry{{30, 1}, {25, 1}}))},
		"log-removes-unfree":    {97, 4, concat(ckpt, fuzzLog(3, 1, 2, e(15, 1), nil))},
		"log-adds-free":         {97, 4, concat(ckpt, fuzzLog(3, 1, 4, nil, e(11, 1)))},
		"log-free-count":        {97, 4, concat(ckpt, fuzzLog(3, 1, 9, e(10, 1), e(30, 2)))},
		"log-adds-own-page":     {97, 4, concat(ckpt, fuzzLog(3, 1, 4, nil, e(4, 1)))},
		"log-checkpoint-is-log": {97, 4, concat(fuzzLog(0, 1, 0, nil, nil), fuzzLog(3, 1, 0, nil, nil))},
		"valid":                 {97, 3, valid},
		"valid-tail":            {97, 3, concat(fuzzPage(0, flEntry{10, 1}, flEntry{90, 10}))},
		"valid-touching":        {97, 3, concat(fuzzPage(0, flEntry{10, 2}, flEntry{12, 2}))},
		"valid-empty":           {97, 3, concat(fuzzPage(0))},
		"no-freelist":           {97, 0, nil},
		"loop":                  {97, 3, concat(fuzzPage(4), fuzzPage(3))},
		"overlap":               {97, 3, concat(fuzzPage(0, flEntry{10, 5}, flEntry{12, 1}))},
		"run-over-chain":        {97, 3, concat(fuzzPage(4, flEntry{4, 1}), fuzzPage(0))},
		"run-past-end":          {97, 3, concat(fuzzPage(0, flEntry{99, 2}))},
		"too-many":              {97, 3, tooMany},
	}
}

// TestWriteFuzzSeeds regenerates FuzzLoad's seed corpus with -update-seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to rewrite testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzLoad")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range loadSeeds() {
		b := fmt.Sprintf("go test fuzz v1\nuint16(%d)\nuint16(%d)\n[]byte(%q)\n", s.pageCount, s.root, s.data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFuzzSeedsValid guards the committed seeds: those named valid must
// still load, and the others must still be refused.
func TestFuzzSeedsValid(t *testing.T) {
	for name := range loadSeeds() {
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzLoad", name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 4)
		pc, err1 := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(lines[1], "uint16("), ")"), 10, 16)
		root, err2 := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(lines[2], "uint16("), ")"), 10, 16)
		data, err3 := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[3], "[]byte("), ")\n"))
		if err := errors.Join(err1, err2, err3); err != nil || lines[0] != "go test fuzz v1" {
			t.Fatalf("seed %s: %v", name, err)
		}
		_, err = freelist.Load(fuzzStore([]byte(data)), fuzzMeta(uint16(pc), uint16(root)))
		wantOK := strings.HasPrefix(name, "valid") || name == "no-freelist"
		if (err == nil) != wantOK {
			t.Errorf("seed %s: Load = %v, want ok=%v (regenerate with -update-seeds)", name, err, wantOK)
		}
	}
}
