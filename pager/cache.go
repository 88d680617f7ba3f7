package pager

import "sync"

// cache keeps decrypted payloads of recently read pages, bounded in bytes.
// Entries remember the generation they were read at: a page number reused
// by a later commit never serves the old payload. Evicted payloads are left
// to the garbage collector, never reused, because callers may still hold
// them.
//
// It keeps two segments, each a CLOCK (second-chance) approximation of LRU:
// a hit only marks its entry referenced, touching no other entry's memory
// (a random get's hit path is bound by memory latency), and eviction moves
// a referenced entry back to the front once instead of evicting it. Branch
// pages (the tree's upper levels, which every lookup crosses and which are
// few) go to the hot segment; everything else to the cold one, and eviction takes from the cold segment first. So a
// stream of leaf misses, as random gets over a file larger than the cache
// cause, never pushes the branches out, and a get decrypts only its leaf.
//
// Admission (admit) decides whether a page read into a caller's buffer
// (Pager.PageInto) earns a cached copy: a branch page always; another page
// while the cache has room for it without evicting anything (so a cache
// larger than the pages looked up warms at their first reads), then only
// when it was missed recently already. Once the cache is full, a page read
// once, as most leaves of a large file under random gets are, costs no
// allocation and evicts nothing.
type cache struct {
	mu       sync.Mutex
	capBytes int
	used     int
	hot      ring // branch pages
	cold     ring // every other page
	byPage   map[uint64]*cacheEntry
	seen     []uint64 // doorkeeper: page numbers missed recently, direct-mapped; made at the first admit
}

type cacheEntry struct {
	ref        Ref
	payload    []byte
	hot        bool
	hit        bool // read since it last reached the back of its segment
	prev, next *cacheEntry
}

// ring is an intrusive circular LRU list; the sentinel's next is the most
// recent entry.
type ring struct {
	s cacheEntry
	n int
}

func (r *ring) init()             { r.s.prev, r.s.next = &r.s, &r.s }
func (r *ring) back() *cacheEntry { return r.s.prev }
func (r *ring) pushFront(e *cacheEntry) {
	e.prev, e.next = &r.s, r.s.next
	r.s.next.prev = e
	r.s.next = e
	r.n++
}
func (r *ring) remove(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	r.n--
}

func newCache(capBytes int) *cache {
	c := &cache{capBytes: capBytes, byPage: map[uint64]*cacheEntry{}}
	c.hot.init()
	c.cold.init()
	return c
}

func (c *cache) len() int { return c.hot.n + c.cold.n }

func (c *cache) get(ref Ref) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byPage[ref.Page]
	if !ok || e.ref.Gen != ref.Gen {
		return nil
	}
	e.hit = true
	return e.payload
}

func (c *cache) segment(e *cacheEntry) *ring {
	if e.hot {
		return &c.hot
	}
	return &c.cold
}

// put keeps payload as page ref's; a branch page goes to the hot segment.
func (c *cache) put(ref Ref, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byPage[ref.Page]; ok {
		c.removeLocked(e)
	}
	if len(payload) > c.capBytes {
		return
	}
	e := &cacheEntry{ref: ref, payload: payload, hot: len(payload) > 0 && payload[0] == TypeBranch}
	c.byPage[ref.Page] = e
	c.segment(e).pushFront(e)
	c.used += len(payload)
	for c.used > c.capBytes {
		seg := &c.cold
		if seg.n == 0 {
			seg = &c.hot
		}
		if v := seg.back(); v.hit || v == e && seg.n > 1 {
			v.hit = false // a second chance; the page just put gets one too
			seg.remove(v)
			seg.pushFront(v)
		} else {
			c.removeLocked(v)
		}
	}
}

// admit reports whether a page just missed, of size bytes whose first is
// type, deserves a cached copy: a branch page, a page that fits without
// evicting, or a page missed recently before (the doorkeeper remembers one
// page number per slot).
func (c *cache) admit(pgno uint64, typ byte, size int) bool {
	if typ == TypeBranch {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used+size <= c.capBytes {
		return true
	}
	if c.seen == nil {
		// Twice as many slots as 4 KiB pages fit in the cache (256 KiB at
		// the default size): made when a lookup first misses, not at Open.
		slots := 64
		for slots < 2*(c.capBytes>>12) {
			slots <<= 1
		}
		c.seen = make([]uint64, slots)
	}
	slot := &c.seen[(pgno*0x9E3779B97F4A7C15)>>32&uint64(len(c.seen)-1)]
	if *slot == pgno {
		*slot = 0
		return true
	}
	*slot = pgno
	return false
}

// forget drops page pgno, whatever generation it holds: the page is being
// rewritten.
func (c *cache) forget(pgno uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byPage[pgno]; ok {
		c.removeLocked(e)
	}
}

func (c *cache) removeLocked(e *cacheEntry) {
	c.segment(e).remove(e)
	delete(c.byPage, e.ref.Page)
	c.used -= len(e.payload)
}
