package scdb

import (
	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/pager"
)

// Stats describes a file's last committed state. Unlike Check it reads only
// the directory and the freelist pages, not every page.
type Stats struct {
	Generation uint64 // the last commit
	PageSize   int    // bytes per page
	Pages      uint64 // pages in the file, header and meta pages included
	FreePages  uint64 // pages recorded as free (reused before the file grows)
	Lists      int    // lists
	Records    int64  // records in all lists
	Bytes      int64  // value bytes in all lists
	// KeySlots describes the file's non-empty key slots.
	KeySlots []KeySlot

	// OpenSnapshots counts the read-only transactions open on this DB
	// (Stats' own excluded). Each keeps the pages its generation can reach
	// from being reused: a forgotten one makes the file grow.
	OpenSnapshots int
	// OldestSnapshot is the generation the oldest open snapshot reads; 0
	// when none is open. Pages freed after it are not reused until it ends.
	OldestSnapshot uint64
}

// FileBytes is the size of the file the stats describe.
func (s *Stats) FileBytes() int64 { return int64(s.Pages) * int64(s.PageSize) }

// Stats returns the figures of the last committed state.
func (db *DB) Stats() (*Stats, error) {
	tx, err := db.Begin(false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	st := &Stats{Generation: tx.meta.Gen, PageSize: db.p.PageSize(), Pages: tx.meta.PageCount, KeySlots: db.KeySlots()}
	st.OpenSnapshots, st.OldestSnapshot = db.snapshots(tx.meta.Gen)
	err = freelist.Walk(db.p, tx.meta, func(pager.Ref) {}, func(_, n uint64) error {
		st.FreePages += n
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := tx.dir.Cursor()
	_, v, ok, err := c.First()
	for ; ok && err == nil; _, v, ok, err = c.Next() {
		e, err := decodeListEntry(v)
		if err != nil {
			return nil, err
		}
		if e.count > 0 {
			st.Lists++
		}
		st.Records += int64(e.count)
		st.Bytes += int64(e.bytes)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// snapshots counts the open read snapshots and finds the oldest one's
// generation, leaving out one snapshot at generation own (the caller's).
func (db *DB) snapshots(own uint64) (count int, oldest uint64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	for gen, n := range db.readers {
		if gen == own {
			n--
		}
		if n > 0 {
			count += n
			if oldest == 0 || gen < oldest {
				oldest = gen
			}
		}
	}
	return count, oldest
}
