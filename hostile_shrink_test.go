package scdb_test

import (
	"errors"
	"testing"
	"time"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/internal/faultfile"
)

// shrinkHostile opens img writable and runs Shrink, then Check, under a
// deadline: no panic, no hang, only typed errors. Close is called too
// (KeepFreeSpace off), which shrinks only when 1 MiB can go: not here.
func shrinkHostile(t *testing.T, img []byte, prepare ...func(*scdb.DB) error) (shrinkErr error) {
	t.Helper()
	withDeadline(t, 10*time.Second, func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("panic: %v", p)
			}
		}()
		db, err := scdb.OpenFile(faultfile.New(img), scdb.Options{Key: hostileKey, CacheSize: 1 << 16})
		if err != nil {
			if !typedErr(err) {
				t.Errorf("Open: untyped %v", err)
			}
			return
		}
		defer db.Close()
		for _, fn := range prepare {
			if err := fn(db); err != nil {
				t.Errorf("prepare: %v", err)
				return
			}
		}
		shrinkErr = db.Shrink()
		if shrinkErr != nil && !typedErr(shrinkErr) {
			t.Errorf("Shrink: an error that is none of scdb's sentinels: %v", shrinkErr)
		}
	})
	return shrinkErr
}

// TestHostileShrink runs Shrink over every forged-page case of
// hostile_test.go (none of which Close's shrink reaches: the fixture is far
// below Close's 1 MiB minimum).
func TestHostileShrink(t *testing.T) {
	for _, c := range hostileCases {
		t.Run(c.name, func(t *testing.T) {
			s := newForgeSet(t)
			c.forge(s)
			err := shrinkHostile(t, s.f.Image)
			t.Logf("Shrink: %v", err)
		})
	}
}

// TestHostileShrinkDAG: list a's tree forged (sealed with the right
// key, as FORMAT.md §12 considers) into a DAG of branch levels, each
// level's every child pointer naming the next level's one page, the last
// level pointing at a genuine leaf. A cycle stops Relocate at maxDepth (the
// first too-deep path aborts the walk), but a DAG shallower than maxDepth
// does not: dirtree.Tree.Relocate keeps no record of the pages it reached
// (Drop and Check do), so it walks fanout^levels paths. FORMAT.md §12
// promises a page whose payload lies "gives ErrCorrupt in bounded time and
// memory, not a hang". Check stops at once ("page is reached twice").
// Run with -run TestHostileShrinkDAG; the deadline is 10 s.
func TestHostileShrinkDAG(t *testing.T) {
	s := newForgeSet(t)
	root := s.listRoot("a")
	rp := s.page(root)
	if rp[0] != ptBranch {
		t.Fatalf("list a's root is not a branch")
	}
	_, rootGen, _ := s.f.Find(root)
	childAt := func(p []byte, i int) int {
		if i == 0 {
			return 4
		}
		return int(le.Uint16(p[20+2*(i-1):]))
	}
	n := int(le.Uint16(rp[2:])) + 1
	// The leaves under the root, by generation.
	var leaves []uint64
	var leafGen uint64
	for i := range n {
		pg, g := ref(rp, childAt(rp, i))
		if len(leaves) == 0 || g == leafGen {
			leaves, leafGen = append(leaves, pg), g
		}
	}
	if len(leaves) < 4 {
		t.Fatalf("only %d leaves of one generation", len(leaves))
	}
	// Level 0 is the root (gen rootGen >= leafGen); levels 1.. are all but
	// the last of those leaves, turned into copies of the root's layout; the
	// last level points at the last leaf.
	levels := append([]uint64{root}, leaves[:len(leaves)-1]...)
	const cells = 45 // separators of one byte: 46 children on a 1 KiB page
	target := leaves[len(leaves)-1]
	for li, pg := range levels {
		next, nextGen := target, leafGen
		if li+1 < len(levels) {
			next = levels[li+1]
		}
		s.edit(pg, func(p []byte) { fanBranch(p, cells, next, nextGen) })
	}
	n = cells + 1
	t.Logf("root gen %d, %d levels of fanout %d over leaf %d (gen %d): %.3g paths", rootGen, len(levels), n, target, leafGen, pow(n, len(levels)))
	withDeadline(t, 10*time.Second, func() {
		ro, err := scdb.OpenFile(faultfile.New(s.f.Image), scdb.Options{Key: hostileKey, ReadOnly: true})
		if err != nil {
			t.Errorf("read-only open: %v", err)
			return
		}
		defer ro.Close()
		_, checkErr := ro.Check()
		if !errors.Is(checkErr, scdb.ErrCorrupt) {
			t.Errorf("Check %v: want ErrCorrupt", checkErr)
		}
		var iterErr error
		for _, err := range ro.Records("a") {
			if err != nil {
				iterErr = err
				break
			}
		}
		t.Logf("Check: %v; iterating list a: %v", checkErr, iterErr)
	})
	start := time.Now()
	// Something to give back: a hole below the values of list z2, which
	// Shrink moves down (the writes touch neither list a nor its pages).
	hole := func(db *scdb.DB) error {
		for _, l := range []string{"z1", "z2"} {
			if err := db.Put(l, "v", make([]byte, 20000)); err != nil {
				return err
			}
		}
		return db.Delete("z1", "v")
	}
	err := shrinkHostile(t, s.f.Image, hole)
	t.Logf("Shrink over a branch DAG: %v after %v", err, time.Since(start))
}

// fanBranch makes p a branch of cells one-byte separators whose every
// child is (next, gen).
func fanBranch(p []byte, cells int, next, gen uint64) {
	clear(p)
	p[0] = ptBranch
	le.PutUint16(p[2:], uint16(cells))
	le.PutUint64(p[4:], next)
	le.PutUint64(p[12:], gen)
	off := 20 + 2*cells
	for i := range cells {
		le.PutUint16(p[20+2*i:], uint16(off))
		le.PutUint64(p[off:], next)
		le.PutUint64(p[off+8:], gen)
		le.PutUint16(p[off+16:], 1)
		p[off+18] = byte('A' + i)
		off += 19
	}
}

func pow(b, e int) float64 {
	r := 1.0
	for range e {
		r *= float64(b)
	}
	return r
}
