package dirtree

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// fataler is what helpers need from *testing.T, *testing.B and *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// problems runs Check and returns every problem as "page N: msg".
func problems(t *Tree) []string {
	var out []string
	t.Check(CheckFuncs{Problem: func(pgno uint64, msg string) {
		out = append(out, fmt.Sprintf("page %d: %s", pgno, msg))
	}})
	return out
}

// scan returns every key and value in cursor order.
func scan(tb fataler, t *Tree) (keys, vals [][]byte) {
	tb.Helper()
	c := t.Cursor()
	for k, v, ok, err := c.First(); ; k, v, ok, err = c.Next() {
		if err != nil {
			tb.Fatalf("scan: %v", err)
		}
		if !ok {
			return keys, vals
		}
		keys = append(keys, bytes.Clone(k))
		vals = append(vals, bytes.Clone(v))
	}
}

// model is the reference a tree is compared with.
type model map[string][]byte

func (m model) sortedKeys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// compare checks that t holds exactly m, in order, and passes Check.
func compare(tb fataler, t *Tree, m model) {
	tb.Helper()
	keys, vals := scan(tb, t)
	want := m.sortedKeys()
	if len(keys) != len(want) {
		tb.Fatalf("scan found %d keys, model has %d", len(keys), len(want))
	}
	for i, k := range want {
		if string(keys[i]) != k {
			tb.Fatalf("scan key %d = %q, want %q", i, short(keys[i]), short([]byte(k)))
		}
		if !bytes.Equal(vals[i], m[k]) {
			tb.Fatalf("scan value %d of %q = %q, want %q", i, short(keys[i]), short(vals[i]), short(m[k]))
		}
	}
	if p := problems(t); len(p) > 0 {
		tb.Fatalf("Check: %s", strings.Join(p, "; "))
	}
}

func short(b []byte) string {
	if len(b) > 24 {
		return fmt.Sprintf("%x…(%d bytes)", b[:24], len(b))
	}
	return fmt.Sprintf("%x", b)
}

// depth returns the number of levels of t (0 when empty).
func depth(t *Tree) int {
	c := t.Cursor()
	if _, _, ok, err := c.First(); err != nil || !ok {
		return 0
	}
	return len(c.stack)
}

// newStore returns a memstore and a writable empty tree on it.
func newStore(payload int) (*memstore.Store, *Tree) {
	s := memstore.New(payload)
	return s, OpenWritable(s, pager.Ref{})
}

// commit flushes t, starts the next generation and reopens the tree.
func commit(tb fataler, s *memstore.Store, t *Tree) *Tree {
	tb.Helper()
	root, err := t.Flush()
	if err != nil {
		tb.Fatalf("Flush: %v", err)
	}
	s.NextGen()
	return OpenWritable(s, root)
}

func mustPut(tb fataler, t *Tree, k, v []byte) {
	tb.Helper()
	if _, _, err := t.Put(k, v); err != nil {
		tb.Fatalf("Put(%s): %v", short(k), err)
	}
}
