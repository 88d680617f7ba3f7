package freelist

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/streamcrypt/scdb/pager"
)

// reviewSets builds a free list of pageCount pages whose free set is free
// and pending set is pending (both ordered, disjoint, non-touching within a
// set), outside any transaction.
func reviewList(pageCount uint64, free, pending []run) *Freelist {
	f := New()
	f.pageCount = pageCount
	f.free.build(append([]run(nil), free...))
	f.pending.build(append([]run(nil), pending...))
	if len(pending) > 0 {
		f.pendingAt[1] = append([]run(nil), pending...)
	}
	return f
}

// randomRuns splits [FirstDataPage, pageCount) into alternating gaps and
// runs, and deals each run to free or pending.
func randomRuns(rng *rand.Rand, pageCount uint64, maxRun int, pendingShare int) (free, pending []run) {
	p := uint64(pager.FirstDataPage)
	for p < pageCount {
		p += uint64(rng.IntN(maxRun) + 1) // live gap (at least 1 so runs never touch)
		if p >= pageCount {
			break
		}
		n := min(uint64(rng.IntN(maxRun)+1), pageCount-p)
		r := run{p, n}
		if rng.IntN(100) < pendingShare {
			pending = append(pending, r)
		} else {
			free = append(free, r)
		}
		p += n
	}
	return free, pending
}

// bruteShrinkTarget is the specification of ShrinkTarget: the lowest limit,
// not below FirstDataPage nor below the end of any pending run, such that
// the non-free pages at or past it number at most maxMove and, with reserve,
// fit the free pages below it; pageCount when no lower limit qualifies.
func bruteShrinkTarget(pageCount uint64, free, pending []run, reserve, maxMove uint64) uint64 {
	isFree := map[uint64]bool{}
	var total uint64
	for _, r := range free {
		for p := r.start; p < r.end(); p++ {
			isFree[p] = true
		}
		total += r.n
	}
	floor := uint64(pager.FirstDataPage)
	if len(pending) > 0 {
		floor = max(floor, pending[len(pending)-1].end())
	}
	best := pageCount
	var live, freeAbove uint64
	for l := pageCount; l > floor; l-- {
		if isFree[l-1] {
			freeAbove++
		} else {
			live++
		}
		if live > maxMove || live+reserve > total-freeAbove || freeAbove > total {
			break
		}
		best = l - 1
	}
	return best
}

// TestShrinkTargetBrute compares ShrinkTarget with a brute-force
// reading of its doc comment on random free and pending sets.
func TestShrinkTargetBrute(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	moved := 0
	defer func() { t.Logf("%d of 20000 cases give pages back", moved) }()
	for i := range 20000 {
		pageCount := uint64(pager.FirstDataPage) + uint64(rng.IntN(200))
		free, pending := randomRuns(rng, pageCount, 1+rng.IntN(12), []int{0, 0, 10, 50}[rng.IntN(4)])
		reserve := uint64(rng.IntN(20))
		maxMove := uint64(rng.IntN(60))
		if rng.IntN(4) == 0 {
			maxMove = 1 << 40
		}
		f := reviewList(pageCount, free, pending)
		got := f.ShrinkTarget(reserve, maxMove)
		want := bruteShrinkTarget(pageCount, free, pending, reserve, maxMove)
		if want < pageCount {
			moved++
		}
		if got != want {
			t.Fatalf("case %d: pageCount %d free %v pending %v reserve %d maxMove %d: ShrinkTarget %d, want %d",
				i, pageCount, free, pending, reserve, maxMove, got, want)
		}
	}
}

// TestBestFitBelowBrute compares bestFitBelow with a brute-force
// best fit (smallest run holding n pages below limit, lowest on a tie), with
// runs on both sides of the 64-page bucket boundary.
func TestBestFitBelowBrute(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		pageCount := uint64(pager.FirstDataPage) + uint64(rng.IntN(3000))
		free, _ := randomRuns(rng, pageCount, []int{4, 70, 200}[rng.IntN(3)], 0)
		s := newRunSet(true)
		s.build(append([]run(nil), free...))
		for range 20 {
			n := uint64(rng.IntN(130) + 1)
			limit := uint64(rng.IntN(int(pageCount) + 1))
			var want run
			ok := false
			for _, r := range free {
				if r.n >= n && r.start+n <= limit && (!ok || r.n < want.n || (r.n == want.n && r.start < want.start)) {
					want, ok = r, true
				}
			}
			got, gotOK := s.bestFitBelow(n, limit)
			if got != want || gotOK != ok {
				t.Fatalf("case %d: runs %v, n %d, limit %d: got %v %v, want %v %v", i, free, n, limit, got, gotOK, want, ok)
			}
		}
	}
}

