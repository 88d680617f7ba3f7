package scdb

import (
	"bytes"
	"fmt"
	"iter"

	"github.com/streamcrypt/scdb/dirtree"
	"github.com/streamcrypt/scdb/pager"
	"github.com/streamcrypt/scdb/record"
)

// Iteration over a list. Every iterator yields a fresh *Record per step,
// which stays valid until the transaction ends: keeping one is safe. The
// loop ends with an error (yielded once, with a nil record) if a page is
// damaged or the transaction ends mid-loop; a loop written with one
// variable, for rec := range l.All(), never sees that error, so always take
// both.

// cursorStep positions a cursor (the first call) or moves it (every later
// call); it is a dirtree.Cursor method, or a small wrapper of one.
type cursorStep func(c *dirtree.Cursor) (key, val []byte, ok bool, err error)

// All yields the list's records in id byte order.
func (l *List) All() iter.Seq2[*Record, error] {
	return l.scan((*dirtree.Cursor).First, (*dirtree.Cursor).Next, nil, true)
}

// From yields the list's records in id byte order, starting at the first id
// >= id.
func (l *List) From(id string) iter.Seq2[*Record, error] {
	return l.scan(seek(id, false), (*dirtree.Cursor).Next, nil, true)
}

// After yields the list's records in id byte order, starting at the first
// id > id: where a consumer that saved the last id it handled resumes.
func (l *List) After(id string) iter.Seq2[*Record, error] {
	return l.scan(seek(id, true), (*dirtree.Cursor).Next, nil, true)
}

// Prefix yields the records whose id starts with prefix, in id byte order.
func (l *List) Prefix(prefix string) iter.Seq2[*Record, error] {
	p := []byte(prefix)
	return l.scan(seek(prefix, false), (*dirtree.Cursor).Next, func(k []byte) bool { return bytes.HasPrefix(k, p) }, true)
}

// Reverse yields the list's records in decreasing id byte order: the
// newest first, for ids from Append. Reading the last n costs O(n + log N),
// not a scan of the list.
func (l *List) Reverse() iter.Seq2[*Record, error] {
	return l.scan((*dirtree.Cursor).Last, (*dirtree.Cursor).Prev, nil, false)
}

// Before yields the list's records with ids < id, in decreasing id byte
// order.
func (l *List) Before(id string) iter.Seq2[*Record, error] {
	return l.scan(seekLast(id, true), (*dirtree.Cursor).Prev, nil, false)
}

// Last returns the record with the greatest id, or an error wrapping
// ErrNotFound if the list is empty.
func (l *List) Last() (*Record, error) {
	for rec, err := range l.Reverse() {
		return rec, err
	}
	return nil, fmt.Errorf("list %q: %w", l.name, ErrNotFound)
}

// Each calls fn for every record of the list in id byte order, with the
// record's id and whole value in buffers that Each reuses: they are valid
// only until fn returns (fn may change them; copy what you keep). It is the
// fast way through a list whose values fit in memory, allocating nothing
// per record whose value lives in its leaf (a few small allocations for a
// value in a chain), where All yields a Record that owns its id and value
// (and reads a large value only when asked). The value buffer grows to the
// largest value met; a value decrypted ahead is lent where it was decrypted
// instead: a chain value in its own buffer (record.Ahead), a value in its
// leaf in the scan's private copy of the leaf (dirtree.Cursor.Owned), so a
// read-only scan copies neither. Each returns fn's first error as it is, or
// an error wrapping ErrCorrupt for a damaged page.
func (l *List) Each(fn func(id, value []byte) error) error {
	ls, err := l.state()
	if err != nil {
		return err
	}
	c := ls.tree.Cursor()
	defer c.Close()
	ahead, rest := l.ahead(c, true, nil)
	defer ahead.Close()
	var id, value []byte
	for k, cell, ok, err := c.First(); ; k, cell, ok, err = c.Next() {
		var lent *[]byte // a value read ahead, lent to fn as it is
		var v []byte     // what fn is handed
		if err == nil && ok {
			var got bool
			if lent, got = ahead.Next(cell, rest).Take(); got {
				v = *lent
			} else if v, got = record.Inline(cell); !got || !c.Owned() {
				value, err = record.AppendValue(value[:0], l.tx.rd, cell)
				v = value
			}
		}
		if err != nil {
			return fmt.Errorf("list %q: %w", l.name, err)
		}
		if !ok {
			return nil
		}
		id = append(id[:0], k...)
		err := fn(id, v)
		record.Release(lent)
		if err != nil {
			return err
		}
		if err := l.tx.check(); err != nil {
			return fmt.Errorf("list %q: %w", l.name, err)
		}
	}
}

// seek positions a cursor at the first key >= id, or > id when excl is set.
func seek(id string, excl bool) cursorStep {
	key := []byte(id)
	return func(c *dirtree.Cursor) ([]byte, []byte, bool, error) {
		k, v, ok, err := c.Seek(key)
		if ok && excl && bytes.Equal(k, key) {
			return c.Next()
		}
		return k, v, ok, err
	}
}

