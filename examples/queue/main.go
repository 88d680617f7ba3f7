// Command queue runs a work queue in one scdb file: producers append jobs
// through Batch (many writers, few fsyncs), and a consumer follows the
// queue, handling each job once, in order, even across restarts: it saves
// the id of the last job it handled in the same transaction that deletes
// the job, and resumes after it.
//
//	go run ./examples/queue [path]
//
// Run it twice: the second run finds the saved position and goes on from
// there. Follow is woken by commits of this process; another process cannot
// follow the file while this one holds it (see scdb.DB.Follow).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"

	"github.com/streamcrypt/scdb"
)

const (
	queue     = "jobs"
	positions = "positions" // consumer name -> id of the last job it handled
	producers = 4
	perWorker = 25
)

func main() {
	path := filepath.Join(os.TempDir(), "queue.scdb")
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	db, err := openOrCreate(path, scdb.Options{Key: make([]byte, 32)}) // a real application keeps its key secret
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- consume(ctx, db, "worker-1", producers*perWorker); stop() }()
	produce(db)
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	left, err := db.Len(queue)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("handled %d jobs; %d left in the queue\n", producers*perWorker, left)
}

func openOrCreate(path string, opts scdb.Options) (*scdb.DB, error) {
	db, err := scdb.Open(path, opts)
	if errors.Is(err, os.ErrNotExist) {
		return scdb.Create(path, opts)
	}
	return db, err
}

// produce appends jobs from several goroutines; Batch gathers their
// concurrent writes into shared commits.
func produce(db *scdb.DB) {
	var wg sync.WaitGroup
	for w := range producers {
		wg.Go(func() {
			for i := range perWorker {
				err := db.Batch(func(tx *scdb.Tx) error {
					_, err := tx.List(queue).Append([]byte(fmt.Sprintf("job %d from producer %d", i, w)))
					return err
				})
				if err != nil {
					log.Fatal(err)
				}
			}
		})
	}
	wg.Wait()
}

// consume follows the queue from the saved position and handles n jobs.
// Each job is deleted, and the position saved, in one transaction: a crash
// loses no job and handles none twice.
func consume(ctx context.Context, db *scdb.DB, name string, n int) error {
	after, err := db.Get(positions, name)
	if err != nil && !errors.Is(err, scdb.ErrNotFound) {
		return err
	}
	for rec, err := range db.Follow(ctx, queue, string(after)) {
		if err != nil {
			return err
		}
		job, err := rec.Value()
		if err != nil {
			return err
		}
		fmt.Printf("%s: %s (id %s)\n", name, job, rec.ID())
		err = db.Update(func(tx *scdb.Tx) error {
			if err := tx.List(queue).Delete(rec.ID()); err != nil {
				return err
			}
			return tx.List(positions).Put(name, []byte(rec.ID()))
		})
		if err != nil {
			return err
		}
		if n--; n == 0 {
			return nil
		}
	}
	return ctx.Err()
}
