package scdb_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/internal/forge"
)

// Authentic-but-hostile pages: each case seals, with the right key, a payload
// that lies in one way (a cycle, a lying count, a wrong type, an overflowing
// run, a freelist over live pages), then drives every entry point over the
// file (hostileRun). Every case must come out as ErrCorrupt somewhere, Check
// included, in bounded time and memory, with no panic and no untyped error.

var le = binary.LittleEndian

// Page types (FORMAT.md §6.1).
const (
	ptMeta     = 1
	ptFreelist = 2
	ptBranch   = 3
	ptLeaf     = 4
	ptChain    = 5
)

// forgeSet is a forger over a copy of the base image, with helpers that find
// the pages a case wants to lie in.
type forgeSet struct {
	tb testing.TB
	h  *hostileFile
	f  *forge.File
}

func newForgeSet(tb testing.TB) *forgeSet {
	h := hostileFixture(tb)
	f, err := forge.Open(bytes.Clone(h.image), hostileKey)
	if err != nil {
		tb.Fatal(err)
	}
	return &forgeSet{tb: tb, h: h, f: f}
}

func (s *forgeSet) edit(pg uint64, fn func(p []byte)) {
	s.tb.Helper()
	if err := s.f.Edit(pg, fn); err != nil {
		s.tb.Fatalf("forging page %d: %v", pg, err)
	}
}

func (s *forgeSet) page(pg uint64) []byte {
	s.tb.Helper()
	p, _, err := s.f.Find(pg)
	if err != nil {
		s.tb.Fatalf("page %d: %v", pg, err)
	}
	return p
}

// metaPage is the meta page of the base file's last commit.
func (s *forgeSet) metaPage() uint64 { return 1 + s.h.gen%2 }

// ref reads the page reference at off of payload p.
func ref(p []byte, off int) (pg, gen uint64) { return le.Uint64(p[off:]), le.Uint64(p[off+8:]) }

// leafCell finds key in leaf payload p and returns the offset and length of
// its value.
func leafCell(tb testing.TB, p []byte, key string) (int, int) {
	tb.Helper()
	if p[0] != ptLeaf {
		tb.Fatalf("page type %d, want a leaf", p[0])
	}
	for i := range int(le.Uint16(p[2:])) {
		off := int(le.Uint16(p[4+2*i:]))
		kl, vl := int(le.Uint16(p[off:])), int(le.Uint16(p[off+2:]))
		if string(p[off+4:off+4+kl]) == key {
			return off + 4 + kl, vl
		}
	}
	tb.Fatalf("key %q not in the leaf", key)
	return 0, 0
}

// dirLeaf is the directory tree's root, a single leaf in the base file.
func (s *forgeSet) dirLeaf() uint64 {
	pg, _ := ref(s.page(s.metaPage()), forge.MetaTree)
	return pg
}

// listRoot returns the root page of list name's tree.
func (s *forgeSet) listRoot(name string) uint64 {
	off, _ := leafCell(s.tb, s.page(s.dirLeaf()), name)
	pg, _ := ref(s.page(s.dirLeaf()), off+24)
	return pg
}

// listLeaf returns the leaf of list name that holds id, descending from the
// list's root through branch child 0 when the root is a branch: the base's
// lists "b" and "c" are single leaves.
func (s *forgeSet) listLeaf(name, id string) uint64 {
	pg := s.listRoot(name)
	if s.page(pg)[0] != ptLeaf {
		s.tb.Fatalf("list %q has a branch root", name)
	}
	leafCell(s.tb, s.page(pg), id)
	return pg
}

// chainFirst returns the first page of the chain of record id in list "b".
func (s *forgeSet) chainFirst(id string) uint64 {
	p := s.page(s.listLeaf("b", id))
	off, n := leafCell(s.tb, p, id)
	if n != 25 || p[off] != 1 {
		s.tb.Fatalf("b/%s is not a chain cell", id)
	}
	return le.Uint64(p[off+9:])
}

func (s *forgeSet) freelistPage() uint64 {
	pg, _ := ref(s.page(s.metaPage()), forge.MetaFreelist)
	if pg == 0 {
		s.tb.Fatal("base file has no freelist")
	}
	return pg
}

// setRuns rewrites the freelist page pg to hold runs and no next page.
func setRuns(p []byte, runs [][2]uint64) {
	clear(p[4:])
	le.PutUint32(p[4:], uint32(len(runs)))
	for i, r := range runs {
		le.PutUint64(p[16+12*i:], r[0])
		le.PutUint32(p[16+12*i+8:], uint32(r[1]))
	}
}

func runsOf(p []byte) [][2]uint64 {
	var out [][2]uint64
	for i := range int(le.Uint32(p[4:])) {
		out = append(out, [2]uint64{le.Uint64(p[16+12*i:]), uint64(le.Uint32(p[16+12*i+8:]))})
	}
	return out
}

