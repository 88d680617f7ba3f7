package record

import (
	"bytes"
	"errors"
	"testing"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/memstore"
)

// TestMove moves chains that reach a limit, and leaves alone inline values
// and chains below it: the moved value reads back the same from its new
// pages, and the old pages are freed.
func TestMove(t *testing.T) {
	data := payload1K - headerSize
	for _, tc := range []struct {
		name   string
		size   int
		limit  func(first uint64, pages int) uint64
		moved  bool
		inline bool
	}{
		{"inline", 5, func(uint64, int) uint64 { return 3 }, false, true},
		{"one page, at the limit", data, func(f uint64, _ int) uint64 { return f }, true, false},
		{"last page past the limit", 7*data + 1, func(f uint64, n int) uint64 { return f + uint64(n) - 1 }, true, false},
		{"just below the limit", 7*data + 1, func(f uint64, n int) uint64 { return f + uint64(n) }, false, false},
		{"two runs, second past", (MaxRunPages + 20) * data, func(f uint64, n int) uint64 { return f + MaxRunPages }, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := memstore.New(payload1K)
			value := valueOf(tc.size, 3)
			cell, err := Put(s, value, 10)
			if err != nil {
				t.Fatal(err)
			}
			s.NextGen()
			pages := s.Live()
			first := uint64(0)
			if !tc.inline {
				_, c, _, _ := decodeCell(cell)
				first = c.first
			}
			moved, err := Move(s, cell, tc.limit(first, pages))
			if err != nil {
				t.Fatal(err)
			}
			if (moved != nil) != tc.moved {
				t.Fatalf("moved %v, want %v", moved != nil, tc.moved)
			}
			if !tc.moved {
				if got := readAll(t, s, cell, 777); !bytes.Equal(got, value) {
					t.Fatal("the value left in place reads back different")
				}
				return
			}
			if len(moved) != len(cell) {
				t.Fatalf("moved cell is %d bytes, the old one %d", len(moved), len(cell))
			}
			if got := readAll(t, s, moved, 777); !bytes.Equal(got, value) {
				t.Fatal("the moved value reads back different")
			}
			if s.Live() != pages {
				t.Fatalf("%d pages live after the move, want the %d of one copy", s.Live(), pages)
			}
			if _, err := Value(s, cell); !errors.Is(err, errs.ErrCorrupt) {
				t.Fatalf("old cell still reads (%v): its pages were not freed", err)
			}
		})
	}
}

// TestMoveFailureKeepsChain fails every allocation and write of a move: the
// error comes back, the old chain still reads, and no page leaks.
func TestMoveFailureKeepsChain(t *testing.T) {
	data := payload1K - headerSize
	value := valueOf((MaxRunPages+20)*data, 4)
	// Two runs: two allocations, then MaxRunPages+20 page writes; the
	// writes fail near the ends and the run boundary (the rest are alike),
	// and the last case fails nothing.
	points := []int{0, 1, 2, 3, 2 + 15, 2 + 16, 2 + 500, 2 + MaxRunPages - 1, 2 + MaxRunPages, 2 + MaxRunPages + 19, -1}
	for _, i := range points {
		fs := &failingStore{Store: memstore.New(payload1K), allocOK: -1, writeOK: -1}
		cell, err := Put(fs, value, 10)
		if err != nil {
			t.Fatal(err)
		}
		fs.NextGen()
		live := fs.Live()
		fs.allocs, fs.writes = 0, 0
		if i >= 0 && i < 2 {
			fs.allocOK = i
		} else if i >= 2 {
			fs.writeOK = i - 2
		}
		moved, err := Move(fs, cell, 0)
		if i < 0 {
			if err != nil || !bytes.Equal(readAll(t, fs, moved, 4096), value) {
				t.Fatalf("move without failure: %v", err)
			}
			continue
		}
		if !errors.Is(err, errDisk) {
			t.Fatalf("failure %d: %v", i, err)
		}
		if fs.Live() != live {
			t.Fatalf("failure %d: %d pages live, want %d", i, fs.Live(), live)
		}
		if !bytes.Equal(readAll(t, fs, cell, 4096), value) {
			t.Fatalf("failure %d: the old chain no longer reads", i)
		}
	}
}

// TestMoveDamagedChain refuses a chain whose head lies, before allocating.
func TestMoveDamagedChain(t *testing.T) {
	s := memstore.New(payload1K)
	cell, err := Put(s, valueOf(3*(payload1K-headerSize), 5), 10)
	if err != nil {
		t.Fatal(err)
	}
	_, c, _, _ := decodeCell(cell)
	rewritePage(t, s, c.first, func(p []byte) { p[4] = 9 }) // run length 9 for a 3-page value
	s.NextGen()
	live := s.Live()
	if _, err := Move(s, cell, 0); !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("Move of a damaged chain: %v", err)
	}
	if s.Live() != live {
		t.Fatalf("%d pages live, want %d", s.Live(), live)
	}
}
