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
	// shrinkNodeBytes bounds the tree nodes (and other live pages) past
	// the limit one Shrink moves: they are held in memory until it commits.
	shrinkNodeBytes = 32 << 20
	// shrinkChainBytes bounds the value chains one Shrink copies (whole:
	// a chain moves when any page of it lies past the limit). They are
	// streamed, but take time; a chain that does not fit stays, and the
	// file is cut after it instead.
	shrinkChainBytes = 64 << 20
	// Close shrinks the file when at least 1/closeShrinkShare of it is
	// free and at least closeShrinkMin bytes can be given back.
	closeShrinkShare = 20
	closeShrinkMin   = 1 << 20
	// shrinkTries is how many times Shrink aims at a page count, each time
	// keeping more free pages below it for the pages it rewrites there,
	// before it gives up for want of room (freelist.ErrNoRoom).
	shrinkTries = 3
)

// Shrink gives free space at the end of the file back to the file system.
// In one commit it moves the live pages nearest the end of the file into
// free pages further down — at most 32 MiB of tree nodes and 64 MiB of
// values per call — then commits twice more with nothing to change, to cut
// the end off: the file keeps the pages the previous commit needs until
// the next one (FORMAT.md §9.1). It reads every page of the directory and
// list trees, as a scan of every list does, to find what lives at the end.
// A value that does not fit those bounds, or the free runs further down
// (a value's pages stay in runs), stays where it is, and the file is cut
// after it. Each call gives back what it can; call it again to go on.
//
// It does nothing while a read snapshot is open, in this process or
// another: the pages it would move must stay where they are for that
// snapshot. Close calls it after a write transaction when at least 1/20 of
// the file is free and 1 MiB can be given back, unless
// Options.KeepFreeSpace is set. Like Update, it waits for the open read-write transaction to end.
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
		if err := db.giveBackTail(); err != nil {
			return 0, err
		}
		return before - min(before, db.p.Meta().PageCount), nil
	}
	return 0, nil
}

// giveBackTail commits twice with nothing to change: the first gives the
// free end of the file back (its page count drops), the second lets the
// file be cut to it. The first writes a checkpoint of the free set
// whatever its size: only a checkpoint lowers the page count, and the free
// set of a fragmented file may take more pages than the end gives back.
func (db *DB) giveBackTail() error {
	tx, err := db.Begin(true)
	if err != nil {
		return err
	}
	db.fl.Checkpoint()
	if err := tx.Commit(); err != nil {
		return err
	}
	return db.Update(func(*Tx) error { return nil })
}

// moveTail commits a transaction that moves every live page at or past a
// limit below it, if the limit ends at least minGain pages below the end.
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
	// one branch for every 64 nodes in use), the leaves whose chains move,
	// and writes a checkpoint of the free set (a page per few hundred runs).
	reserve := ((end-free)/64 + free/256 + 4) * reserveMul
	pageSize := uint64(tx.w.p.PageSize())
	limit := db.fl.ShrinkTarget(reserve, shrinkNodeBytes/pageSize)
	if end-limit < minGain {
		return false, nil
	}
	mv := &mover{w: tx.w, fl: db.fl, limit: limit, slack: reserveMul, budget: int64(shrinkChainBytes / pageSize)}
	db.fl.Limit(limit)
	if err := tx.relocate(mv); err != nil {
		return false, err
	}
	if mv.limit >= end || end-mv.limit < minGain {
		return false, nil // values that could not move kept too much of the end
	}
	return true, tx.commitEnd()
}

// snapshotsOpen reports whether a read snapshot is open in this process or
// another (FORMAT.md §9.5), at any generation up to the current one.
func (db *DB) snapshotsOpen() (bool, error) {
	db.mu.Lock()
	for _, n := range db.readers {
		if n > 0 {
			db.mu.Unlock()
			return true, nil
		}
	}
	db.mu.Unlock()
	// OldestForeignSnapshot looks below its argument.
	_, found, err := db.p.OldestForeignSnapshot(db.p.Meta().Gen + 1)
	return found, err
}

// mover decides what one Shrink moves. Every tree node at or past the
// limit moves (ShrinkTarget kept room for them below it). A value chain
// with a page there moves whole if it fits the budget and leaves the room
// the nodes still need (a chain mostly below the limit takes more room than
// was planned for it); else the limit rises past the chain, which stays.
// The limit only rises, so what moved earlier stays below it.
type mover struct {
	w      *txWriter
	fl     *freelist.Freelist
	limit  uint64
	slack  uint64 // multiplies the room kept for the rewritten parents (moveTail's reserveMul)
	budget int64  // chain pages that may still be copied
}

// value is Relocate's fix for a list tree's record cells.
func (m *mover) value(cell []byte) ([]byte, error) {
	runs, err := record.Runs(m.w, cell)
	if err != nil {
		return nil, err
	}
	var pages, above, end uint64
	for _, r := range runs {
		last := r.First + uint64(r.Pages)
		pages, end = pages+uint64(r.Pages), max(end, last)
		if last > m.limit {
			above += last - max(r.First, m.limit)
		}
	}
	if end <= m.limit {
		return nil, nil
	}
	if int64(pages) <= m.budget {
		// The pages still to move past the limit need one each below it,
		// and the parents they rewrite a few more (too few is found out
		// as ErrNoRoom, and Shrink tries again with more slack).
		below, toMove := m.fl.Room()
		need := toMove - min(toMove, above)
		if below >= pages && below-pages >= need+need/32+2*m.slack {
			moved, err := record.Move(m.w, cell, m.limit)
			if err == nil {
				m.budget -= int64(pages)
				return moved, nil
			}
			if !errors.Is(err, freelist.ErrNoRoom) {
				return nil, err
			}
		}
	}
	m.limit = end
	m.fl.Limit(end)
	return nil, nil
}

// relocate moves every page of the state at or past m's limit: the
// directory tree's nodes, and through each list entry its list tree's nodes
// and value chains. Each list tree is written out as soon as it is done, so
// the transaction holds one list's moved nodes at a time.
func (tx *Tx) relocate(m *mover) error {
	limit := func() uint64 { return m.limit }
	moveList := func(v []byte) ([]byte, error) {
		e, err := decodeListEntry(v)
		if err != nil || e.root.IsZero() {
			return nil, err
		}
		t := dirtree.OpenWritable(tx.w, e.root)
		if err := t.Relocate(limit, m.value); err != nil {
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
