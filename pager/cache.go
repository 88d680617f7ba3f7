package pager

import (
	"container/list"
	"sync"
)

// cache keeps decrypted payloads of recently read pages, bounded in bytes.
// Entries remember the generation they were read at: a page number reused
// by a later commit never serves the old payload. Evicted payloads are left
// to the garbage collector, never reused, because callers may still hold
// them.
type cache struct {
	mu       sync.Mutex
	capBytes int
	used     int
	lru      *list.List // front = most recent; values are *cacheEntry
	byPage   map[uint64]*list.Element
}

type cacheEntry struct {
	ref     Ref
	payload []byte
}

func newCache(capBytes int) *cache {
	return &cache{capBytes: capBytes, lru: list.New(), byPage: map[uint64]*list.Element{}}
}

func (c *cache) get(ref Ref) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byPage[ref.Page]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	if e.ref.Gen != ref.Gen {
		return nil
	}
	c.lru.MoveToFront(el)
	return e.payload
}

func (c *cache) put(ref Ref, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byPage[ref.Page]; ok {
		c.removeLocked(el)
	}
	if len(payload) > c.capBytes {
		return
	}
	c.byPage[ref.Page] = c.lru.PushFront(&cacheEntry{ref: ref, payload: payload})
	c.used += len(payload)
	for c.used > c.capBytes {
		c.removeLocked(c.lru.Back())
	}
}

// forget drops page pgno, whatever generation it holds: the page is being
// rewritten.
func (c *cache) forget(pgno uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byPage[pgno]; ok {
		c.removeLocked(el)
	}
}

func (c *cache) removeLocked(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.byPage, e.ref.Page)
	c.used -= len(e.payload)
}
