package dirtree

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

func TestLimits(t *testing.T) {
	tests := []struct {
		pageSize, maxKey, maxValueEmptyKey int
	}{
		{1024, 301, 484},
		{2048, 642, 996},
		{4096, 1325, 2020},
		{8192, 2690, 4068},
		{16384, 5421, 8164},
		{32768, 10882, 16356},
		{65536, 21805, 32740},
	}
	for _, tt := range tests {
		p := tt.pageSize - 40
		mk := MaxKey(p)
		if mk != tt.maxKey {
			t.Errorf("MaxKey(%d) = %d, want %d", p, mk, tt.maxKey)
		}
		if got := MaxValue(p, 0); got != tt.maxValueEmptyKey {
			t.Errorf("MaxValue(%d, 0) = %d, want %d", p, got, tt.maxValueEmptyKey)
		}
		for kl := 0; kl <= mk; kl++ {
			if mv := MaxValue(p, kl); mv < minValueRoom {
				t.Fatalf("MaxValue(%d, %d) = %d < %d", p, kl, mv, minValueRoom)
			}
		}
		if MaxValue(p, mk+1) != -1 || MaxValue(p, -1) != -1 {
			t.Errorf("MaxValue(%d) accepts keys longer than MaxKey", p)
		}
		// Two largest cells fit in a leaf and three largest separators
		// in a branch: the premise of every split. For every key length
		// the largest cell is the same size, half the leaf's capacity.
		for _, kl := range []int{0, mk} {
			if 2*(slotSize+leafCellFixed+kl+MaxValue(p, kl)) > leafCap(p) {
				t.Errorf("payload %d: two maximal leaf cells with %d-byte keys do not fit", p, kl)
			}
		}
		if 3*(slotSize+branchCellFixed+mk) > branchCap(p) {
			t.Errorf("payload %d: three maximal separators do not fit", p)
		}
	}
	if MaxKey(4056) < 1024 {
		t.Errorf("MaxKey(4056) = %d, want >= 1024", MaxKey(4056))
	}
	for _, p := range []int{0, 255, 65536} {
		if MaxKey(p) != -1 || MaxValue(p, 0) != -1 {
			t.Errorf("payload %d accepted", p)
		}
	}
}

