package record

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// damagedChain is the chain every corruption case starts from: written by
// PutReader on 1 KiB pages, 53 pages in three runs at pages 3 (16 pages),
// 19 (32 pages) and 51 (5 pages; the other 59 of its 64 were freed).
const (
	damagedPages = 16 + 32 + 5
	damagedLast  = 55 // the chain's last page
	damagedSize  = damagedPages*(payload1K-headerSize) - 100
)

func newDamagedChain(t *testing.T) (*memstore.Store, []byte) {
	t.Helper()
	s := memstore.New(payload1K)
	cell, _, err := PutReader(s, bytes.NewReader(valueOf(damagedSize, 5)), 10)
	if err != nil {
		t.Fatal(err)
	}
	_, c, _, _ := decodeCell(cell)
	if c.first != 3 || s.Live() != damagedPages {
		t.Fatalf("chain at page %d with %d pages; the test assumes 3 and %d", c.first, s.Live(), damagedPages)
	}
	return s, cell
}

// setCell returns a copy of cell with the u64 at off set to v.
func setCell(cell []byte, off int, v uint64) []byte {
	c := append([]byte{}, cell...)
	binary.LittleEndian.PutUint64(c[off:], v)
	return c
}

func setU64(off int, v uint64) func([]byte) {
	return func(p []byte) { binary.LittleEndian.PutUint64(p[off:], v) }
}

func setU32(off int, v uint32) func([]byte) {
	return func(p []byte) { binary.LittleEndian.PutUint32(p[off:], v) }
}

func setU16(off int, v uint16) func([]byte) {
	return func(p []byte) { binary.LittleEndian.PutUint16(p[off:], v) }
}

func setByte(off int, v byte) func([]byte) { return func(p []byte) { p[off] = v } }

// TestCorruption damages the cell or one page of a chain in many ways and
// checks that every reader (Value, Reader.Read, Reader.WriteTo, Pages)
// fails with ErrCorrupt naming the damaged page, and that Free fails
// without freeing anything when the damage is on a run head or in the
// cell. Damage Free cannot see (it reads run heads only) must not stop it.
func TestCorruption(t *testing.T) {
	cases := []struct {
		name     string
		cell     func(cell []byte) []byte // damage to the cell, or nil
		page     uint64                   // page to damage, or 0
		damage   func(p []byte)
		wantPage uint64 // page the error names; 0: a cell error naming none
		freeSees bool   // Free reads the damaged page (a run head) or the cell
	}{
		{name: "cell tag", cell: func(c []byte) []byte { c = append([]byte{}, c...); c[0] = 7; return c }, freeSees: true},
		{name: "cell size +1 byte", cell: func(c []byte) []byte { return setCell(c, 1, damagedSize+1) }, wantPage: damagedLast},
		{name: "cell size -1 byte", cell: func(c []byte) []byte { return setCell(c, 1, damagedSize-1) }, wantPage: damagedLast},
		{name: "cell size +1 page", cell: func(c []byte) []byte { return setCell(c, 1, damagedSize+960) }, wantPage: 51, freeSees: true},
		{name: "cell size 1 page", cell: func(c []byte) []byte { return setCell(c, 1, 5) }, wantPage: 3, freeSees: true},
		{name: "cell first page mid-run", cell: func(c []byte) []byte { return setCell(c, 9, 4) }, wantPage: 4, freeSees: true},
		{name: "cell first page unwritten", cell: func(c []byte) []byte { return setCell(c, 9, 1000) }, wantPage: 1000, freeSees: true},
		{name: "cell generation", cell: func(c []byte) []byte { return setCell(c, 17, 0) }, wantPage: 3, freeSees: true},
		{name: "head type", page: 19, damage: setByte(0, pager.TypeLeaf), wantPage: 19, freeSees: true},
		{name: "first head type", page: 3, damage: setByte(0, 0), wantPage: 3, freeSees: true},
		{name: "continuation type", page: 10, damage: setByte(0, pager.TypeBranch), wantPage: 10},
		{name: "head role", page: 19, damage: setByte(1, roleCont), wantPage: 19, freeSees: true},
		{name: "continuation role", page: 20, damage: setByte(1, roleHead), wantPage: 20},
		{name: "head used", page: 19, damage: setU16(2, 5), wantPage: 19, freeSees: true},
		{name: "continuation used", page: 30, damage: setU16(2, 959), wantPage: 30},
		{name: "last page used", page: damagedLast, damage: setU16(2, 960), wantPage: damagedLast},
		{name: "run length 0", page: 19, damage: setU32(4, 0), wantPage: 19, freeSees: true},
		{name: "run length 1025", page: 3, damage: setU32(4, MaxRunPages+1), wantPage: 3, freeSees: true},
		{name: "run length -1", page: 19, damage: setU32(4, 31), wantPage: 51, freeSees: true},
		{name: "last run length +1", page: 51, damage: setU32(4, 6), wantPage: 51, freeSees: true},
		{name: "continuation index", page: 25, damage: setU32(4, 7), wantPage: 25},
		{name: "head owner", page: 51, damage: setU64(8, 19), wantPage: 51, freeSees: true},
		{name: "continuation owner", page: 40, damage: setU64(8, 4), wantPage: 40},
		{name: "next loops to the first run", page: 19, damage: setU64(16, 3), wantPage: 3, freeSees: true},
		{name: "last run points to itself", page: 51, damage: setU64(16, 51), wantPage: 51, freeSees: true},
		{name: "next to a continuation page", page: 3, damage: setU64(16, 20), wantPage: 20, freeSees: true},
		{name: "next to page 0", page: 3, damage: setU64(16, 0), wantPage: 3, freeSees: true},
		{name: "next to a meta page", page: 3, damage: setU64(16, 1), wantPage: 3, freeSees: true},
		// Under a cell claiming the largest size every visit of a looping
		// run looks like a run with more to come: only the visited heads
		// stop the walk (it used to read the run ~2^40/15360 times).
		{name: "max size, next loops to the first run", cell: func(c []byte) []byte { return setCell(c, 1, MaxSize) },
			page: 19, damage: setU64(16, 3), wantPage: 3, freeSees: true},
		{name: "max size, run loops to itself", cell: func(c []byte) []byte { return setCell(c, 1, MaxSize) },
			page: 19, damage: setU64(16, 19), wantPage: 19, freeSees: true},
		{name: "continuation reserved", page: 5, damage: setU64(16, 1), wantPage: 5},
		{name: "padding", page: damagedLast, damage: setByte(payload1K-1, 1), wantPage: damagedLast},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, cell := newDamagedChain(t)
			if tc.cell != nil {
				cell = tc.cell(cell)
			}
			if tc.page != 0 {
				rewritePage(t, s, tc.page, tc.damage)
			}
			checkCorrupt(t, s, cell, tc.wantPage, tc.freeSees)
		})
	}
}

