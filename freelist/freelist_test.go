package freelist_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/pager"
)

// payloadSize is that of a 1 KiB page: 80 runs per freelist page.
const payloadSize = 1024 - 40

func ref(page, gen uint64) pager.Ref { return pager.Ref{Page: page, Gen: gen} }

func alloc(t *testing.T, f *freelist.Freelist, n int) uint64 {
	t.Helper()
	first, err := f.Alloc(n)
	if err != nil {
		t.Fatalf("Alloc(%d): %v", n, err)
	}
	return first
}

func wantAlloc(t *testing.T, f *freelist.Freelist, n int, want uint64) {
	t.Helper()
	if got := alloc(t, f, n); got != want {
		t.Fatalf("Alloc(%d) = %d, want %d", n, got, want)
	}
}

// discard is a Save write function for tests that do not read pages back.
func discard(uint64, []byte) error { return nil }

// withFree returns a free list in an open transaction at generation 3 whose
// file has pageCount pages, of which exactly free are free and reusable:
// generation 1 allocated every page, generation 2 freed the given ones.
func withFree(t *testing.T, pageCount uint64, free ...uint64) *freelist.Freelist {
	t.Helper()
	f := freelist.New()
	f.Begin(1, 0)
	wantAlloc(t, f, int(pageCount-pager.FirstDataPage), pager.FirstDataPage)
	f.Commit()
	f.Begin(2, 1)
	for _, p := range free {
		f.Free(ref(p, 1))
	}
	f.Commit()
	f.Begin(3, 2)
	if f.PageCount() != pageCount || f.FreeCount() != uint64(len(free)) {
		t.Fatalf("fixture: %d pages, %d free; want %d, %d", f.PageCount(), f.FreeCount(), pageCount, len(free))
	}
	return f
}

func TestAllocGrowsFile(t *testing.T) {
	f := freelist.New()
	if f.PageCount() != pager.FirstDataPage || f.FreeCount() != 0 {
		t.Fatalf("new free list: %d pages, %d free", f.PageCount(), f.FreeCount())
	}
	f.Begin(1, 0)
	wantAlloc(t, f, 1, 3)
	wantAlloc(t, f, 3, 4)
	wantAlloc(t, f, 1, 7)
	if f.PageCount() != 8 {
		t.Fatalf("PageCount %d, want 8", f.PageCount())
	}
	for _, n := range []int{0, -1} {
		if _, err := f.Alloc(n); err == nil {
			t.Fatalf("Alloc(%d) succeeded", n)
		}
	}
}

func TestAllocReusesFreed(t *testing.T) {
	f := withFree(t, 12, 5, 6, 9)
	got := []uint64{alloc(t, f, 1), alloc(t, f, 1), alloc(t, f, 1)}
	slices.Sort(got)
	if !slices.Equal(got, []uint64{5, 6, 9}) {
		t.Fatalf("allocated %v, want the freed pages 5, 6, 9", got)
	}
	if f.PageCount() != 12 || f.FreeCount() != 0 {
		t.Fatalf("reusing grew the file: %d pages, %d free", f.PageCount(), f.FreeCount())
	}
	wantAlloc(t, f, 1, 12) // only now does the file grow
}

// TestOwnFreesReusableAfterCommit: pages a transaction wrote and freed are
// not reused by it (no page is written twice at one generation), but are
// free as soon as it commits, whatever the snapshots.
func TestOwnFreesReusableAfterCommit(t *testing.T) {
	f := withFree(t, 10)
	a := alloc(t, f, 1)
	b := alloc(t, f, 2)
	f.Free(ref(a, 3))
	f.Free(ref(b+1, 3))
	// Not within the transaction: a page is never written twice at one
	// generation.
	wantAlloc(t, f, 1, 13)
	f.Commit()
	f.Begin(4, 3)
	wantAlloc(t, f, 1, a)
	wantAlloc(t, f, 1, b+1)
	if f.PageCount() != 14 {
		t.Fatalf("PageCount %d, want 14", f.PageCount())
	}
}

