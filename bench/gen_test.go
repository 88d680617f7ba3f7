package main

import (
	"bytes"
	"slices"
	"testing"
)

// TestGenShape checks the generator against the shape the issue asks for,
// and that Size agrees with Value without building it.
func TestGenShape(t *testing.T) {
	g := NewGen(1, 63000, 60)
	if len(g.All) != 63000 || len(g.Lists) != 60 {
		t.Fatalf("%d records over %d lists", len(g.All), len(g.Lists))
	}
	if !slices.IsSorted(g.Lists) {
		t.Error("lists not in byte order")
	}
	var sizes []int
	var buf []byte
	for i, r := range g.All {
		buf = g.Value(buf[:0], r, 0)
		if len(buf) != g.Size(r, 0) {
			t.Fatalf("record %d: Value is %d bytes, Size says %d", i, len(buf), g.Size(r, 0))
		}
		if bytes.IndexByte(buf, 0) >= 0 {
			t.Fatal("a value holds a NUL")
		}
		sizes = append(sizes, len(buf))
	}
	slices.Sort(sizes)
	p := func(q float64) int { return sizes[int(q*float64(len(sizes)-1))] }
	t.Logf("sizes: p50 %d, p90 %d, p99 %d, max %d; largest list %d, smallest %d", p(.5), p(.9), p(.99), sizes[len(sizes)-1], len(g.IDs[0]), len(g.IDs[len(g.IDs)-1]))
	for _, c := range []struct {
		q      float64
		lo, hi int
	}{{.5, 630, 770}, {.9, 900, 1100}, {.99, 1800, 2200}} {
		if v := p(c.q); v < c.lo || v > c.hi {
			t.Errorf("p%v = %d, want %d..%d", c.q*100, v, c.lo, c.hi)
		}
	}
	for l, ids := range g.IDs {
		if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
			t.Errorf("list %s: ids not sorted and unique", g.Lists[l])
		}
	}
	h := NewGen(1, 63000, 60)
	if !bytes.Equal(g.Value(nil, g.All[1234], 3), h.Value(nil, h.All[1234], 3)) {
		t.Error("the same seed made different values")
	}
}
