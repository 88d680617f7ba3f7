package dirtree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
	"pgregory.net/rapid"
)

// propState is the state machine of TestProperty: a tree, the map it must
// equal, and a long-lived cursor whose every step is predicted from the map.
type propState struct {
	s        *memstore.Store
	tr       *Tree
	m        model
	payload  int
	prefixes [][]byte
	seq      uint64 // appended keys: 0xfe + big-endian counter
	valNo    uint64 // makes every stored value distinct

	cur       *Cursor
	curResume []byte // the cursor model: Next returns the first key after
	curAfter  bool   // (or at, when !curAfter) curResume
	curStart  bool
	maxDepth  int
}

// key builds a key from one of the shared prefixes and a short suffix.
func (st *propState) key(t *rapid.T) []byte {
	p := rapid.SampledFrom(st.prefixes).Draw(t, "prefix")
	suffix := rapid.SliceOfN(rapid.SampledFrom([]byte{0, 1, 'a', 0xff}), 0, 3).Draw(t, "suffix")
	return st.clip(append(bytes.Clone(p), suffix...))
}

func (st *propState) clip(k []byte) []byte {
	if mk := MaxKey(st.payload); len(k) > mk {
		k = k[:mk]
	}
	return k
}

// value returns a distinct value of length n.
func (st *propState) value(n int) []byte {
	st.valNo++
	v := make([]byte, n)
	for i := range v {
		v[i] = byte(st.valNo >> (8 * (i % 8)))
	}
	return v
}

func (st *propState) valueLen(t *rapid.T, key []byte) int {
	mv := MaxValue(st.payload, len(key))
	return rapid.OneOf(rapid.IntRange(0, 40), rapid.Just(mv), rapid.IntRange(0, mv)).Draw(t, "vlen")
}

func (st *propState) put(t *rapid.T, k, v []byte) {
	old, replaced, err := st.tr.Put(k, v)
	if err != nil {
		t.Fatalf("Put(%s): %v", short(k), err)
	}
	want, had := st.m[string(k)]
	if replaced != had || !bytes.Equal(old, want) {
		t.Fatalf("Put(%s) replaced %v %s, want %v %s", short(k), replaced, short(old), had, short(want))
	}
	st.m[string(k)] = v
}

func (st *propState) del(t *rapid.T, k []byte) {
	old, ok, err := st.tr.Delete(k)
	if err != nil {
		t.Fatalf("Delete(%s): %v", short(k), err)
	}
	want, had := st.m[string(k)]
	if ok != had || !bytes.Equal(old, want) {
		t.Fatalf("Delete(%s) = %v %s, want %v %s", short(k), ok, short(old), had, short(want))
	}
	delete(st.m, string(k))
}

// expectAfter returns the first model key > k (>= k unless after).
func (st *propState) expectAfter(k []byte, after bool) (string, bool) {
	keys := st.m.sortedKeys()
	i, found := slices.BinarySearch(keys, string(k))
	if found && after {
		i++
	}
	if i == len(keys) {
		return "", false
	}
	return keys[i], true
}

func (st *propState) checkCursorResult(t *rapid.T, what string, k, v []byte, ok bool, err error, want string, wantOK bool) {
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if ok != wantOK || (ok && string(k) != want) {
		t.Fatalf("%s = %v %s, want %v %s", what, ok, short(k), wantOK, short([]byte(want)))
	}
	if ok && !bytes.Equal(v, st.m[want]) {
		t.Fatalf("%s value %s, want %s", what, short(v), short(st.m[want]))
	}
}

