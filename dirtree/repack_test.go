package dirtree

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// behindStore is a memstore with write-behind whose queued pages are
// written at once, so that writing a page freed since fails in memstore.
type behindStore struct {
	*memstore.Store
	b       *Behind
	writing bool
	err     error
}

func (s *behindStore) Behind() *Behind { return s.b }
func (s *behindStore) PageBuf() []byte { return make([]byte, s.PayloadSize()) }
func (s *behindStore) Writing() bool   { return s.writing }
func (s *behindStore) QueuePage(pgno uint64, p []byte) error {
	s.writing = true
	if err := s.Store.WritePage(pgno, p); err != nil && s.err == nil {
		s.err = err
	}
	return s.err
}
func (s *behindStore) QueueSealed(pgno uint64, p []byte) error { return s.QueuePage(pgno, p) }

// TestRepackProperty: random puts (values growing and shrinking, keys up
// to MaxKey in groups sharing long prefixes, so separators are short
// between groups and long within), deletes, spills, flushes and commits,
// at 256-byte and 1 KiB payloads, with and without write-behind: every
// invariant holds after every step (Check), no page is written after it
// was freed, and Drop leaves no page behind.
func TestRepackProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		payload := rapid.SampledFrom([]int{256, 984}).Draw(rt, "payload")
		ms := memstore.New(payload)
		var w pager.Writer = ms
		var bs *behindStore
		if rapid.Bool().Draw(rt, "behind") {
			bs = &behindStore{Store: ms, b: NewBehind(rapid.IntRange(1, 4).Draw(rt, "window"))}
			w = bs
		}
		tr := OpenWritable(w, pager.Ref{})
		m := model{}
		mk := MaxKey(payload)
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(rt, "seed"), 2))
		mkKey := func() []byte {
			fill := []int{0, mk / 2, mk - 2}[rng.IntN(3)]
			k := append([]byte{byte(rng.IntN(16))}, bytes.Repeat([]byte{'x'}, fill)...)
			return append(k, byte(rng.IntN(8)))
		}
		vlen := func(k []byte) int {
			mv := MaxValue(payload, len(k))
			switch rng.IntN(4) {
			case 0:
				return mv
			case 1:
				return 0
			default:
				return rng.IntN(mv + 1)
			}
		}
		steps := rapid.IntRange(100, 600).Draw(rt, "steps")
		for step := range steps {
			switch op := rng.IntN(20); {
			case op < 10:
				k := mkKey()
				v := bytes.Repeat([]byte{byte(step)}, vlen(k))
				if _, _, err := tr.Put(k, v); err != nil {
					rt.Fatalf("step %d: Put: %v", step, err)
				}
				m[string(k)] = v
			case op < 17:
				keys := m.sortedKeys()
				if len(keys) == 0 {
					continue
				}
				k := keys[rng.IntN(len(keys))]
				if _, ok, err := tr.Delete([]byte(k)); err != nil || !ok {
					rt.Fatalf("step %d: Delete: %v %v", step, ok, err)
				}
				delete(m, k)
			case op == 17:
				if err := tr.Spill(); err != nil {
					rt.Fatalf("step %d: Spill: %v", step, err)
				}
			case op == 18:
				if _, err := tr.Flush(); err != nil {
					rt.Fatalf("step %d: Flush: %v", step, err)
				}
			default:
				root, err := tr.Flush()
				if err != nil {
					rt.Fatalf("step %d: Flush: %v", step, err)
				}
				if bs != nil {
					bs.writing = false
				}
				ms.NextGen()
				tr = OpenWritable(w, root)
			}
			if bs != nil && bs.err != nil {
				rt.Fatalf("step %d: queued write: %v", step, bs.err)
			}
			if p := problems(tr); len(p) > 0 {
				rt.Fatalf("step %d: Check: %s", step, strings.Join(p, "; "))
			}
		}
		compare(rt, tr, m)
		if err := tr.Drop(func([]byte) error { return nil }); err != nil {
			rt.Fatalf("Drop: %v", err)
		}
		if ms.Live() != 0 {
			rt.Fatalf("%d pages live after Drop", ms.Live())
		}
	})
}

// TestRepackKeepsParentSplittable: keys of MaxKey bytes in groups sharing
// a long prefix, so a separator between groups is 2 bytes and one within a
// group 301. A repack replaces short separators with long ones; unchecked,
// one after a split grew the parent past what one split can share out,
// and a Put on a sound tree failed ("split ... left 761+1051 bytes").
func TestRepackKeepsParentSplittable(t *testing.T) {
	const payload = 984
	mk := MaxKey(payload)
	key := func(g, j int) []byte {
		k := append([]byte{byte(g >> 8), byte(g)}, bytes.Repeat([]byte{'x'}, mk-3)...)
		return append(k, byte(j))
	}
	const groups = 400
	s, tr := newStore(payload)
	m := model{}
	for g := range groups {
		for j := range 3 {
			k, v := key(g, j), bytes.Repeat([]byte{byte(g)}, 19)
			mustPut(t, tr, k, v)
			m[string(k)] = v
		}
	}
	tr = commit(t, s, tr)
	rng := rand.New(rand.NewPCG(5, 7))
	for i := range 5000 {
		k := key(rng.IntN(groups), rng.IntN(6))
		if rng.IntN(3) == 0 {
			if _, ok := m[string(k)]; ok {
				if _, _, err := tr.Delete(k); err != nil {
					t.Fatalf("op %d: Delete: %v", i, err)
				}
				delete(m, string(k))
				continue
			}
		}
		v := bytes.Repeat([]byte{1}, rng.IntN(MaxValue(payload, len(k))+1))
		if _, _, err := tr.Put(k, v); err != nil {
			t.Fatalf("op %d: Put: %v", i, err)
		}
		m[string(k)] = v
		if i%1000 == 0 {
			tr = commit(t, s, tr)
		}
	}
	if p := problems(tr); len(p) > 0 {
		t.Fatalf("Check: %v", p)
	}
	compare(t, tr, m)
}

