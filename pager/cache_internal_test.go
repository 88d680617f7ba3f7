package pager

import "testing"

func TestCacheUnit(t *testing.T) {
	c := newCache(100)
	pay := func(n int, b byte) []byte {
		p := make([]byte, n)
		p[0] = b
		return p
	}
	c.put(Ref{Page: 3, Gen: 1}, pay(40, 3))
	c.put(Ref{Page: 4, Gen: 1}, pay(40, 4))
	if b := c.get(Ref{Page: 3, Gen: 1}); b == nil || b[0] != 3 {
		t.Fatal("page 3 not cached")
	}
	if c.get(Ref{Page: 3, Gen: 2}) != nil {
		t.Fatal("page 3 served at another generation")
	}
	c.put(Ref{Page: 5, Gen: 1}, pay(40, 5)) // 120 > 100: evicts 4, least recent
	if c.get(Ref{Page: 4, Gen: 1}) != nil || c.get(Ref{Page: 3, Gen: 1}) == nil || c.get(Ref{Page: 5, Gen: 1}) == nil {
		t.Fatal("wrong page evicted")
	}
	if c.used != 80 || c.len() != 2 || len(c.byPage) != 2 {
		t.Fatalf("used %d, %d entries, %d in map", c.used, c.len(), len(c.byPage))
	}
	c.put(Ref{Page: 3, Gen: 2}, pay(40, 33)) // replaces generation 1
	if c.get(Ref{Page: 3, Gen: 1}) != nil || c.get(Ref{Page: 3, Gen: 2})[0] != 33 || c.used != 80 {
		t.Fatal("replacing an entry went wrong")
	}
	c.forget(3)
	c.forget(99)
	if c.get(Ref{Page: 3, Gen: 2}) != nil || c.used != 40 {
		t.Fatal("forget left the page")
	}
	c.put(Ref{Page: 6, Gen: 1}, pay(101, 6)) // larger than the cache: not kept
	if c.get(Ref{Page: 6, Gen: 1}) != nil || c.used != 40 {
		t.Fatal("a payload larger than the cache was kept")
	}
	c.forget(5)
	for pg := uint64(10); pg < 100; pg++ {
		c.put(Ref{Page: pg, Gen: 1}, pay(30, byte(pg)))
		if c.used > c.capBytes || c.used != 30*c.len() || len(c.byPage) != c.len() {
			t.Fatalf("after page %d: used %d of %d, %d entries, %d in map", pg, c.used, c.capBytes, c.len(), len(c.byPage))
		}
	}
}
