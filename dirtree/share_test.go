package dirtree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// leafStats counts t's leaves and the bytes their cells and slots use, and
// fails on any problem Check finds.
func leafStats(tb fataler, t *Tree) (leaves, used int) {
	tb.Helper()
	var bad []string
	t.Check(CheckFuncs{
		Page: func(_ pager.Ref, leaf bool) {
			if leaf {
				leaves++
			}
		},
		Value:   func(k, v []byte) { used += leafCellSize(k, v) },
		Problem: func(pgno uint64, msg string) { bad = append(bad, fmt.Sprintf("page %d: %s", pgno, msg)) },
	})
	if len(bad) > 0 {
		tb.Fatalf("Check: %v", bad)
	}
	return leaves, used
}

// fullLeaves is a tree of 1 KiB pages and its model, holding at first
// leaves full leaves: ids key64(0…15·leaves−1) with 50-byte values put in
// order, 15 cells of 64 bytes (slot included) a leaf, 960 of its 980 bytes.
type fullLeaves struct {
	t  *testing.T
	s  *memstore.Store
	tr *Tree
	m  model
}

func newFullLeaves(t *testing.T, leaves int) *fullLeaves {
	s, tr := newStore(984)
	f := &fullLeaves{t: t, s: s, tr: tr, m: model{}}
	for i := range 15 * leaves {
		f.put(i, 50)
	}
	f.commit()
	return f
}

// put stores a value of size bytes under id i.
func (f *fullLeaves) put(i, size int) {
	f.t.Helper()
	k, v := key64(i), bytes.Repeat([]byte{byte(i)}, size)
	mustPut(f.t, f.tr, k, v)
	f.m[string(k)] = v
}

func (f *fullLeaves) commit() { f.tr = commit(f.t, f.s, f.tr) }

// TestOverfullLeafSharesWithSibling: a leaf that overflows beside a
// sibling with room shares its cells with it instead of splitting.
func TestOverfullLeafSharesWithSibling(t *testing.T) {
	f := newFullLeaves(t, 2)
	if n, _ := leafStats(t, f.tr); n != 2 {
		t.Fatalf("fixture: %d leaves, want 2", n)
	}
	// The first leaf shrinks to 660 bytes (above half: no rebalance).
	for i := range 6 {
		f.put(i, 0)
	}
	f.commit()
	// A value of the second leaf grows it to 1030 bytes.
	f.put(20, 120)
	compare(t, f.tr, f.m)
	if n, _ := leafStats(t, f.tr); n != 2 {
		t.Fatalf("%d leaves after the overflow, want 2: the leaf split although its sibling had room", n)
	}
	// Both leaves nearly full now: the next overflow splits.
	for _, i := range []int{0, 1, 2, 3, 4, 5} {
		f.put(i, 60)
	}
	f.put(25, 400)
	compare(t, f.tr, f.m)
	if n, _ := leafStats(t, f.tr); n != 3 {
		t.Fatalf("%d leaves after an overflow beside full siblings, want 3", n)
	}
}

// TestLeafUnderSevenTenthsRepacksRun: a leaf an update leaves less than
// 7/10 full repacks a run of siblings whose cells fit in one leaf fewer,
// and leaves above that line do not look.
func TestLeafUnderSevenTenthsRepacksRun(t *testing.T) {
	f := newFullLeaves(t, 5)
	if n, _ := leafStats(t, f.tr); n != 5 {
		t.Fatalf("fixture: %d leaves, want 5", n)
	}
	// Every leaf down to 760 bytes (78%): 3,800 bytes, which four leaves
	// could hold, but no leaf went under 7/10 (686 bytes).
	for leaf := range 5 {
		for c := range 4 {
			f.put(15*leaf+c, 0)
		}
	}
	f.commit()
	compare(t, f.tr, f.m)
	if n, _ := leafStats(t, f.tr); n != 5 {
		t.Fatalf("%d leaves after shrinking each to 78%%, want 5", n)
	}
	// The middle leaf: 710 bytes, then 660 (under 7/10, above half).
	f.put(34, 0)
	if n, _ := leafStats(t, f.tr); n != 5 {
		t.Fatalf("%d leaves with the middle one at 72%%, want 5", n)
	}
	f.put(35, 0)
	compare(t, f.tr, f.m)
	if n, used := leafStats(t, f.tr); n != 4 || used != 3700 {
		t.Fatalf("%d leaves of %d bytes once the middle one fell under 7/10, want 4 of 3700", n, used)
	}
	f.commit()
	compare(t, f.tr, f.m)
}

// TestSplitSpreadsOverSiblings: a leaf that overflows between siblings
// too full to share with splits, and the halves are then repacked with the
// siblings into as many leaves as there were, not one more.
func TestSplitSpreadsOverSiblings(t *testing.T) {
	// Five full leaves; the first shrinks to 760 bytes (78%: no repack).
	f := newFullLeaves(t, 5)
	for c := range 4 {
		f.put(c, 0)
	}
	f.commit()
	if n, _ := leafStats(t, f.tr); n != 5 {
		t.Fatalf("fixture: %d leaves, want 5", n)
	}
	// The middle leaf grows to 1060 bytes; its siblings (960 each) cannot
	// take half. The first four leaves' 2780 bytes fit in three.
	f.put(37, 150)
	compare(t, f.tr, f.m)
	if n, used := leafStats(t, f.tr); n != 5 || used != 4700 {
		t.Fatalf("%d leaves of %d bytes after the overflow, want 5 of 4700", n, used)
	}
	f.commit()
	compare(t, f.tr, f.m)
}

// TestChurnKeepsLeavesFull: replacing values with values of random sizes,
// as updates do, leaves the leaves at least 82% full on average (splitting
// every overfull leaf in halves settles near 68%, sharing with a sibling
// near 73%, repacking runs of siblings after shrinks near 81%).
func TestChurnKeepsLeavesFull(t *testing.T) {
	s, tr := newStore(4056)
	rng := rand.New(rand.NewPCG(9, 9))
	size := func() int { return 100 + rng.IntN(1200) }
	const n = 4000
	for i := range n {
		mustPut(t, tr, key64(i), make([]byte, size()))
	}
	tr = commit(t, s, tr)
	for range 5 {
		for range n / 5 {
			mustPut(t, tr, key64(rng.IntN(n)), make([]byte, size()))
		}
		tr = commit(t, s, tr)
	}
	leaves, used := leafStats(t, tr)
	fill := float64(used) / float64(leaves*leafCap(4056))
	t.Logf("%d leaves, %.3f full", leaves, fill)
	if fill < 0.82 {
		t.Fatalf("leaves %.3f full on average after churn, want at least 0.82", fill)
	}
}