func (st *propState) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"Put": func(t *rapid.T) {
			k := st.key(t)
			st.put(t, k, st.value(st.valueLen(t, k)))
		},
		"PutMany": func(t *rapid.T) {
			n := rapid.IntRange(1, 300).Draw(t, "n")
			rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1))
			appending := rapid.Bool().Draw(t, "appending")
			for range n {
				var k []byte
				if appending {
					st.seq++
					k = binary.BigEndian.AppendUint64([]byte{0xfe}, st.seq)
				} else {
					k = bytes.Clone(st.prefixes[rng.IntN(len(st.prefixes))])
					for range rng.IntN(4) {
						k = append(k, []byte{0, 1, 'a', 0xff}[rng.IntN(4)])
					}
					k = st.clip(k)
				}
				mv := MaxValue(st.payload, len(k))
				vlen := rng.IntN(min(mv, 120) + 1)
				if rng.IntN(8) == 0 {
					vlen = mv
				}
				st.put(t, k, st.value(vlen))
			}
		},
		"Delete": func(t *rapid.T) {
			k := st.key(t)
			if len(st.m) > 0 && rapid.Bool().Draw(t, "existing") {
				k = []byte(rapid.SampledFrom(st.m.sortedKeys()).Draw(t, "k"))
			}
			st.del(t, k)
		},
		"DeleteMany": func(t *rapid.T) {
			keys := st.m.sortedKeys()
			if len(keys) == 0 {
				t.Skip("empty")
			}
			// Delete a run (exercises merges down one side) or a random share.
			from := rapid.IntRange(0, len(keys)-1).Draw(t, "from")
			n := rapid.IntRange(1, len(keys)-from).Draw(t, "n")
			stride := rapid.SampledFrom([]int{1, 2, 3}).Draw(t, "stride")
			for i := from; i < from+n; i += stride {
				st.del(t, []byte(keys[i]))
			}
		},
		"Get": func(t *rapid.T) {
			k := st.key(t)
			if len(st.m) > 0 && rapid.Bool().Draw(t, "existing") {
				k = []byte(rapid.SampledFrom(st.m.sortedKeys()).Draw(t, "k"))
			}
			v, ok, err := st.tr.Get(k)
			want, had := st.m[string(k)]
			if err != nil || ok != had || !bytes.Equal(v, want) {
				t.Fatalf("Get(%s) = %v %s %v, want %v %s", short(k), ok, short(v), err, had, short(want))
			}
		},
		"SeekScan": func(t *rapid.T) {
			k := st.key(t)
			c := st.tr.Cursor()
			got, v, ok, err := c.Seek(k)
			want, wantOK := st.expectAfter(k, false)
			st.checkCursorResult(t, "Seek", got, v, ok, err, want, wantOK)
			for range rapid.IntRange(0, 20).Draw(t, "steps") {
				if !ok {
					break
				}
				prev := bytes.Clone(got)
				got, v, ok, err = c.Next()
				want, wantOK = st.expectAfter(prev, true)
				st.checkCursorResult(t, "Next", got, v, ok, err, want, wantOK)
			}
		},
		"CursorNext": func(t *rapid.T) {
			// The long-lived cursor sees the tree change under it.
			if rapid.IntRange(0, 9).Draw(t, "reseek") == 0 {
				k := st.key(t)
				got, v, ok, err := st.cur.Seek(k)
				want, wantOK := st.expectAfter(k, false)
				st.checkCursorResult(t, "Seek", got, v, ok, err, want, wantOK)
				st.curStart, st.curResume, st.curAfter = true, k, false
				if ok {
					st.curResume, st.curAfter = bytes.Clone(got), true
				}
				return
			}
			if !st.curStart { // Next on a fresh cursor is First
				st.curStart, st.curResume, st.curAfter = true, nil, false
			}
			got, v, ok, err := st.cur.Next()
			want, wantOK := st.expectAfter(st.curResume, st.curAfter)
			st.checkCursorResult(t, "Next", got, v, ok, err, want, wantOK)
			if ok {
				st.curResume, st.curAfter = bytes.Clone(got), true
			}
		},
		"Commit": func(t *rapid.T) {
			st.tr = commit(t, st.s, st.tr)
			st.cur, st.curStart, st.curResume = st.tr.Cursor(), false, nil
		},
		"Relocate": func(t *rapid.T) {
			// Pages from limit on must leave the tree, and the values fix
			// replaces change in place. memstore does not allocate below
			// limit, so what is checked is that every page still reached
			// is below limit or written by this transaction.
			limit := rapid.Uint64Range(3, 400).Draw(t, "limit")
			mark := rapid.Byte().Draw(t, "mark")
			fix := func(v []byte) ([]byte, error) {
				if len(v) == 0 || v[0]%4 != mark%4 {
					return nil, nil
				}
				nv := bytes.Clone(v)
				nv[0] ^= 0x80
				return nv, nil
			}
			for k, v := range st.m {
				if nv, _ := fix(v); nv != nil {
					st.m[k] = nv
				}
			}
			if err := st.tr.Relocate(func() uint64 { return limit }, fix); err != nil {
				t.Fatalf("Relocate(%d): %v", limit, err)
			}
			st.tr.Check(CheckFuncs{Page: func(ref pager.Ref, _ bool) {
				if ref.Page >= limit && ref.Gen != st.s.Gen() {
					t.Fatalf("page %d (generation %d) is still in the tree after Relocate(%d)", ref.Page, ref.Gen, limit)
				}
			}})
		},
		"Flush": func(t *rapid.T) {
			if _, err := st.tr.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
		},
		"Spill": func(t *rapid.T) {
			if err := st.tr.Spill(); err != nil {
				t.Fatalf("Spill: %v", err)
			}
			if st.tr.Dirty() != 0 {
				t.Fatalf("Dirty() = %d after Spill", st.tr.Dirty())
			}
		},
		"": func(t *rapid.T) {
			compare(t, st.tr, st.m)
			st.maxDepth = max(st.maxDepth, depth(st.tr))
		},
	}
}

