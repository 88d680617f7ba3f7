package scdb

import (
	"context"
	"iter"
	"sync"
	"time"
)

// Follow yields the records of list with ids > after, in id order, then
// waits for commits and yields the records they add past the last one
// yielded, until ctx is done; it then ends without an error (check
// ctx.Err()). It suits a queue or event log written with Append, whose ids
// only grow: a record put later under an id at or below the last one
// yielded is not seen. Pass the last id handled to resume; "" starts at the
// beginning (an empty id, which Append never gives, is skipped).
//
// In a writable DB waiting costs nothing: a commit through this *DB wakes
// the loop, nothing polls. A read-only DB follows a writer in another
// process by reading the file's two meta pages every FollowPoll, which
// decrypts two pages and reads nothing else until the generation moves.
// Each *Record is valid for its loop step only. A damaged page or a closed
// database ends the loop with an error.
func (db *DB) Follow(ctx context.Context, list, after string) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		pos := after
		for ctx.Err() == nil {
			// Subscribe before the snapshot: a commit after it wakes us.
			committed := db.commits.wait()
			var more bool
			var gen uint64
			if pos, gen, more = db.followOnce(ctx, list, pos, yield); !more {
				return
			}
			if db.fl == nil {
				db.waitForeignCommit(ctx, committed, gen)
				continue
			}
			select {
			case <-ctx.Done():
			case <-committed:
			}
		}
	}
}

// FollowPoll is how often Follow on a read-only DB looks at the meta pages
// for a commit made by another process.
const FollowPoll = 20 * time.Millisecond

// waitForeignCommit waits until the file's generation passes seen (the one
// the last snapshot read), the file is replaced at its path, ctx ends or the
// DB closes. The next snapshot reports a replaced file (ErrReplaced).
func (db *DB) waitForeignCommit(ctx context.Context, closed <-chan struct{}, seen uint64) {
	tick := time.NewTicker(FollowPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-closed:
			return
		case <-tick.C:
			if m, err := db.p.Refresh(); err != nil || m.Gen != seen || db.p.ReplacedAt(db.name) {
				return // an error shows in the next snapshot
			}
		}
	}
}

// followOnce yields the records after pos in one snapshot and returns the
// last id yielded, the snapshot's generation, and whether to go on waiting.
func (db *DB) followOnce(ctx context.Context, list, pos string, yield func(*Record, error) bool) (string, uint64, bool) {
	var gen uint64
	snapshot := func(tx *Tx) iter.Seq2[*Record, error] {
		gen = tx.Generation()
		return tx.List(list).After(pos)
	}
	for rec, err := range db.loop(snapshot) {
		if ctx.Err() != nil {
			return pos, gen, false
		}
		if !yield(rec, err) || err != nil {
			return pos, gen, false
		}
		pos = rec.id
	}
	return pos, gen, true
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