// hostileCase is one lie.
type hostileCase struct {
	name string
	// forge makes the lie and returns the pages it forged.
	forge func(s *forgeSet) []uint64
	// openFails: the writable Open itself must refuse the file (the lie
	// is in what Open reads: meta or freelist).
	openFails bool
	// anonymous: the damage may be reported on no page in particular.
	anonymous bool
	// metaRefused: the newest meta breaks a rule of the meta page itself,
	// so a reader treats it as torn and opens the previous commit: Check
	// warns (MetaFault), and RequireNewestMeta makes Open refuse the file.
	metaRefused bool
}

var hostileCases = []hostileCase{
	{name: "freelist next is itself", openFails: true, forge: func(s *forgeSet) []uint64 {
		pg := s.freelistPage()
		s.edit(pg, func(p []byte) { le.PutUint32(p[4:], 0); le.PutUint64(p[8:], pg) })
		return []uint64{pg}
	}},
	{name: "freelist run wraps past 2^64", openFails: true, forge: func(s *forgeSet) []uint64 {
		pg := s.freelistPage()
		s.edit(pg, func(p []byte) { setRuns(p, [][2]uint64{{^uint64(0) - 5, 0xffffffff}}) })
		return []uint64{pg}
	}},
	{name: "freelist run past the page count", openFails: true, forge: func(s *forgeSet) []uint64 {
		pg := s.freelistPage()
		s.edit(pg, func(p []byte) { setRuns(p, [][2]uint64{{s.h.count - 1, 2}}) })
		return []uint64{pg}
	}},
	{name: "freelist runs overlap", openFails: true, forge: func(s *forgeSet) []uint64 {
		pg := s.freelistPage()
		s.edit(pg, func(p []byte) {
			runs := runsOf(p)
			setRuns(p, append([][2]uint64{runs[0]}, runs...))
		})
		return []uint64{pg}
	}},
	{name: "freelist entry count over capacity", openFails: true, forge: func(s *forgeSet) []uint64 {
		pg := s.freelistPage()
		s.edit(pg, func(p []byte) { le.PutUint32(p[4:], 0xffffffff) })
		return []uint64{pg}
	}},
	{name: "freelist covers the directory root", openFails: true, forge: func(s *forgeSet) []uint64 {
		pg, root := s.freelistPage(), s.dirLeaf()
		s.edit(pg, func(p []byte) {
			runs := append(runsOf(p), [2]uint64{root, 1})
			slices.SortFunc(runs, func(a, b [2]uint64) int { return int(a[0]) - int(b[0]) })
			setRuns(p, runs)
		})
		return []uint64{pg}
	}},
	{name: "freelist covers a live leaf", forge: func(s *forgeSet) []uint64 {
		pg, leaf := s.freelistPage(), s.listLeaf("c", "c0001")
		s.edit(pg, func(p []byte) {
			runs := append(runsOf(p), [2]uint64{leaf, 1})
			slices.SortFunc(runs, func(a, b [2]uint64) int { return int(a[0]) - int(b[0]) })
			setRuns(p, runs)
		})
		return []uint64{pg}
	}},
	{name: "branch child is itself", forge: func(s *forgeSet) []uint64 {
		pg := s.listRoot("a")
		s.edit(pg, func(p []byte) { le.PutUint64(p[4:], pg) })
		return []uint64{pg}
	}},
	{name: "branch child is the directory leaf", forge: func(s *forgeSet) []uint64 {
		pg, dir := s.listRoot("a"), s.dirLeaf()
		_, dirGen, _ := s.f.Find(dir)
		s.edit(pg, func(p []byte) { le.PutUint64(p[4:], dir); le.PutUint64(p[12:], dirGen) })
		return []uint64{pg}
	}},
	{name: "leaf cell count 65535", forge: func(s *forgeSet) []uint64 {
		pg := s.listLeaf("c", "c0001")
		s.edit(pg, func(p []byte) { le.PutUint16(p[2:], 0xffff) })
		return []uint64{pg}
	}},
	{name: "leaf keys out of order", forge: func(s *forgeSet) []uint64 {
		pg := s.listLeaf("c", "c0001")
		s.edit(pg, func(p []byte) {
			a, b := le.Uint16(p[4:]), le.Uint16(p[6:])
			le.PutUint16(p[4:], b)
			le.PutUint16(p[6:], a)
		})
		return []uint64{pg}
	}},
	{name: "leaf has the chain page type", forge: func(s *forgeSet) []uint64 {
		pg := s.listLeaf("c", "c0001")
		s.edit(pg, func(p []byte) { p[0] = ptChain })
		return []uint64{pg}
	}},
	{name: "list entry counts 2^64-1 records", forge: func(s *forgeSet) []uint64 {
		pg := s.dirLeaf()
		off, _ := leafCell(s.tb, s.page(pg), "a")
		s.edit(pg, func(p []byte) { le.PutUint64(p[off:], ^uint64(0)); le.PutUint64(p[off+8:], 1<<63) })
		return []uint64{pg}
	}},
	{name: "chain next loops to its own head", forge: func(s *forgeSet) []uint64 {
		// The cell claims the largest size, so every visit of the 16-page run
		// looks like a run with more to come: only a visited bound stops it.
		first, leaf := s.chainFirst("streamed"), s.listLeaf("b", "streamed")
		off, _ := leafCell(s.tb, s.page(leaf), "streamed")
		s.edit(leaf, func(p []byte) { le.PutUint64(p[off+1:], scdb.MaxValueSize) })
		s.edit(first, func(p []byte) { le.PutUint64(p[16:], first) })
		return []uint64{leaf, first}
	}},
	{name: "chain cell claims 2^40 bytes", forge: func(s *forgeSet) []uint64 {
		leaf := s.listLeaf("b", "streamed")
		off, _ := leafCell(s.tb, s.page(leaf), "streamed")
		s.edit(leaf, func(p []byte) { le.PutUint64(p[off+1:], scdb.MaxValueSize) })
		return []uint64{leaf}
	}},
	{name: "chain run length 2^32-1", forge: func(s *forgeSet) []uint64 {
		first := s.chainFirst("streamed")
		s.edit(first, func(p []byte) { le.PutUint32(p[4:], 0xffffffff) })
		return []uint64{first}
	}},
	{name: "two cells share one chain", forge: func(s *forgeSet) []uint64 {
		leaf := s.listLeaf("b", "streamed")
		from, _ := leafCell(s.tb, s.page(leaf), "streamed")
		to, _ := leafCell(s.tb, s.page(leaf), "b3")
		s.edit(leaf, func(p []byte) { copy(p[to:to+25], p[from:from+25]) })
		return []uint64{leaf}
	}},
	{name: "meta page count + 2^54 and a freelist loop", metaRefused: true, forge: func(s *forgeSet) []uint64 {
		// 2^54 pages of 1 KiB wrap the byte size back to the real one.
		m, fl := s.metaPage(), s.freelistPage()
		s.edit(m, func(p []byte) { le.PutUint64(p[forge.MetaPageCount:], s.h.count+1<<54) })
		s.edit(fl, func(p []byte) { le.PutUint32(p[4:], 0); le.PutUint64(p[8:], fl) })
		return []uint64{m, fl}
	}},
	// A page count above 2^(63-s) is outside the meta's own rules.
	{name: "meta page count 2^64-1", metaRefused: true, forge: func(s *forgeSet) []uint64 {
		m := s.metaPage()
		s.edit(m, func(p []byte) { le.PutUint64(p[forge.MetaPageCount:], ^uint64(0)) })
		return []uint64{m}
	}},
	{name: "meta tree root is the freelist page", forge: func(s *forgeSet) []uint64 {
		m, fl := s.metaPage(), s.freelistPage()
		s.edit(m, func(p []byte) { copy(p[forge.MetaTree:forge.MetaTree+16], p[forge.MetaFreelist:forge.MetaFreelist+16]) })
		return []uint64{m, fl}
	}},
}