// checkCorrupt checks that every way of reading cell fails as corrupt,
// naming wantPage (0: naming no page), and that Free fails with nothing
// freed if freeSees, or frees the chain otherwise.
func checkCorrupt(t *testing.T, s *memstore.Store, cell []byte, wantPage uint64, freeSees bool) {
	t.Helper()
	check := func(what string, err error) {
		t.Helper()
		wantCorrupt(t, what, err)
		if wantPage != 0 {
			wantPageError(t, what, err, wantPage)
		}
	}
	_, err := Value(s, cell)
	check("Value", err)
	if rd, err := NewReader(s, cell); err != nil {
		check("NewReader", err)
	} else {
		_, err = io.ReadAll(struct{ io.Reader }{rd})
		check("Reader.Read", err)
		_, err = rd.Read(make([]byte, 10))
		check("Reader.Read after an error", err)
		rd, _ = NewReader(s, cell)
		_, err = rd.WriteTo(io.Discard)
		check("Reader.WriteTo", err)
	}
	check("Pages", Pages(s, cell, func(pager.Ref) {}))
	live := s.Live()
	err = Free(s, cell)
	if freeSees {
		check("Free", err)
		if s.Live() != live {
			t.Errorf("failed Free freed %d pages", live-s.Live())
		}
	} else if err != nil || s.Live() != 0 {
		t.Errorf("Free = %v with %d pages live; the damage is not on a run head, want nil and 0", err, s.Live())
	}
}

// TestFreeOverlappingRuns makes two runs overlap, which Free alone can
// notice only by comparing the runs, since it reads no continuation page:
// the first run claims 17 pages (covering the second run's head) and the
// last run 4, so the lengths still add up.
func TestFreeOverlappingRuns(t *testing.T) {
	s, cell := newDamagedChain(t)
	rewritePage(t, s, 3, setU32(4, 17))
	rewritePage(t, s, 51, setU32(4, 4))
	live := s.Live()
	err := Free(s, cell)
	wantCorrupt(t, "Free", err)
	wantPageError(t, "Free", err, 19)
	if s.Live() != live {
		t.Errorf("failed Free freed %d pages", live-s.Live())
	}
	_, err = Value(s, cell)
	wantCorrupt(t, "Value", err)
}

