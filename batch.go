package scdb

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// maxBatchCalls bounds the functions one Batch commit runs, so that one
// slow batch does not grow without end while writers keep arriving.
const maxBatchCalls = 1000

// Batch runs fn in a read-write transaction shared with other goroutines'
// concurrent Batch calls, and returns when that transaction has committed:
// many small concurrent writers then pay for one durable commit (one
// fsync) between them instead of one each.
//
// The first caller to find no batch waiting becomes its leader: it waits
// for the writer lock while later callers join, then runs every function
// of the batch in one transaction and commits. A caller that finds no
// other writer pays nothing extra: with no contention, Batch is Update.
//
// fn may run more than once: if it returns an error (or panics), the
// batch's transaction is rolled back, the other functions run again
// without it, and it is then run alone, as by Update, whose result Batch
// returns. So fn must leave no trace outside the transaction that a second
// run would duplicate, and must not depend on running after another
// caller's fn. Like Update, fn must not call Commit or Rollback
// (ErrTxManaged), nor Update, Batch or Begin(true) (deadlock).
func (db *DB) Batch(fn func(tx *Tx) error) error {
	errc := make(chan error, 1)
	b, leader := db.batch.join(batchCall{fn, errc})
	if leader {
		b.run(db)
	}
	err := <-errc
	if errors.Is(err, errRunAlone) {
		return db.Update(fn)
	}
	return err
}

// errRunAlone tells a Batch caller that its function failed inside the
// batch and must be run in a transaction of its own.
var errRunAlone = errors.New("scdb: batch function failed: run it alone")

type batchCall struct {
	fn   func(*Tx) error
	errc chan<- error // receives the call's result, once
}

// batcher holds the batch that callers join until its leader takes it.
type batcher struct {
	mu      sync.Mutex
	pending *batch
}

type batch struct{ calls []batchCall }

// join adds c to the waiting batch, or starts one with the caller as its
// leader.
func (bt *batcher) join(c batchCall) (b *batch, leader bool) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.pending == nil || len(bt.pending.calls) >= maxBatchCalls {
		bt.pending, leader = &batch{}, true
	}
	bt.pending.calls = append(bt.pending.calls, c)
	return bt.pending, leader
}

// take closes b to newcomers, who start the next batch, and returns its
// calls.
func (bt *batcher) take(b *batch) []batchCall {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.pending == b {
		bt.pending = nil
	}
	return b.calls
}

// run commits the batch, dropping failing calls (they run alone) until
// the rest commit together or the commit itself fails.
func (b *batch) run(db *DB) {
	var calls []batchCall
	taken := false
	for {
		failed := -1
		err := db.Update(func(tx *Tx) error {
			if !taken {
				// Holding the writer lock: whoever joined while the
				// leader waited for it is in.
				calls, taken = db.batch.take(b), true
			}
			for i, c := range calls {
				if err := callSafely(c.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			calls[failed].errc <- errRunAlone
			if calls = slices.Delete(calls, failed, failed+1); len(calls) > 0 {
				continue
			}
			return
		}
		if !taken { // Update failed before running fn: closed
			calls = db.batch.take(b)
		}
		for _, c := range calls {
			c.errc <- err
		}
		return
	}
}

// callSafely runs fn, turning a panic into an error: the panic is raised
// again in the caller's own goroutine when its fn runs alone.
func callSafely(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("scdb: Batch function panicked: %v", p)
		}
	}()
	return fn(tx)
}
