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
	KeySlots   []KeySlot
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