// leafRefs returns the pages of t's leaves in key order.
func leafRefs(t *Tree) []pager.Ref {
	var leaves []pager.Ref
	t.Check(CheckFuncs{Page: func(ref pager.Ref, leaf bool) {
		if leaf {
			leaves = append(leaves, ref)
		}
	}})
	return leaves
}

// TestRepackRefusesKeysOutOfOrderAcrossLeaves: a leaf holding keys that
// belong before its left sibling's (its separators lie, each page is sound
// on its own). A repack of the two would write a leaf whose keys are out
// of order; it reports the damage instead.
func TestRepackRefusesKeysOutOfOrderAcrossLeaves(t *testing.T) {
	s, tr := newStore(984)
	for i := range 75 {
		mustPut(t, tr, key64(i), bytes.Repeat([]byte{1}, 50))
	}
	if _, err := tr.Flush(); err != nil {
		t.Fatal(err)
	}
	n := tr.nodes[leafRefs(tr)[3].Page]
	for i := range n.keys {
		n.keys[i] = append(key64(i), 1) // between key64(i) and key64(i+1)
	}
	n.keys, n.vals = n.keys[:4], n.vals[:4]
	n.used, n.changed = n.computeUsed(), true
	tr = commit(t, s, tr)
	var err error
	for i := 30; i < 45 && err == nil; i++ { // leaf 2 shrinks
		_, _, err = tr.Delete(key64(i))
	}
	if !errors.Is(err, errs.ErrCorrupt) || !strings.Contains(err.Error(), "not greater") {
		t.Fatalf("Delete beside leaves out of order: %v, want ErrCorrupt", err)
	}
}

// corruptStore returns a page of no node type for page bad.
type corruptStore struct {
	*memstore.Store
	bad uint64
}

func (s *corruptStore) Page(ref pager.Ref) ([]byte, error) {
	if ref.Page == s.bad {
		return make([]byte, s.PayloadSize()), nil
	}
	return s.Store.Page(ref)
}

// TestFailedChangeIsNotWritten: a Delete that reads a damaged sibling
// fails with ErrCorrupt after it removed its key; the tree, half changed,
// refuses every later change and write with that error.
func TestFailedChangeIsNotWritten(t *testing.T) {
	s, tr := newStore(984)
	for i := range 75 {
		mustPut(t, tr, key64(i), bytes.Repeat([]byte{1}, 50))
	}
	tr = commit(t, s, tr)
	tr = OpenWritable(&corruptStore{Store: s, bad: leafRefs(tr)[3].Page}, tr.root)
	var err error
	for i := 30; i < 45 && err == nil; i++ {
		_, _, err = tr.Delete(key64(i))
	}
	if !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("Delete beside a damaged leaf: %v, want ErrCorrupt", err)
	}
	if _, err := tr.Flush(); !errors.Is(err, errs.ErrCorrupt) {
		t.Errorf("Flush after a failed Delete: %v, want its ErrCorrupt", err)
	}
	if _, _, err := tr.Put(key64(1), nil); !errors.Is(err, errs.ErrCorrupt) {
		t.Errorf("Put after a failed Delete: %v, want its ErrCorrupt", err)
	}
	if _, ok, err := tr.Get(key64(1)); err != nil || !ok {
		t.Errorf("Get after a failed Delete: %v %v, want the key", ok, err)
	}
}

// TestRawUsedOnlyEarlierCommits: the sizes remembered for a transaction
// are those of pages earlier commits wrote, which never change; pages of
// the transaction itself that Spill dropped are rewritten in place.
func TestRawUsedOnlyEarlierCommits(t *testing.T) {
	_, tr := newStore(984)
	for i := range 75 {
		mustPut(t, tr, key64(i), bytes.Repeat([]byte{1}, 50))
	}
	if err := tr.Spill(); err != nil {
		t.Fatal(err)
	}
	for c := range 6 { // leaf 2 under 7/10: its siblings are sized
		mustPut(t, tr, key64(30+c), nil)
	}
	for ref := range tr.rawUsed {
		if ref.Gen == tr.gen {
			t.Errorf("size of page %d of this transaction remembered", ref.Page)
		}
	}
}
