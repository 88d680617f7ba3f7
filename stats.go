package scdb

import (
	"fmt"
	"math"
	mathbits "math/bits"

	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/pager"
	"github.com/streamcrypt/scdb/record"
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
	// OldestOtherSnapshot is the generation the oldest snapshot of another
	// open of the file reads (a read-only DB in another process, Linux);
	// 0 when there is none. It holds back space like OldestSnapshot.
	OldestOtherSnapshot uint64
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
	other, found, err := db.p.OldestForeignSnapshot(tx.meta.Gen + 1)
	if err != nil {
		return nil, err
	}
	if found {
		st.OldestOtherSnapshot = other
	}
	err = freelist.Walk(db.p, tx.meta, func(pager.Ref) {}, func(_, n uint64) error {
		st.FreePages += n
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := tx.dir.Cursor()
	defer c.Close()
	k, v, ok, err := c.First()
	var records, bytes uint64
	for ; ok && err == nil; k, v, ok, err = c.Next() {
		e, err := decodeListEntry(v)
		if err == nil {
			err = plausibleEntry(e, tx.meta.PageCount, db.p.PayloadSize())
		}
		if err != nil {
			return nil, fmt.Errorf("list %q: %w", k, err)
		}
		if e.count > 0 {
			st.Lists++
		}
		var carry1, carry2 uint64
		records, carry1 = mathbits.Add64(records, e.count, 0)
		bytes, carry2 = mathbits.Add64(bytes, e.bytes, 0)
		if carry1|carry2 != 0 || records > math.MaxInt64 || bytes > math.MaxInt64 {
			return nil, fmt.Errorf("%w: list entries add up to more than 2^63 records or bytes", ErrCorrupt)
		}
	}
	if err != nil {
		return nil, err
	}
	st.Records, st.Bytes = int64(records), int64(bytes)
	return st, nil
}

// minCellBytes is the least a record takes in a leaf: its slot (2), key and
// value lengths (4), an empty id and a one-byte inline cell.
const minCellBytes = 7

// plausibleEntry checks the counts of a list entry, which Stats takes on
// trust without reading the list's tree, against what the file can hold: no
// more records than its pages have room for, no more bytes than that many
// records of the largest size. Check compares them with the tree itself.
func plausibleEntry(e listEntry, pageCount uint64, payloadSize int) error {
	hiR, maxRecords := mathbits.Mul64(pageCount, uint64(payloadSize/minCellBytes))
	hiB, maxBytes := mathbits.Mul64(e.count, record.MaxSize)
	if (hiR == 0 && e.count > maxRecords) || (hiB == 0 && e.bytes > maxBytes) {
		return fmt.Errorf("%w: entry claims %d records of %d bytes in all, more than a file of %d pages holds",
			ErrCorrupt, e.count, e.bytes, pageCount)
	}
	return nil
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
