package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"testing/iotest"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// TestRoundTrip writes values of the sizes where the layout changes, with
// Put and PutReader on 1 KiB and 4 KiB pages, and checks the cell, the
// chain's runs, every way of reading, Pages and Free.
func TestRoundTrip(t *testing.T) {
	const maxInline = 100
	for _, payload := range []int{payload1K, payload4K} {
		data := payload - headerSize
		sizes := []struct {
			name string
			size int
		}{
			{"empty", 0},
			{"one byte", 1},
			{"maxInline", maxInline},
			{"maxInline+1", maxInline + 1},
			{"one page", data},
			{"one page+1", data + 1},
			{"16 pages", 16 * data},
			{"16 pages+1", 16*data + 1},
			{"three streaming runs", (16+32+1)*data + 7},
			{"1024 pages", MaxRunPages * data},
			{"1025 pages", (MaxRunPages+1)*data - 1},
			{"2100 pages", 2100*data - 3},
			{"3100 pages", 3100 * data},
		}
		for _, tc := range sizes {
			for _, streaming := range []bool{false, true} {
				name := tc.name + map[bool]string{false: "/Put", true: "/PutReader"}[streaming]
				t.Run(payloadName(payload)+"/"+name, func(t *testing.T) {
					testRoundTrip(t, payload, tc.size, maxInline, streaming)
				})
			}
		}
	}
}

func payloadName(payload int) string {
	return map[int]string{payload1K: "1K", payload4K: "4K"}[payload]
}

func testRoundTrip(t *testing.T, payload, size, maxInline int, streaming bool) {
	cs := &countingStore{Store: memstore.New(payload)}
	s := cs.Store
	value := valueOf(size, byte(size))
	var cell []byte
	var err error
	if streaming {
		var n int64
		cell, n, err = PutReader(cs, bytes.NewReader(value), maxInline)
		if err == nil && n != int64(size) {
			t.Fatalf("PutReader size = %d, want %d", n, size)
		}
	} else {
		cell, err = Put(cs, value, maxInline)
	}
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if cs.maxAlloc > MaxRunPages {
		t.Fatalf("a run of %d pages was allocated", cs.maxAlloc)
	}
	if got, err := Size(cell); err != nil || got != int64(size) {
		t.Fatalf("Size = %d, %v; want %d", got, err, size)
	}
	if size <= maxInline {
		if cell[0] != TagInline || !bytes.Equal(cell[1:], value) || s.Live() != 0 {
			t.Fatalf("want inline cell and no page, got cell % x and %d pages", cell[:min(len(cell), 8)], s.Live())
		}
	} else {
		checkChainCell(t, s, cell, size, streaming)
	}
	if got := readAll(t, s, cell, 777); !bytes.Equal(got, value) {
		t.Fatalf("read back %d bytes, differing from the %d written", len(got), size)
	}
	var visited []pager.Ref
	if err := Pages(s, cell, func(r pager.Ref) { visited = append(visited, r) }); err != nil {
		t.Fatalf("Pages: %v", err)
	}
	if len(visited) != s.Live() {
		t.Fatalf("Pages visited %d pages, the store holds %d", len(visited), s.Live())
	}
	reads := s.Reads
	if err := Free(s, cell); err != nil {
		t.Fatalf("Free: %v", err)
	}
	if s.Live() != 0 {
		t.Fatalf("after Free, %d pages live", s.Live())
	}
	if size > maxInline {
		runs := expectedRuns(int64(len(visited)), streaming)
		if got := s.Reads - reads; got != len(runs) {
			t.Fatalf("Free read %d pages, want %d (one per run)", got, len(runs))
		}
	}
}

// checkChainCell checks a chain cell's fields and the runs its chain is made of.
func checkChainCell(t *testing.T, s *memstore.Store, cell []byte, size int, streaming bool) {
	t.Helper()
	if len(cell) != ChainCellSize || cell[0] != TagChain {
		t.Fatalf("chain cell % x", cell)
	}
	if got := binary.LittleEndian.Uint64(cell[1:]); got != uint64(size) {
		t.Fatalf("cell size %d, want %d", got, size)
	}
	first, gen := binary.LittleEndian.Uint64(cell[9:]), binary.LittleEndian.Uint64(cell[17:])
	if gen != s.Gen() {
		t.Fatalf("cell generation %d, want %d", gen, s.Gen())
	}
	data := s.PayloadSize() - headerSize
	pages := int64((size + data - 1) / data)
	if s.Live() != int(pages) {
		t.Fatalf("%d pages live for a %d-page chain (unused run pages not freed?)", s.Live(), pages)
	}
	want := expectedRuns(pages, streaming)
	var got []int
	for next := first; next != 0; {
		p, err := s.Page(pager.Ref{Page: next, Gen: gen})
		if err != nil {
			t.Fatalf("run head: %v", err)
		}
		if p[0] != pager.TypeChain || p[1] != roleHead {
			t.Fatalf("page %d is not a run head: % x", next, p[:headerSize])
		}
		got = append(got, int(binary.LittleEndian.Uint32(p[4:])))
		next = binary.LittleEndian.Uint64(p[16:])
	}
	if !equalInts(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMalformedCells checks that cells no writer produces are refused
// without reading a page, with an error wrapping ErrCorrupt that names no
// page.
func TestMalformedCells(t *testing.T) {
	chain := func(size, first, gen uint64) []byte {
		return chainCell{size: int64(size), first: first, gen: gen}.encode()
	}
	cells := []struct {
		name string
		cell []byte
	}{
		{"empty", nil},
		{"unknown tag 2", []byte{2, 1, 2, 3}},
		{"unknown tag 0xff", []byte{0xff}},
		{"chain cell short", chain(10, 3, 1)[:ChainCellSize-1]},
		{"chain cell long", append(chain(10, 3, 1), 0)},
		{"chain tag alone", []byte{TagChain}},
		{"size 0", chain(0, 3, 1)},
		{"size over MaxSize", chain(MaxSize+1, 3, 1)},
		{"size 2^64-1", chain(1<<64-1, 3, 1)},
		{"first page 0", chain(10, 0, 1)},
		{"first page 2 (a meta page)", chain(10, 2, 1)},
	}
	s := memstore.New(payload1K)
	for _, tc := range cells {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Size(tc.cell)
			wantCorrupt(t, "Size", err)
			var pe *errs.PageError
			if errors.As(err, &pe) {
				t.Errorf("Size: %v names a page; a cell error cannot know its page", err)
			}
			_, err = Value(s, tc.cell)
			wantCorrupt(t, "Value", err)
			_, err = NewReader(s, tc.cell)
			wantCorrupt(t, "NewReader", err)
			wantCorrupt(t, "Free", Free(s, tc.cell))
			wantCorrupt(t, "Pages", Pages(s, tc.cell, func(pager.Ref) {}))
			if s.Reads != 0 {
				t.Errorf("a malformed cell caused %d page reads", s.Reads)
			}
		})
	}
}

