package scdb

import (
	"errors"

	"github.com/streamcrypt/scdb/dirtree"
	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/record"
)

// Shrinking. Updates and deletes leave free pages scattered through the
// file; later writes reuse them, but the file never gets smaller by itself,
// and a copy-on-write commit needs room for its new pages while the old ones
// are still live, so even a file under steady updates holds a commit's worth
// of free pages at rest. Shrink moves the live pages nearest the end of the
// file into free pages further down and gives the end back.

const (
	// shrinkMoveBytes bounds the live pages one Shrink moves, and so the
	// tree nodes it holds in memory and what it writes; a file with more
	// to give back shrinks further at the next call.
	shrinkMoveBytes = 32 << 20
	// Close shrinks the file when at least 1/closeShrinkShare of it, and
	// at least closeShrinkMin bytes, can be given back.
	closeShrinkShare = 20
	closeShrinkMin   = 1 << 20
	// shrinkTries is how many times Shrink aims at a page count, each time
	// keeping more free pages below it for the pages it rewrites there,
	// before it gives up for want of room (freelist.ErrNoRoom).
	shrinkTries = 3
)

// Shrink gives free space at the end of the file back to the file system.
// In one commit it moves the live pages nearest the end of the file (at
// most 32 MiB of them) into free pages further down, then commits twice
// more with nothing to change, to cut the end off: the file keeps the pages
// the previous commit needs until the next one (FORMAT.md §9.1). It reads
// every page of the directory and list trees, as a scan of every list
// does, to find what lives at the end.
//
// It does nothing while a read snapshot is open, in this process or
// another: the pages it would move must stay where they are for that
// snapshot. Close calls it when at least 1/20 of the file can be given
// back, unless Options.KeepFreeSpace is set. Like Update, it waits for the
// open read-write transaction to end.
func (db *DB) Shrink() error {
	_, err := db.shrink(1)
	return err
}

// shrink moves live pages off the end of the file and gives the end back
// when at least minGain pages can go. It returns the pages given back.
func (db *DB) shrink(minGain uint64) (uint64, error) {
	before := db.p.Meta().PageCount
	for try := range shrinkTries {
		moved, err := db.moveTail(minGain, uint64(1)<<(2*try))
		if errors.Is(err, freelist.ErrNoRoom) {
			continue // the pages rewritten below the limit took more room than kept
		}
		if err != nil || !moved {
			return 0, err
		}
		// The first empty commit gives the free end back (its page count
		// drops), the second lets the file be cut to it.
		for range 2 {
			if err := db.Update(func(*Tx) error { return nil }); err != nil {
				return 0, err
			}
		}
		return before - min(before, db.p.Meta().PageCount), nil
	}
	return 0, nil
}

// moveTail commits a transaction that moves every live page at or past a
// limit below it, if the limit is at least minGain pages below the end.
// The pages reserved below the limit for the nodes it rewrites there grow
// with reserveMul. moved is false when nothing was committed.
func (db *DB) moveTail(minGain, reserveMul uint64) (moved bool, err error) {
	tx, err := db.Begin(true)
	if err != nil {
		return false, err
	}
	defer tx.release()
	if open, err := db.snapshotsOpen(); err != nil || open {
		return false, err
	}
	end := db.fl.PageCount()
	free, _ := db.fl.Reusable()
	// Below the limit, the move rewrites the parents of moved nodes (about
	// one branch per 64 pages), the leaves whose chains move, and writes a
	// checkpoint of the free set (a page per few hundred runs).
	reserve := ((end-free)/64 + free/256 + 4) * reserveMul
	maxMove := uint64(shrinkMoveBytes / tx.w.p.PageSize())
	limit := db.fl.ShrinkTarget(reserve, maxMove)
	if end-limit < minGain {
		return false, nil
	}
	db.fl.Limit(limit)
	if err := tx.relocate(limit); err != nil {
		return false, err
	}
	return true, tx.commitEnd()
}

// snapshotsOpen reports whether a read snapshot is open in this process or
// another (FORMAT.md §9.5).
func (db *DB) snapshotsOpen() (bool, error) {
	db.mu.Lock()
	for _, n := range db.readers {
		if n > 0 {
			db.mu.Unlock()
			return true, nil
		}
	}
	db.mu.Unlock()
	_, found, err := db.p.OldestForeignSnapshot(db.p.Meta().Gen)
	return found, err
}

// relocate moves every page of the state at or past limit: the directory
// tree's nodes, and through each list entry its list tree's nodes and value
// chains. Each list tree is written out as soon as it is done, so the
// transaction holds one list's moved nodes at a time.
func (tx *Tx) relocate(limit uint64) error {
	moveValue := func(cell []byte) ([]byte, error) { return record.Move(tx.w, cell, limit) }
	moveList := func(v []byte) ([]byte, error) {
		e, err := decodeListEntry(v)
		if err != nil || e.root.IsZero() {
			return nil, err
		}
		t := dirtree.OpenWritable(tx.w, e.root)
		if err := t.Relocate(limit, moveValue); err != nil {
			return nil, err
		}
		root, err := t.Flush()
		if err != nil || root == e.root {
			return nil, err
		}
		if err := t.Spill(); err != nil {
			return nil, err
		}
		e.root = root
		return e.encode(), nil
	}
	return tx.dir.Relocate(limit, moveList)
}