// seekLast positions a cursor at the last key <= id, or < id when excl is
// set.
func seekLast(id string, excl bool) cursorStep {
	key := []byte(id)
	return func(c *dirtree.Cursor) ([]byte, []byte, bool, error) {
		k, v, ok, err := c.SeekLast(key)
		if ok && excl && bytes.Equal(k, key) {
			return c.Prev()
		}
		return k, v, ok, err
	}
}

// scan yields records from the cursor positioned by start and moved by
// step, while within (nil: always) accepts the id. A forward scan of a
// read-only snapshot reads large values ahead (record.Ahead).
func (l *List) scan(start, step cursorStep, within func(id []byte) bool, forward bool) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		ls, err := l.state()
		if err != nil {
			yield(nil, err)
			return
		}
		c := ls.tree.Cursor()
		defer c.Close() // every record copied what it keeps
		ahead, rest := l.ahead(c, forward, within)
		defer ahead.Close()
		var ra recordAlloc
		k, v, ok, err := start(c)
		for ; ok && err == nil && (within == nil || within(k)); k, v, ok, err = step(c) {
			var rec *Record
			if rec, err = ra.record(l.tx, ls.entry.root, k, v); err != nil {
				break
			}
			if ahead != nil {
				rec.slot = ahead.Next(v, rest)
			}
			if !yield(rec, nil) {
				return
			}
			if err = l.tx.check(); err != nil {
				break
			}
		}
		if err != nil {
			yield(nil, fmt.Errorf("list %q: %w", l.name, err))
		}
	}
}

// ahead returns the value read-ahead of a scan on c, and the cells it may
// read ahead (those after the cursor's in its leaf that within accepts), or
// nil where there is none: backward, or in a write transaction, whose pages
// the loop body may change.
func (l *List) ahead(c *dirtree.Cursor, forward bool, within func(id []byte) bool) (*record.Ahead, func(func([]byte) bool)) {
	if !forward || l.tx.w != nil {
		return nil, nil
	}
	return record.NewAhead(l.tx.rd), func(yield func(cell []byte) bool) {
		c.Rest(func(k, v []byte) bool { return (within == nil || within(k)) && yield(v) })
	}
}

// recordAlloc hands out the Records of one loop from small slabs: a Record
// and its cell bytes cost a fraction of an allocation each instead of two.
// A Record kept after the loop keeps its slab (at most recordSlab Records
// and cellArena bytes) alive with it.
type recordAlloc struct {
	recs  []Record
	cells []byte
}

const (
	recordSlab = 32
	cellArena  = 8 << 10
)

// record is newRecord with slab allocation.
func (ra *recordAlloc) record(tx *Tx, root pager.Ref, id, cell []byte) (*Record, error) {
	size, err := record.Size(cell)
	if err != nil {
		return nil, err
	}
	if len(ra.recs) == 0 {
		ra.recs = make([]Record, recordSlab)
	}
	r := &ra.recs[0]
	ra.recs = ra.recs[1:]
	if tx.w == nil && len(cell) > 0 && cell[0] == record.TagInline {
		// An exact copy Value may give away (Record.give).
		*r = Record{tx: tx, id: string(id), cell: bytes.Clone(cell), size: size, give: true, root: root}
		return r, nil
	}
	var owned []byte
	if n := len(cell); n > cellArena/4 {
		owned = bytes.Clone(cell)
	} else {
		if cap(ra.cells)-len(ra.cells) < n {
			ra.cells = make([]byte, 0, cellArena)
		}
		at := len(ra.cells)
		ra.cells = append(ra.cells, cell...)
		owned = ra.cells[at:len(ra.cells):len(ra.cells)]
	}
	*r = Record{tx: tx, id: string(id), cell: owned, size: size}
	return r, nil
}

// From streams the records of list from the first id >= id, in id order,
// from a snapshot of its own, like Records.
func (db *DB) From(list, id string) iter.Seq2[*Record, error] {
	return db.loop(func(tx *Tx) iter.Seq2[*Record, error] { return tx.List(list).From(id) })
}

// Len returns the number of records in list (0 if it does not exist), in
// O(1), from a snapshot of its own.
func (db *DB) Len(list string) (int64, error) {
	var n int64
	err := db.View(func(tx *Tx) error {
		ls, err := tx.List(list).state()
		if err != nil {
			return fmt.Errorf("list %q: %w", list, err)
		}
		n = int64(ls.entry.count)
		return nil
	})
	return n, err
}

// loop runs the iterator seq makes in a read snapshot that lives as long as
// the loop; its records say, if used after their step, that the loop ended.
func (db *DB) loop(seq func(tx *Tx) iter.Seq2[*Record, error]) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		tx, err := db.Begin(false)
		if err != nil {
			yield(nil, err)
			return
		}
		defer tx.Rollback()
		for rec, err := range seq(tx) {
			if rec != nil {
				rec.loop = true
			}
			if !yield(rec, err) {
				return
			}
		}
	}
}