// TestCellLayout pins the cell bytes of an inline and a chain cell.
func TestCellLayout(t *testing.T) {
	if got := inlineCell([]byte("hi")); !bytes.Equal(got, []byte{0x00, 'h', 'i'}) {
		t.Errorf("inline cell % x", got)
	}
	got := chainCell{size: 0x0102, first: 0x0304, gen: 0x0506}.encode()
	want := []byte{0x01,
		0x02, 0x01, 0, 0, 0, 0, 0, 0,
		0x04, 0x03, 0, 0, 0, 0, 0, 0,
		0x06, 0x05, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("chain cell\n% x\nwant\n% x", got, want)
	}
	if v, c, inline, err := decodeCell(want); err != nil || inline || v != nil || c != (chainCell{size: 0x0102, first: 0x0304, gen: 0x0506}) {
		t.Errorf("decodeCell = %v, %+v, %v, %v", v, c, inline, err)
	}
}

// TestNegativeMaxInline checks that a negative maxInline stores the empty
// value inline (a chain of 0 bytes is invalid) and anything else in a chain.
func TestNegativeMaxInline(t *testing.T) {
	s := memstore.New(payload1K)
	for _, v := range [][]byte{nil, {7}} {
		cell, err := Put(s, v, -5)
		if err != nil {
			t.Fatal(err)
		}
		cell2, _, err := PutReader(s, bytes.NewReader(v), -5)
		if err != nil {
			t.Fatal(err)
		}
		wantTag := map[bool]byte{true: TagInline, false: TagChain}[len(v) == 0]
		if cell[0] != wantTag || cell2[0] != wantTag {
			t.Errorf("%d-byte value: tags %d, %d; want %d", len(v), cell[0], cell2[0], wantTag)
		}
		for _, c := range [][]byte{cell, cell2} {
			if got := readAll(t, s, c, 3); !bytes.Equal(got, v) {
				t.Errorf("read %q, want %q", got, v)
			}
			if err := Free(s, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s.Live() != 0 {
		t.Errorf("%d pages live", s.Live())
	}
}

// TestInlineCopies checks that Value hands out a copy the caller may
// modify, and that Put does not keep the caller's slice.
func TestInlineCopies(t *testing.T) {
	s := memstore.New(payload1K)
	value := []byte("abc")
	cell, _ := Put(s, value, 10)
	value[0] = 'X'
	got, err := Value(s, cell)
	if err != nil || string(got) != "abc" {
		t.Fatalf("Value = %q, %v", got, err)
	}
	got[1] = 'Y'
	if string(cell[1:]) != "abc" {
		t.Fatalf("modifying Value's result changed the cell to %q", cell)
	}
	rd, _ := NewReader(s, cell)
	all, err := iotest.OneByteReader(rd).Read(make([]byte, 10))
	if err != nil || all != 1 {
		t.Fatalf("Read = %d, %v", all, err)
	}
	if rd.Size() != 3 {
		t.Fatalf("Reader.Size = %d", rd.Size())
	}
	if err := Free(s, cell); err != nil || s.Reads != 0 {
		t.Fatalf("Free of an inline cell = %v after %d reads", err, s.Reads)
	}
}

// TestInline: Inline gives the value of an inline cell, capped to it, and
// nothing for any other cell.
func TestInline(t *testing.T) {
	chain := chainCell{size: 5000, first: pager.FirstDataPage, gen: 1}.encode()
	cases := []struct {
		name string
		cell []byte
		want string
		ok   bool
	}{
		{"value", append(inlineCell([]byte("abc")), 'X'), "abcX", true},
		{"empty value", []byte{TagInline}, "", true},
		{"chain", chain, "", false},
		{"empty cell", nil, "", false},
		{"unknown tag", []byte{0x07, 'a'}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Inline(tc.cell)
			if ok != tc.ok || string(got) != tc.want {
				t.Fatalf("Inline = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
			if ok && got == nil {
				t.Fatal("an inline value is nil: callers tell a value from none by nil")
			}
			if ok && cap(got) != len(got) {
				t.Fatalf("cap %d > len %d: an append would overwrite what follows the cell", cap(got), len(got))
			}
		})
	}
	// The value is the cell's own bytes, not a copy.
	buf := []byte{TagInline, 'a', 'b', 0xee}
	v, _ := Inline(buf[:3])
	v[0] = 'z'
	_ = append(v, 'c')
	if buf[1] != 'z' || buf[3] != 0xee {
		t.Fatalf("buffer %q after changing and appending to the value", buf)
	}
}