// wantMetaRefused: img opens at its previous commit with MetaFault set, and
// not at all under RequireNewestMeta.
func wantMetaRefused(t *testing.T, img []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.scdb")
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := scdb.Open(path, scdb.Options{Key: hostileKey, ReadOnly: true})
	if err != nil {
		t.Fatalf("Open: %v, want the previous commit", err)
	}
	defer db.Close()
	var pe *scdb.CorruptPageError
	if !errors.As(db.MetaFault(), &pe) || pe.Page > 2 {
		t.Errorf("MetaFault %v, want ErrCorrupt naming a meta page", db.MetaFault())
	}
	if _, err := scdb.Open(path, scdb.Options{Key: hostileKey, ReadOnly: true, RequireNewestMeta: true}); !errors.Is(err, scdb.ErrCorrupt) {
		t.Errorf("Open with RequireNewestMeta: %v, want ErrCorrupt", err)
	}
}

func TestHostilePages(t *testing.T) {
	for _, c := range hostileCases {
		t.Run(c.name, func(t *testing.T) {
			s := newForgeSet(t)
			c.forge(s)
			res := hostileRun(t, s.f.Image)
			if c.metaRefused {
				wantMetaRefused(t, s.f.Image)
				return
			}
			if !errors.Is(res.checkErr, scdb.ErrCorrupt) {
				t.Errorf("Check: %v, want ErrCorrupt", res.checkErr)
			}
			if c.openFails && !errors.Is(res.openErr, scdb.ErrCorrupt) {
				t.Errorf("writable Open: %v, want ErrCorrupt", res.openErr)
			}
			if !c.anonymous && !res.namesPage() {
				t.Errorf("no error names a page: check %v, open %v, reads %v", res.checkErr, res.openErr, res.readErrs)
			}
		})
	}
}