// TestLimitSaveBelow: under Limit, every page Alloc hands out and
// every checkpoint page Save writes lies below the limit, on a fragmented
// set that needs several checkpoint pages; and Alloc fails with ErrNoRoom
// rather than grow.
func TestLimitSaveBelow(t *testing.T) {
	const payload = 1024 - 40
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 200 {
		pageCount := uint64(pager.FirstDataPage) + 400 + uint64(rng.IntN(2000))
		free, _ := randomRuns(rng, pageCount, 1+rng.IntN(5), 0)
		f := reviewList(pageCount, free, nil)
		f.unsynced = true
		f.Begin(5, 4)
		limit := pageCount/2 + uint64(rng.IntN(int(pageCount/2)))
		f.Limit(limit)
		for range rng.IntN(50) {
			p, err := f.Alloc(1 + rng.IntN(3))
			if errors.Is(err, ErrNoRoom) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if p >= limit {
				t.Fatalf("case %d: Alloc under limit %d gave %d", i, limit, p)
			}
		}
		var written []uint64
		_, err := f.Save(payload, func(pgno uint64, _ []byte) error { written = append(written, pgno); return nil })
		if errors.Is(err, ErrNoRoom) {
			f.Rollback()
			continue
		}
		if err != nil {
			t.Fatalf("case %d: Save: %v", i, err)
		}
		for _, p := range written {
			if p >= limit {
				t.Fatalf("case %d: checkpoint page %d at or past limit %d", i, p, limit)
			}
		}
		if f.PageCount() > pageCount {
			t.Fatalf("case %d: page count grew under Limit: %d -> %d", i, pageCount, f.PageCount())
		}
		f.Commit()
	}
}

// TestCheckpointFillsHoles: a checkpoint in a commit that gives the free
// end of the file back takes single holes when no free run holds it whole,
// instead of a block grown at the new end, which would take the end back (a
// Shrink made the file longer that way, and every later one moved the
// checkpoint down and back for nothing). One that a run holds stays a
// block, and so does one in a commit with no free end, grown at the end.
func TestCheckpointFillsHoles(t *testing.T) {
	const payload = 1024 - 40
	per := ckptEntries(payload)
	for _, tc := range []struct {
		name      string
		holes     int    // single free pages, one live page apart
		bigRun    uint64 // a free run of this many pages after them, if > 0
		tail      uint64 // free pages at the end of the file
		wantBlock bool   // the checkpoint is one block
		wantGrow  bool   // at the end of the file (else in free pages below it)
	}{
		{"holes only: a block at the end", 3 * per, 0, 0, true, true},
		{"holes and a free end", 3 * per, 0, 20, false, false},
		{"a run that holds it, and a free end", 3 * per, 10, 20, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var free []run
			p := uint64(pager.FirstDataPage)
			for range tc.holes {
				free = append(free, run{p + 1, 1})
				p += 2
			}
			if tc.bigRun > 0 {
				free = append(free, run{p + 1, tc.bigRun})
				p += 1 + tc.bigRun
			}
			p++ // a live page before the free end
			if tc.tail > 0 {
				free = append(free, run{p, tc.tail})
			}
			pageCount := p + tc.tail
			f := reviewList(pageCount, free, nil)
			f.unsynced = true
			f.Begin(5, 4)
			f.Checkpoint()
			var written []uint64
			if _, err := f.Save(payload, func(pgno uint64, _ []byte) error { written = append(written, pgno); return nil }); err != nil {
				t.Fatal(err)
			}
			want := pageCount - tc.tail
			if tc.wantGrow {
				want = pageCount + uint64(len(written))
			}
			if f.PageCount() != want {
				t.Fatalf("page count %d -> %d, want %d", pageCount, f.PageCount(), want)
			}
			isFree := map[uint64]bool{}
			for _, r := range free {
				for q := r.start; q < r.end(); q++ {
					isFree[q] = true
				}
			}
			block := true
			for i, q := range written {
				if !tc.wantGrow && (!isFree[q] || q >= f.PageCount()) {
					t.Fatalf("checkpoint page %d was not a free page below the new end %d", q, f.PageCount())
				}
				block = block && (i == 0 || q == written[i-1]+1)
			}
			if block != tc.wantBlock {
				t.Fatalf("checkpoint pages %v: one block %v, want %v", written, block, tc.wantBlock)
			}
		})
	}
}
