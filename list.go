package scdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/streamcrypt/scdb/dirtree"
	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
	"github.com/streamcrypt/scdb/record"
)

// List is a handle on one named list within a transaction.
type List struct {
	tx   *Tx
	name string
}

// listEntry is a list's record in the directory tree (FORMAT.md §10.2):
// count u64, byte total u64, next Append sequence u64, root Ref. An entry
// with no records is kept while its Append sequence is in use, so that ids
// Append gives keep increasing after the list was emptied by Delete; such an
// entry is not a list.
type listEntry struct {
	count uint64 // records in the list
	bytes uint64 // sum of the records' value sizes
	seq   uint64 // the next Append id's number
	root  pager.Ref
}

const listEntrySize = 24 + pager.RefSize

func (e listEntry) encode() []byte {
	b := make([]byte, listEntrySize)
	binary.LittleEndian.PutUint64(b, e.count)
	binary.LittleEndian.PutUint64(b[8:], e.bytes)
	binary.LittleEndian.PutUint64(b[16:], e.seq)
	pager.PutRef(b[24:], e.root)
	return b
}

func decodeListEntry(b []byte) (listEntry, error) {
	if len(b) != listEntrySize {
		return listEntry{}, fmt.Errorf("%w: list entry of %d bytes", errs.ErrCorrupt, len(b))
	}
	e := listEntry{
		count: binary.LittleEndian.Uint64(b),
		bytes: binary.LittleEndian.Uint64(b[8:]),
		seq:   binary.LittleEndian.Uint64(b[16:]),
		root:  pager.GetRef(b[24:]),
	}
	// A zero root is "no tree" only with generation 0 (FORMAT.md §6.2).
	zeroRoot := e.root == pager.Ref{}
	if e.count > 0 && !e.root.IsZero() || e.count == 0 && zeroRoot && e.bytes == 0 && e.seq > 0 {
		return e, nil
	}
	return listEntry{}, fmt.Errorf("%w: list entry with %d records, %d bytes, Append number %d and root %v",
		errs.ErrCorrupt, e.count, e.bytes, e.seq, e.root)
}

// kept reports whether the entry belongs in the directory: the list has
// records, or its Append sequence must survive.
func (e listEntry) kept() bool { return e.count > 0 || e.seq > 0 }

// MaxIDSize returns the longest list name or record id, in bytes, for a
// file of the given page size: 301 at 1 KiB pages, 1325 at the default 4 KiB
// pages, more at larger pages.
func MaxIDSize(pageSize int) int { return dirtree.MaxKey(pageSize - 40) }

// MaxValueSize is the largest value a record may hold: 2^40 bytes.
const MaxValueSize = record.MaxSize

func checkName(payload int, name string) error {
	if max := dirtree.MaxKey(payload); len(name) > max {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(name), max)
	}
	return nil
}

// state returns the list's state in the transaction.
func (l *List) state() (*listState, error) {
	if err := l.tx.check(); err != nil {
		return nil, err
	}
	return l.tx.list(l.name)
}

func (l *List) writeState(id string) (*listState, error) {
	if err := l.tx.checkWrite(); err != nil {
		return nil, err
	}
	if err := checkName(l.tx.rd.PayloadSize(), id); err != nil {
		return nil, fmt.Errorf("list %q: id: %w", l.name, err)
	}
	ls, err := l.tx.list(l.name)
	if err != nil {
		return nil, fmt.Errorf("list %q: name: %w", l.name, err)
	}
	return ls, nil
}

// Name returns the list's name.
func (l *List) Name() string { return l.name }

// Put stores value under id, replacing the record id had.
func (l *List) Put(id string, value []byte) error {
	ls, err := l.writeState(id)
	if err != nil {
		return err
	}
	cell, err := record.Put(l.tx.w, value, l.maxInline(id))
	if err != nil {
		return fmt.Errorf("list %q id %q: %w", l.name, id, err)
	}
	return l.store(ls, id, cell, int64(len(value)))
}