// TestPendingWaitsForSnapshots: a page freed by commit G is reachable from
// snapshots before G, so it is not handed out while one is open.
func TestPendingWaitsForSnapshots(t *testing.T) {
	f := freelist.New()
	f.Begin(1, 0)
	wantAlloc(t, f, 6, 3) // pages 3..8
	f.Commit()
	f.Begin(2, 1)
	f.Free(ref(4, 1))
	f.Free(ref(5, 1))
	if f.FreeCount() != 2 {
		t.Fatalf("FreeCount %d during the freeing transaction", f.FreeCount())
	}
	wantAlloc(t, f, 1, 9) // not reusable within the transaction that freed them
	f.Commit()

	// Generation 3 with a snapshot at 1 still open: 4 and 5 must wait.
	f.Begin(3, 1)
	wantAlloc(t, f, 1, 10)
	wantAlloc(t, f, 2, 11)
	if f.FreeCount() != 2 {
		t.Fatalf("FreeCount %d, want the 2 pending pages", f.FreeCount())
	}
	f.Free(ref(6, 1)) // pending on generation 3
	f.Commit()

	// The snapshot at 1 closed; the oldest is now 2: generation 2's frees
	// are reusable, generation 3's are not.
	f.Begin(4, 2)
	wantAlloc(t, f, 2, 4)
	wantAlloc(t, f, 1, 13)
	f.Commit()

	f.Begin(5, 3)
	wantAlloc(t, f, 1, 6)
}

func TestBestFit(t *testing.T) {
	// Runs: 5..9 (5 pages), 12..13 (2), 16..18 (3), 21..22 (2).
	f := withFree(t, 30, 5, 6, 7, 8, 9, 12, 13, 16, 17, 18, 21, 22)
	wantAlloc(t, f, 2, 12) // the smallest run that fits, the lowest on a tie
	wantAlloc(t, f, 2, 21)
	wantAlloc(t, f, 3, 16)
	wantAlloc(t, f, 1, 5) // only 5..9 left
	wantAlloc(t, f, 4, 6)
	wantAlloc(t, f, 1, 30) // nothing left
	if f.FreeCount() != 0 {
		t.Fatalf("FreeCount %d", f.FreeCount())
	}

	f = withFree(t, 30, 5, 6, 7, 20, 21)
	wantAlloc(t, f, 1, 20) // a 2-run beats a 3-run for one page
	wantAlloc(t, f, 3, 5)
	wantAlloc(t, f, 2, 30) // 21 alone does not fit two
	wantAlloc(t, f, 1, 21)
}

func TestGrowFromTailRun(t *testing.T) {
	f := withFree(t, 30, 10, 27, 28, 29)
	wantAlloc(t, f, 5, 27) // extends the free run that ends the file
	if f.PageCount() != 32 {
		t.Fatalf("PageCount %d, want 32", f.PageCount())
	}
	wantAlloc(t, f, 1, 10)
}

func TestSaveTrimsTail(t *testing.T) {
	f := withFree(t, 30, 10, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29)
	r, err := f.Save(payloadSize, discard)
	if err != nil {
		t.Fatal(err)
	}
	// 20..29 are trimmed; page 10 stays free, recorded in one freelist
	// page, which the allocator takes from 10 itself.
	if f.PageCount() != 20 {
		t.Fatalf("PageCount after Save %d, want 20", f.PageCount())
	}
	if r != ref(10, 3) {
		t.Fatalf("freelist root %v, want page 10@3", r)
	}

	// Pages freed by the saving transaction itself are still reachable
	// from the last commit: they are not trimmed.
	f = withFree(t, 30)
	f.Free(ref(29, 1))
	f.Free(ref(28, 1))
	if _, err := f.Save(payloadSize, discard); err != nil {
		t.Fatal(err)
	}
	if f.PageCount() != 31 {
		t.Fatalf("PageCount %d, want 31 (30 pages and one freelist page)", f.PageCount())
	}

	// Nothing free at all: no freelist page and no growth.
	f = withFree(t, 30)
	if r, err := f.Save(payloadSize, discard); err != nil || !r.IsZero() || f.PageCount() != 30 {
		t.Fatalf("Save of an empty set = %v, %v, PageCount %d", r, err, f.PageCount())
	}
}

// record runs a fixed history on f and returns what it observed, so two
// free lists can be compared by behaviour.
func record(t *testing.T, f *freelist.Freelist, gen uint64) []uint64 {
	t.Helper()
	var out []uint64
	f.Begin(gen, gen-1)
	for _, n := range []int{1, 2, 1, 3, 1, 5, 1} {
		out = append(out, alloc(t, f, n))
	}
	write := func(pgno uint64, payload []byte) error {
		out = append(out, pgno)
		for _, b := range payload {
			out = append(out, uint64(b))
		}
		return nil
	}
	r, err := f.Save(payloadSize, write)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, r.Page, r.Gen, f.PageCount(), f.FreeCount())
}

