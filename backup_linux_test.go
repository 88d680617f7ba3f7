package scdb_test

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/streamcrypt/scdb"
)

// TestBackupFromReadOnlyOpenBesideWriter is TestBackupWhileWriting with
// the backup taken through a second, read-only open of the file, as another
// process takes it: the snapshot it copies is kept from reuse only by its
// snapshot lock, which the writer must honour while it commits three times
// during each copy.
func TestBackupFromReadOnlyOpenBesideWriter(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024})
	ro, err := scdb.Open(dbPath(t, db), scdb.Options{Key: testKey, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var (
		mu     sync.Mutex
		states = map[uint64]map[string]map[string][32]byte{db.Generation(): {}}
		stop   atomic.Bool
		werr   = make(chan error, 1)
	)
	go func() { werr <- writeUntil(db, &stop, &mu, states) }()
	dir := t.TempDir()
	var paths []string
	for i := range 8 {
		path := filepath.Join(dir, fmt.Sprintf("backup%d.scdb", i))
		backupToFile(t, ro, path, func(w io.Writer) io.Writer {
			return &stallingWriter{w: w, stall: func() { waitGenerations(db, 3) }}
		})
		paths = append(paths, path)
	}
	stop.Store(true)
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		gen, got := contents(t, path)
		if want, ok := states[gen]; !ok || !maps.EqualFunc(got, want, maps.Equal) {
			t.Errorf("%s (generation %d, committed: %v) is not the committed state of its generation: %s",
				filepath.Base(path), gen, ok, describeState(got, want))
		}
	}
}
