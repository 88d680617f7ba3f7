package scdb

import (
	"context"
	"iter"
	"sync"
)

// Follow yields the records of list with ids > after, in id order, then
// waits for commits and yields the records they add past the last one
// yielded, until ctx is done; it then ends without an error (check
// ctx.Err()). It suits a queue or event log written with Append, whose ids
// only grow: a record put later under an id at or below the last one
// yielded is not seen. Pass the last id handled to resume; "" starts at the
// beginning (an empty id, which Append never gives, is skipped).
//
// Waiting costs nothing: a commit in this process wakes the loop, nothing
// polls. Each *Record is valid for its loop step only. A damaged page or a
// closed database ends the loop with an error.
//
// Only commits made through this *DB wake Follow. Another process cannot
// follow the file today: a writer holds it locked exclusively, so a reader
// in another process can open it (ReadOnly, with Options.LockTimeout to
// wait) only between the writer's sessions, and must then poll
// db.Generation or the list by reopening.
func (db *DB) Follow(ctx context.Context, list, after string) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		pos := after
		for ctx.Err() == nil {
			// Subscribe before the snapshot: a commit after it wakes us.
			committed := db.commits.wait()
			var more bool
			if pos, more = db.followOnce(ctx, list, pos, yield); !more {
				return
			}
			select {
			case <-ctx.Done():
			case <-committed:
			}
		}
	}
}

// followOnce yields the records after pos in one snapshot and returns the
// last id yielded, and whether to go on waiting.
func (db *DB) followOnce(ctx context.Context, list, pos string, yield func(*Record, error) bool) (string, bool) {
	for rec, err := range db.loop(func(tx *Tx) iter.Seq2[*Record, error] { return tx.List(list).After(pos) }) {
		if ctx.Err() != nil {
			return pos, false
		}
		if !yield(rec, err) || err != nil {
			return pos, false
		}
		pos = rec.id
	}
	return pos, true
}

// notifier wakes every waiter at once: wait returns a channel that the
// next broadcast closes.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) broadcast() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}