// TestMaximalCells fills trees with cells of the maximum sizes at every page
// size and checks them.
func TestMaximalCells(t *testing.T) {
	for _, ps := range []int{1024, 2048, 4096, 8192, 16384, 32768, 65536} {
		p := ps - 40
		s, tr := newStore(p)
		mk := MaxKey(p)
		m := model{}
		for i := 0; i < 40; i++ {
			k := bytes.Repeat([]byte{byte(i)}, mk)
			if i%3 == 0 {
				k = k[:i] // short keys between the long ones
			}
			v := bytes.Repeat([]byte{byte(i)}, MaxValue(p, len(k)))
			mustPut(t, tr, k, v)
			m[string(k)] = v
		}
		compare(t, tr, m)
		tr = commit(t, s, tr)
		compare(t, tr, m)
		for k := range m {
			if _, _, err := tr.Delete([]byte(k)); err != nil {
				t.Fatal(err)
			}
			delete(m, k)
			compare(t, tr, m)
		}
		if s.Live() != 0 {
			t.Errorf("page size %d: %d pages live after deleting everything", ps, s.Live())
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	const payload = 984
	ref := pager.Ref{Page: 9, Gen: 5}
	tests := []*node{
		{leaf: true, keys: [][]byte{{}, []byte("a"), []byte("ab")}, vals: [][]byte{[]byte("v0"), {}, bytes.Repeat([]byte{7}, 100)}},
		{leaf: true, keys: [][]byte{bytes.Repeat([]byte{1}, MaxKey(payload))}, vals: [][]byte{make([]byte, MaxValue(payload, MaxKey(payload)))}},
		{keys: [][]byte{[]byte("m")}, kids: []pager.Ref{{Page: 3, Gen: 1}, {Page: 4, Gen: 5}}},
		{keys: [][]byte{{0}, []byte("b"), []byte("bb")}, kids: []pager.Ref{{Page: 3, Gen: 1}, {Page: 4, Gen: 2}, {Page: 5, Gen: 3}, {Page: 1 << 40, Gen: 4}}},
	}
	for i, n := range tests {
		n.pgno = ref.Page
		n.used = n.computeUsed()
		buf := make([]byte, payload)
		n.encode(buf)
		got, err := decode(ref, buf, payload)
		if err != nil {
			t.Fatalf("case %d: decode: %v", i, err)
		}
		if got.leaf != n.leaf || got.used != n.used || !slices.EqualFunc(got.keys, n.keys, bytes.Equal) ||
			!slices.EqualFunc(got.vals, n.vals, bytes.Equal) || !slices.Equal(got.kids, n.kids) {
			t.Errorf("case %d: decoded %+v, want %+v", i, got, n)
		}
		// The raw reader agrees with the decoder.
		p, err := openRaw(ref, buf)
		if err != nil || p.n != len(n.keys) || p.leaf != n.leaf {
			t.Fatalf("case %d: openRaw: %v", i, err)
		}
		for j, k := range n.keys {
			got, err := p.key(j)
			if err != nil || !bytes.Equal(got, k) {
				t.Errorf("case %d: raw key %d = %q, %v", i, j, got, err)
			}
			if at, found, err := p.search(k); err != nil || (n.leaf && (!found || at != j)) || (!n.leaf && at != j+1) {
				t.Errorf("case %d: raw search key %d = %d %v %v", i, j, at, found, err)
			}
		}
		for j, kid := range n.kids {
			if got, err := p.child(j); err != nil || got != kid {
				t.Errorf("case %d: raw child %d = %v, %v", i, j, got, err)
			}
		}
	}
}

// leafPage returns a valid leaf page with keys "a", "b" and a branch page
// with separator "m", for corrupting.
func samplePages(payload int) (leaf, branch []byte) {
	leaf, branch = make([]byte, payload), make([]byte, payload)
	l := &node{leaf: true, keys: [][]byte{[]byte("a"), []byte("b")}, vals: [][]byte{[]byte("x"), []byte("yz")}}
	l.used = l.computeUsed()
	l.encode(leaf)
	b := &node{keys: [][]byte{[]byte("m")}, kids: []pager.Ref{{Page: 3, Gen: 1}, {Page: 4, Gen: 1}}}
	b.used = b.computeUsed()
	b.encode(branch)
	return leaf, branch
}

func TestDecodeRejects(t *testing.T) {
	const payload = 984
	ref := pager.Ref{Page: 7, Gen: 2}
	slot0 := func(b []byte) int { return int(le.Uint16(b[leafHeader:])) }
	tests := []struct {
		name   string
		branch bool
		mutate func(b []byte) []byte
	}{
		{"short page", false, func(b []byte) []byte { return b[:3] }},
		{"chain page type", false, func(b []byte) []byte { b[0] = pager.TypeChain; return b }},
		{"zero page type", false, func(b []byte) []byte { b[0] = 0; return b }},
		{"reserved byte set", false, func(b []byte) []byte { b[1] = 1; return b }},
		{"no cells", false, func(b []byte) []byte { le.PutUint16(b[2:], 0); return b }},
		{"count overflows page", false, func(b []byte) []byte { le.PutUint16(b[2:], 0xffff); return b }},
		{"slot into slot array", false, func(b []byte) []byte { le.PutUint16(b[leafHeader:], 5); return b }},
		{"slot past end", false, func(b []byte) []byte { le.PutUint16(b[leafHeader:], uint16(len(b)-2)); return b }},
		{"key runs past end", false, func(b []byte) []byte { le.PutUint16(b[slot0(b):], 0xfff0); return b }},
		{"value runs past end", false, func(b []byte) []byte { le.PutUint16(b[slot0(b)+2:], 0xfff0); return b }},
		{"keys out of order", false, func(b []byte) []byte {
			s := bytes.Clone(b[leafHeader : leafHeader+4])
			copy(b[leafHeader:], s[2:4])
			copy(b[leafHeader+2:], s[0:2])
			return b
		}},
		{"duplicate keys", false, func(b []byte) []byte { copy(b[leafHeader+2:], b[leafHeader:leafHeader+2]); return b }},
		{"branch child page 0", true, func(b []byte) []byte { le.PutUint64(b[4:], 0); return b }},
		{"branch child newer than parent", true, func(b []byte) []byte { le.PutUint64(b[12:], 3); return b }},
		{"branch key past end", true, func(b []byte) []byte {
			off := int(le.Uint16(b[branchHeader:]))
			le.PutUint16(b[off+refSize:], 0xffff)
			return b
		}},
	}
	for _, tt := range tests {
		leaf, branch := samplePages(payload)
		b := leaf
		if tt.branch {
			b = branch
		}
		b = tt.mutate(b)
		if _, err := decode(ref, b, payload); !errors.Is(err, errs.ErrCorrupt) {
			t.Errorf("%s: decode error %v, want ErrCorrupt", tt.name, err)
		} else if pe := (*errs.PageError)(nil); !errors.As(err, &pe) || pe.Page != ref.Page {
			t.Errorf("%s: error %v does not name page %d", tt.name, err, ref.Page)
		}
	}
	// A key longer than MaxKey is rejected even when it fits the page.
	n := &node{leaf: true, keys: [][]byte{make([]byte, MaxKey(payload)+1)}, vals: [][]byte{nil}}
	n.used = n.computeUsed()
	buf := make([]byte, payload)
	n.encode(buf)
	if _, err := decode(ref, buf, payload); !errors.Is(err, errs.ErrCorrupt) {
		t.Errorf("oversized key: decode error %v, want ErrCorrupt", err)
	}
}

func TestSeparator(t *testing.T) {
	tests := []struct{ left, right, want string }{
		{"", "a", "a"},
		{"a", "b", "b"},
		{"abc", "abd", "abd"},
		{"abc", "abdxyz", "abd"},
		{"ab", "abc", "abc"},
		{"", "\x00", "\x00"},
		{"a\xff", "b\x00\x00", "b"},
	}
	for _, tt := range tests {
		got := separator([]byte(tt.left), []byte(tt.right))
		if string(got) != tt.want {
			t.Errorf("separator(%q, %q) = %q, want %q", tt.left, tt.right, got, tt.want)
		}
	}
}

// TestEncodeOverwritesEveryByte checks that encode writes the same page
// into a buffer full of old bytes as into a zeroed one: it zeroes only the
// gap between slots and cells, and must leave nothing of the old page.
func TestEncodeOverwritesEveryByte(t *testing.T) {
	const payload = 4096 - 40
	leaf := &node{leaf: true}
	branch := &node{kids: []pager.Ref{{Page: 9, Gen: 2}}}
	for i := range 7 {
		leaf.keys = append(leaf.keys, []byte{'k', byte(i)})
		leaf.vals = append(leaf.vals, bytes.Repeat([]byte{byte(i)}, 100*i))
		branch.keys = append(branch.keys, []byte{'s', byte(i)})
		branch.kids = append(branch.kids, pager.Ref{Page: uint64(10 + i), Gen: 1})
	}
	for _, n := range []*node{leaf, branch, {leaf: true, keys: [][]byte{{}}, vals: [][]byte{{}}}} {
		n.used = n.computeUsed()
		zero, dirty := make([]byte, payload), bytes.Repeat([]byte{0xa5}, payload)
		n.encode(zero)
		n.encode(dirty)
		if !bytes.Equal(zero, dirty) {
			t.Fatalf("leaf %v: encode over old bytes differs from encode over zeros", n.leaf)
		}
		if _, err := decode(pager.Ref{Page: 5, Gen: 3}, dirty, payload); err != nil {
			t.Fatalf("leaf %v: %v", n.leaf, err)
		}
	}
}