// PutReader stores the bytes read from r, up to EOF, under id. The value is
// streamed to the file page by page, so it may be larger than memory.
func (l *List) PutReader(id string, r io.Reader) error {
	ls, err := l.writeState(id)
	if err != nil {
		return err
	}
	cell, size, err := record.PutReader(l.tx.w, r, l.maxInline(id))
	if err != nil {
		return fmt.Errorf("list %q id %q: %w", l.name, id, err)
	}
	return l.store(ls, id, cell, size)
}

// maxInline is the largest value stored in the tree beside id: what fits in
// the largest tree value after the cell's tag byte.
func (l *List) maxInline(id string) int {
	return dirtree.MaxValue(l.tx.w.PayloadSize(), len(id)) - 1
}

// store points id at cell, freeing the value it replaces.
func (l *List) store(ls *listState, id string, cell []byte, size int64) error {
	old, replaced, err := ls.tree.Put([]byte(id), cell)
	if err != nil {
		record.Free(l.tx.w, cell)
		return fmt.Errorf("list %q id %q: %w", l.name, id, err)
	}
	if replaced {
		if err := l.dropValue(ls, old); err != nil {
			return err
		}
	} else {
		ls.entry.count++
	}
	ls.entry.bytes += uint64(size)
	ls.dirty = true
	return l.tx.maybeSpill()
}

// dropValue frees an old value's pages and takes its size off the total.
func (l *List) dropValue(ls *listState, cell []byte) error {
	size, err := record.Size(cell)
	if err != nil {
		return fmt.Errorf("list %q: %w", l.name, err)
	}
	ls.entry.bytes -= uint64(size)
	return record.Free(l.tx.w, cell)
}

// Append stores value under a new id that sorts after every id Append gave
// before in this list (16 hex digits), and returns the id. The sequence
// survives the list being emptied by Delete; DeleteList resets it.
func (l *List) Append(value []byte) (string, error) {
	ls, err := l.writeState("")
	if err != nil {
		return "", err
	}
	for {
		id := fmt.Sprintf("%016x", ls.entry.seq)
		ls.entry.seq++
		// An id Put by the application may already sit there: never
		// overwrite it.
		_, taken, err := ls.tree.Get([]byte(id))
		if err != nil {
			return "", err
		}
		if !taken {
			return id, l.Put(id, value)
		}
	}
}

// Get returns the value of id, or an error wrapping ErrNotFound.
func (l *List) Get(id string) ([]byte, error) {
	ls, err := l.state()
	if err != nil {
		return nil, err
	}
	cell, ok, err := ls.tree.Get([]byte(id))
	if err != nil {
		return nil, fmt.Errorf("list %q id %q: %w", l.name, id, err)
	}
	if !ok {
		return nil, fmt.Errorf("list %q id %q: %w", l.name, id, ErrNotFound)
	}
	// The cell is valid until the next call on the tree; Value copies it
	// or reads the chain it names, which does not use the tree.
	v, err := record.Value(l.tx.rd, cell)
	if err != nil {
		return nil, fmt.Errorf("list %q id %q: %w", l.name, id, err)
	}
	return v, nil
}

// Open returns the record id for streaming its value with Reader. The
// record is valid until the transaction ends.
func (l *List) Open(id string) (*Record, error) {
	ls, err := l.state()
	if err != nil {
		return nil, err
	}
	cell, ok, err := ls.tree.Get([]byte(id))
	if err != nil {
		return nil, fmt.Errorf("list %q id %q: %w", l.name, id, err)
	}
	if !ok {
		return nil, fmt.Errorf("list %q id %q: %w", l.name, id, ErrNotFound)
	}
	rec, err := newRecord(l.tx, []byte(id), cell)
	if err != nil {
		return nil, fmt.Errorf("list %q id %q: %w", l.name, id, err)
	}
	return rec, nil
}

