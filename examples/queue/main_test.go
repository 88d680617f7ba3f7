package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/streamcrypt/scdb"
)

// The consumer handles every job the producers append, across a restart,
// and leaves the queue empty.
func TestQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.scdb")
	for run := range 2 {
		db, err := openOrCreate(path, scdb.Options{Key: make([]byte, 32), NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- consume(context.Background(), db, "w", producers*perWorker) }()
		produce(db)
		if err := <-done; err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if n, err := db.Len(queue); n != 0 || err != nil {
			t.Fatalf("run %d: %d jobs left (%v)", run, n, err)
		}
		pos, err := db.Get(positions, "w")
		if want := (run + 1) * producers * perWorker; err != nil || string(pos) != fmtID(want-1) {
			t.Fatalf("run %d: saved position %q, %v; want %s", run, pos, err, fmtID(want-1))
		}
		db.Close()
	}
}

func fmtID(n int) string { return fmt.Sprintf("%016x", n) } // the id Append gives the n-th job