// TestFreeTwice checks a second Free of the same cell fails instead of
// freeing pages that may by then belong to someone else.
func TestFreeTwice(t *testing.T) {
	s, cell := newDamagedChain(t)
	if err := Free(s, cell); err != nil {
		t.Fatal(err)
	}
	wantCorrupt(t, "second Free", Free(s, cell))
}

// TestFreeFutureGeneration checks Free refuses a cell from a generation
// after the writer's.
func TestFreeFutureGeneration(t *testing.T) {
	s, cell := newDamagedChain(t)
	reads := s.Reads
	wantCorrupt(t, "Free", Free(s, setCell(cell, 17, s.Gen()+1)))
	if s.Live() != damagedPages || s.Reads != reads {
		t.Errorf("%d pages live, %d pages read; want %d and none", s.Live(), s.Reads-reads, damagedPages)
	}
}

// TestStaleGenerationPage replaces one continuation page by a copy written
// at a later generation: the pager's generation check must surface as
// ErrCorrupt naming that page.
func TestStaleGenerationPage(t *testing.T) {
	s, cell := newDamagedChain(t)
	p := make([]byte, payload1K)
	if err := s.ReadPages(pager.Ref{Page: 30, Gen: s.Gen()}, p); err != nil {
		t.Fatal(err)
	}
	s.NextGen()
	if err := s.WritePage(30, p); err != nil {
		t.Fatal(err)
	}
	_, err := Value(s, cell)
	wantCorrupt(t, "Value", err)
	wantPageError(t, "Value", err, 30)
}

// TestOtherRunLayouts checks readers accept any run lengths the format
// allows, not only those the writers choose, and reject a run shorter than
// 16 pages that is not the last.
func TestOtherRunLayouts(t *testing.T) {
	data := payload1K - headerSize
	valid := [][]int{{1}, {16, 1}, {16, 16}, {20, 3}, {1024, 16, 2}, {17, 1024, 100}, {16, 16, 16, 16, 1}}
	for _, runs := range valid {
		s := memstore.New(payload1K)
		pages := 0
		for _, n := range runs {
			pages += n
		}
		value := valueOf(pages*data-data/2, 8)
		cell := writeChain(t, s, value, runs)
		if got := readAll(t, s, cell, 1500); !bytes.Equal(got, value) {
			t.Errorf("runs %v: value differs", runs)
		}
		if err := Pages(s, cell, func(pager.Ref) {}); err != nil {
			t.Errorf("runs %v: Pages: %v", runs, err)
		}
		if err := Free(s, cell); err != nil || s.Live() != 0 {
			t.Errorf("runs %v: Free = %v, %d live", runs, err, s.Live())
		}
	}
	for _, runs := range [][]int{{15, 1}, {3, 3}, {16, 2, 2}} {
		s := memstore.New(payload1K)
		pages := 0
		for _, n := range runs {
			pages += n
		}
		cell := writeChain(t, s, valueOf(pages*data, 8), runs)
		_, c, _, _ := decodeCell(cell)
		short := c.first
		if runs[0] >= minRunPages {
			short += uint64(runs[0])
		}
		checkCorrupt(t, s, cell, short, true)
	}
}

// TestWriteToBadWriter checks WriteTo reports a writer's error, a short
// write and an impossible count.
func TestWriteToBadWriter(t *testing.T) {
	s := memstore.New(payload1K)
	cell, err := Put(s, valueOf(5000, 1), 10)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		w    io.Writer
		want int64
	}{
		{writerFunc(func(p []byte) (int, error) { return 0, errDisk }), 0},
		{writerFunc(func(p []byte) (int, error) { return len(p) / 2, nil }), 480},
		{writerFunc(func(p []byte) (int, error) { return len(p) + 1, nil }), 0},
		{writerFunc(func(p []byte) (int, error) { return -1, nil }), 0},
	}
	for i, tc := range cases {
		rd, _ := NewReader(s, cell)
		n, err := rd.WriteTo(tc.w)
		if err == nil || n != tc.want {
			t.Errorf("case %d: WriteTo = %d, %v; want %d and an error", i, n, err, tc.want)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
