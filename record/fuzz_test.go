package record

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// fuzzStore returns a store on 1 KiB pages holding a few chains, and their
// cells: a 2-page chain from Put, a 3-run chain from PutReader and a
// 1-page chain written at generation 2.
func fuzzStore(tb testing.TB) (*memstore.Store, [][]byte) {
	s := memstore.New(payload1K)
	var cells [][]byte
	add := func(cell []byte, err error) {
		if err != nil {
			tb.Fatal(err)
		}
		cells = append(cells, cell)
	}
	add(Put(s, valueOf(1000, 1), 100))
	cell, _, err := PutReader(s, bytes.NewReader(valueOf(50*960+1, 2)), 100)
	add(cell, err)
	s.NextGen()
	add(Put(s, valueOf(200, 3), 100))
	add(Put(s, valueOf(50, 4), 100))
	return s, cells
}

// FuzzCell opens arbitrary cell bytes against a store holding a few chains
// with every reading function and Free. Nothing may panic, every error must
// be ErrCorrupt (the store is intact, so nothing else can go wrong), and
// whatever reads successfully must agree with Size.
func FuzzCell(f *testing.F) {
	_, cells := fuzzStore(f)
	for _, c := range cells {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, cell []byte) {
		s, _ := fuzzStore(t)
		size, sizeErr := Size(cell)
		value, err := Value(s, cell)
		if err == nil && (sizeErr != nil || int64(len(value)) != size) {
			t.Fatalf("Value gave %d bytes; Size = %d, %v", len(value), size, sizeErr)
		}
		fuzzCheckErr(t, "Value", err)
		if rd, err := NewReader(s, cell); err == nil {
			streamed, err := io.ReadAll(rd)
			fuzzCheckErr(t, "Reader", err)
			if err == nil && !bytes.Equal(streamed, value) {
				t.Fatalf("Reader and Value disagree")
			}
		}
		n := 0
		err = Pages(s, cell, func(pager.Ref) { n++ })
		fuzzCheckErr(t, "Pages", err)
		live := s.Live()
		err = Free(s, cell)
		fuzzCheckErr(t, "Free", err)
		if err != nil && s.Live() != live {
			t.Fatalf("failed Free freed %d pages", live-s.Live())
		}
		if err == nil && live-s.Live() != n && value != nil {
			t.Fatalf("Free freed %d pages, Pages visited %d", live-s.Live(), n)
		}
	})
}

func fuzzCheckErr(t *testing.T, what string, err error) {
	if err != nil && !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("%s: %v, want nil or ErrCorrupt", what, err)
	}
}

// FuzzChainDamage overwrites up to two bytes of the fuzz store's pages in
// place (keeping each page's generation) and reads every chain back:
// nothing may panic, every error must be ErrCorrupt, a chain that still
// reads must read its original value unless the damage was in its data
// bytes, and a failed Free frees nothing.
func FuzzChainDamage(f *testing.F) {
	f.Add(uint8(0), uint16(1), byte(2), uint8(0), uint16(0), byte(0))
	f.Add(uint8(2), uint16(16), byte(3), uint8(18), uint16(4), byte(0))
	f.Add(uint8(50), uint16(900), byte(1), uint8(113), uint16(2), byte(40))
	f.Fuzz(func(t *testing.T, page1 uint8, off1 uint16, val1 byte, page2 uint8, off2 uint16, val2 byte) {
		s, cells := fuzzStore(t)
		want := make([][]byte, len(cells))
		for i, c := range cells {
			want[i], _ = Value(s, c)
		}
		dataDamaged := map[uint64]bool{}
		damage := func(page uint8, off uint16, val byte) {
			pgno := pager.FirstDataPage + uint64(page)%120
			for gen := uint64(1); gen <= s.Gen(); gen++ {
				if p, err := s.Page(pager.Ref{Page: pgno, Gen: gen}); err == nil {
					// Damage the store's own copy, so the page keeps its
					// generation: what the pager's seal would not catch.
					p[int(off)%payload1K] = val
					dataDamaged[pgno] = dataDamaged[pgno] || int(off)%payload1K >= headerSize
				}
			}
		}
		damage(page1, off1, val1)
		damage(page2, off2, val2)
		for i, c := range cells {
			got, err := Value(s, c)
			fuzzCheckErr(t, "Value", err)
			if err == nil && !bytes.Equal(got, want[i]) {
				inData := false
				Pages(s, c, func(r pager.Ref) { inData = inData || dataDamaged[r.Page] })
				if !inData {
					t.Fatalf("chain %d read back changed without damage to its data", i)
				}
			}
			if rd, err := NewReader(s, c); err == nil {
				_, err = io.Copy(io.Discard, rd)
				fuzzCheckErr(t, "Reader", err)
			}
			fuzzCheckErr(t, "Pages", Pages(s, c, func(pager.Ref) {}))
			live := s.Live()
			if err := Free(s, c); err != nil {
				fuzzCheckErr(t, "Free", err)
				if s.Live() != live {
					t.Fatalf("failed Free freed %d pages", live-s.Live())
				}
			}
		}
	})
}
