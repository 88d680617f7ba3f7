package scdb_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/streamcrypt/scdb"
)

// Batch calls that arrive while another writer holds the lock commit
// together, in one transaction; a failing call is dropped from the batch,
// run alone, and its error returned to its caller only.
func TestBatchCoalesces(t *testing.T) {
	db := newDB(t)
	const n = 20
	boom := errors.New("boom")
	tx, err := db.Begin(true) // hold the writer lock while the batch fills
	if err != nil {
		t.Fatal(err)
	}
	gen := db.Generation()
	errs := make([]error, n)
	runs := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = db.Batch(func(tx *scdb.Tx) error {
				runs[i]++
				if err := tx.List("l").Put(fmt.Sprintf("%02d", i), []byte("v")); err != nil {
					return err
				}
				if i == 7 {
					return boom
				}
				return nil
			})
		})
	}
	waitFor(t, func() bool { return scdb.BatchWaiting(db) == n })
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 7) != errors.Is(err, boom) || i != 7 && err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	// One commit for the 19 that succeeded: the first attempt rolled back.
	if g := db.Generation(); g != gen+1 {
		t.Errorf("%d commits for one batch, want 1", g-gen)
	}
	if runs[7] != 2 {
		t.Errorf("the failing call ran %d times, want 2 (in the batch, then alone)", runs[7])
	}
	if n, err := db.Len("l"); n != 19 || err != nil {
		t.Errorf("list holds %d records (%v), want 19: the failing call's Put is not kept", n, err)
	}
}

// Many goroutines writing through Batch lose nothing and may share commits.
func TestBatchConcurrent(t *testing.T) {
	db := newDB(t)
	const goroutines, each = 8, 25
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				err := db.Batch(func(tx *scdb.Tx) error {
					return tx.List("l").Put(fmt.Sprintf("%d-%03d", g, i), fill(50, uint64(i)))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, err := db.Len("l"); n != goroutines*each || err != nil {
		t.Fatalf("list holds %d records (%v), want %d", n, err, goroutines*each)
	}
	if commits := db.Generation(); commits > goroutines*each+1 {
		t.Errorf("%d commits for %d calls", commits, goroutines*each)
	}
}

func TestBatchPanicRaisedInCaller(t *testing.T) {
	db := newDB(t)
	defer func() {
		if p := recover(); p != "bad fn" {
			t.Errorf("recovered %v, want the function's own panic", p)
		}
	}()
	db.Batch(func(*scdb.Tx) error { panic("bad fn") })
	t.Error("Batch returned after its function panicked")
}

func TestBatchManagedAndClosed(t *testing.T) {
	db := newDB(t)
	err := db.Batch(func(tx *scdb.Tx) error {
		if err := tx.Commit(); !errors.Is(err, scdb.ErrTxManaged) {
			t.Errorf("Commit inside Batch: %v, want ErrTxManaged", err)
		}
		return tx.List("l").Put("a", nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)
	if err := db.Batch(func(*scdb.Tx) error { return nil }); !errors.Is(err, scdb.ErrClosed) {
		t.Errorf("Batch after Close: %v, want ErrClosed", err)
	}
}

// BenchmarkBatch compares small concurrent writes committed one by one
// (Update) and grouped (Batch), with fsync: the metric is commits per
// write.
func BenchmarkBatch(b *testing.B) {
	for _, mode := range []string{"Update", "Batch"} {
		b.Run(mode, func(b *testing.B) {
			db, err := scdb.Create(filepath.Join(b.TempDir(), "b.scdb"), scdb.Options{Key: testKey})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			write := db.Update
			if mode == "Batch" {
				write = db.Batch
			}
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					err := write(func(tx *scdb.Tx) error {
						_, err := tx.List("events").Append([]byte("a small event"))
						return err
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(db.Generation())/float64(b.N), "commits/write")
		})
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
	}
}