// TestProperty compares a tree with a map under random operations, on small
// pages so trees get deep, with keys sharing long prefixes.
func TestProperty(t *testing.T) {
	deepest := 0
	rapid.Check(t, func(t *rapid.T) {
		payload := rapid.SampledFrom([]int{984, 4056}).Draw(t, "payload")
		s, tr := newStore(payload)
		mk := MaxKey(payload)
		st := &propState{s: s, tr: tr, m: model{}, payload: payload, cur: tr.Cursor()}
		lens := rapid.SliceOfN(rapid.SampledFrom([]int{0, 1, 2, 8, mk / 4, mk / 2, mk - 3, mk}), 1, 5).Draw(t, "prefixLens")
		for i, n := range lens {
			st.prefixes = append(st.prefixes, bytes.Repeat([]byte{'a' + byte(i%4)}, n))
		}
		t.Repeat(st.actions())
		deepest = max(deepest, st.maxDepth)
		var dropped []string
		err := st.tr.Drop(func(v []byte) error { dropped = append(dropped, string(v)); return nil })
		if err != nil {
			t.Fatalf("Drop: %v", err)
		}
		var want []string
		for _, v := range st.m {
			want = append(want, string(v))
		}
		slices.Sort(want)
		slices.Sort(dropped)
		if !slices.Equal(dropped, want) {
			t.Fatalf("Drop passed %d values, want the model's %d", len(dropped), len(want))
		}
		if st.s.Live() != 0 {
			t.Fatalf("%d pages live after Drop", st.s.Live())
		}
		if _, _, ok, _ := st.tr.Cursor().First(); ok {
			t.Fatalf("tree not empty after Drop")
		}
	})
	t.Logf("deepest tree: %d levels", deepest)
}

func TestTooLarge(t *testing.T) {
	for _, payload := range []int{984, 2008, 4056, 65496} {
		_, tr := newStore(payload)
		mk := MaxKey(payload)
		if _, _, err := tr.Put(make([]byte, mk+1), nil); !errors.Is(err, errs.ErrTooLarge) {
			t.Errorf("payload %d: key of MaxKey+1: %v, want ErrTooLarge", payload, err)
		}
		for _, kl := range []int{0, mk / 2, mk} {
			mv := MaxValue(payload, kl)
			if _, _, err := tr.Put(make([]byte, kl), make([]byte, mv+1)); !errors.Is(err, errs.ErrTooLarge) {
				t.Errorf("payload %d key %d: value of MaxValue+1: %v, want ErrTooLarge", payload, kl, err)
			}
			if _, _, err := tr.Put(make([]byte, kl), make([]byte, mv)); err != nil {
				t.Errorf("payload %d key %d: value of MaxValue: %v", payload, kl, err)
			}
		}
		if p := problems(tr); len(p) > 0 {
			t.Errorf("payload %d: %v", payload, p)
		}
	}
}