// Delete removes id, or returns an error wrapping ErrNotFound.
func (l *List) Delete(id string) error {
	ls, err := l.writeState(id)
	if err != nil {
		return err
	}
	old, ok, err := ls.tree.Delete([]byte(id))
	if err != nil {
		return fmt.Errorf("list %q id %q: %w", l.name, id, err)
	}
	if !ok {
		return fmt.Errorf("list %q id %q: %w", l.name, id, ErrNotFound)
	}
	ls.entry.count--
	ls.dirty = true
	return l.dropValue(ls, old)
}

// Len returns the number of records in the list, in O(1). It returns 0,
// indistinguishable from an empty list, once the transaction has ended or
// when the directory entry cannot be read; db.Len reports those errors.
func (l *List) Len() int64 {
	ls, err := l.state()
	if err != nil {
		return 0
	}
	return int64(ls.entry.count)
}

// Bytes returns the total size of the list's values, in O(1). Like Len, it
// returns 0 once the transaction has ended; db.Len reports the error.
func (l *List) Bytes() int64 {
	ls, err := l.state()
	if err != nil {
		return 0
	}
	return int64(ls.entry.bytes)
}

// Record is one record read from a list: a value of its own, which stays
// valid until its transaction ends (a record from db.Records or Follow: for
// its loop step), then fails with ErrTxDone.
type Record struct {
	tx   *Tx
	id   string
	cell []byte // owned: never a slice of a tree page; nil once Value gave it away (see give)
	size int64
	loop bool // from a loop that owns its snapshot (db.Records, Follow)
	// give is set when cell is an inline cell copied for this record alone,
	// in a read-only snapshot: the first Value returns the value bytes of
	// cell itself instead of a second copy, and a later call reads the cell
	// again from the snapshot (root is the list's tree), which cannot have
	// changed. A scan then copies each value once, not twice.
	give bool
	root pager.Ref
	slot *record.Slot // the value read ahead by the loop (iterate.go), or nil
}

// newRecord copies id and cell, which may belong to a tree page that the
// next cursor step reuses.
func newRecord(tx *Tx, id, cell []byte) (*Record, error) {
	size, err := record.Size(cell)
	if err != nil {
		return nil, err
	}
	return &Record{tx: tx, id: string(id), cell: bytes.Clone(cell), size: size}, nil
}

// check reports whether the record can still be read, saying why not in
// the words of the API the record came from.
func (r *Record) check() error {
	err := r.tx.check()
	if err != nil && r.loop {
		return fmt.Errorf("record %q used after its loop step (its snapshot ended with the step; copy what you keep): %w", r.id, err)
	}
	return err
}

// ID returns the record's id.
func (r *Record) ID() string { return r.id }

// Size returns the length of the record's value in bytes.
func (r *Record) Size() int64 { return r.size }

// Value returns a copy of the whole value. For values too large to hold in
// memory use Reader.
func (r *Record) Value() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if r.give {
		v := r.cell[1:len(r.cell):len(r.cell)]
		r.cell, r.give = nil, false
		return v, nil
	}
	if v, ok := r.slot.Take(); ok {
		if int64(len(*v)) == r.size {
			return *v, nil
		}
		record.Release(v)
	}
	cell, err := r.cellBytes()
	if err != nil {
		return nil, err
	}
	return record.Value(r.tx.rd, cell)
}

// cellBytes returns the record's cell, reading it again from the snapshot
// if Value gave the record's copy away.
func (r *Record) cellBytes() ([]byte, error) {
	if r.cell != nil {
		return r.cell, nil
	}
	cell, ok, err := dirtree.Open(r.tx.rd, r.root).Get([]byte(r.id))
	if err != nil {
		return nil, fmt.Errorf("record %q: %w", r.id, err)
	}
	if !ok {
		return nil, errs.Corrupt(r.root.Page, "record %q is gone from its snapshot", r.id)
	}
	if size, err := record.Size(cell); err != nil || size != r.size {
		return nil, errs.Corrupt(r.root.Page, "record %q changed within its snapshot", r.id)
	}
	r.cell = bytes.Clone(cell)
	return r.cell, nil
}