func TestRollbackRestoresExactly(t *testing.T) {
	build := func() *freelist.Freelist {
		f := withFree(t, 40, 5, 6, 7, 10, 20, 21, 39)
		if _, err := f.Save(payloadSize, discard); err != nil {
			t.Fatal(err)
		}
		f.Commit()
		f.Begin(4, 3)
		f.Free(ref(11, 1))
		f.Commit()
		return f
	}
	f1, f2 := build(), build()

	f1.Begin(5, 3) // a transaction that touches everything, then rolls back
	a := alloc(t, f1, 1)
	alloc(t, f1, 3)
	alloc(t, f1, 10)
	f1.Free(ref(a, 5))
	f1.Free(ref(12, 1))
	f1.Free(ref(13, 1))
	f1.Free(ref(12, 1)) // a double free, forgotten with the rest
	if _, err := f1.Save(payloadSize, discard); err == nil {
		t.Fatal("Save after a double free succeeded")
	}
	f1.Rollback()

	f1.Begin(5, 3)
	alloc(t, f1, 7)
	if _, err := f1.Save(payloadSize, discard); err != nil {
		t.Fatal(err)
	}
	f1.Rollback()

	if f1.PageCount() != f2.PageCount() || f1.FreeCount() != f2.FreeCount() {
		t.Fatalf("after rollback: %d pages %d free, want %d %d", f1.PageCount(), f1.FreeCount(), f2.PageCount(), f2.FreeCount())
	}
	if h1, h2 := record(t, f1, 5), record(t, f2, 5); !slices.Equal(h1, h2) {
		t.Fatalf("rolled-back free list behaves differently:\n%v\n%v", h1, h2)
	}
}

func TestDoubleFreeFailsSave(t *testing.T) {
	tests := []struct {
		name string
		do   func(t *testing.T, f *freelist.Freelist)
	}{
		{"committed page twice", func(t *testing.T, f *freelist.Freelist) { f.Free(ref(11, 1)); f.Free(ref(11, 1)) }},
		{"own page twice", func(t *testing.T, f *freelist.Freelist) { p, _ := f.Alloc(1); f.Free(ref(p, 3)); f.Free(ref(p, 3)) }},
		{"a page already free", func(t *testing.T, f *freelist.Freelist) { f.Free(ref(5, 1)) }},
		{"a page inside a free run", func(t *testing.T, f *freelist.Freelist) { f.Free(ref(7, 3)) }},
		{"a reserved page", func(t *testing.T, f *freelist.Freelist) { f.Free(ref(2, 3)) }},
		{"a committed page past the end", func(t *testing.T, f *freelist.Freelist) { f.Free(ref(20, 1)) }},
		{"an own page past the end", func(t *testing.T, f *freelist.Freelist) {
			f.Free(ref(50, 3))
			if p, _ := f.Alloc(1); p == 50 {
				t.Fatal("Alloc handed out page 50, freed but never in the file")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := withFree(t, 20, 5, 6, 7, 8)
			tc.do(t, f)
			if _, err := f.Save(payloadSize, discard); err == nil {
				t.Fatal("Save succeeded")
			}
			f.Rollback()
			f.Begin(3, 2)
			if _, err := f.Save(payloadSize, discard); err != nil {
				t.Fatalf("Save after rollback: %v", err)
			}
		})
	}
}

func TestSaveWriteError(t *testing.T) {
	f := withFree(t, 20, 5)
	boom := errors.New("boom")
	if _, err := f.Save(payloadSize, func(uint64, []byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Save: %v, want the write error", err)
	}
}

// TestFreeCount counts free, pending and transaction-freed pages alike.
func TestFreeCount(t *testing.T) {
	f := withFree(t, 20, 5, 6)
	f.Free(ref(10, 1))
	f.Commit()
	f.Begin(4, 2) // generation 3's frees stay pending
	f.Free(ref(11, 1))
	if got := f.FreeCount(); got != 4 {
		t.Fatalf("FreeCount %d, want 4", got)
	}
}
