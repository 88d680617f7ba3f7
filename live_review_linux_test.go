package scdb_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/pager"
)

// TestFollowSeesEveryForeignCommit: a read-only DB's Follow waits for the
// generation to pass the one its own last snapshot read. (It used to take
// the DB's newest generation instead, which another snapshot of the same DB
// — a Get — had moved past a commit the follower never read.)
func TestFollowSeesEveryForeignCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.scdb")
	w, err := scdb.Create(path, scdb.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Put("q", "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	r, err := scdb.Open(path, scdb.Options{Key: testKey, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	got := make(chan string, 10)
	gate := make(chan struct{})
	go func() {
		defer close(got)
		for rec, err := range r.Follow(ctx, "q", "") {
			if err != nil {
				t.Error(err)
				return
			}
			got <- rec.ID()
			if rec.ID() == "a" {
				<-gate // the consumer is busy with "a"
			}
		}
	}()
	if id := <-got; id != "a" {
		t.Fatalf("first = %q", id)
	}
	if err := w.Put("q", "b", []byte("2")); err != nil { // the producer commits
		t.Fatal(err)
	}
	if _, err := r.Get("q", "a"); err != nil { // another goroutine reads
		t.Fatal(err)
	}
	close(gate)
	select {
	case id := <-got:
		if id != "b" {
			t.Fatalf("second = %q", id)
		}
	case <-time.After(time.Second):
		t.Fatal(`Follow never delivered "b": it believes it saw the commit a Get refreshed`)
	}
}

// TestRequireNewestMetaBesideWriter: a read-only open with
// RequireNewestMeta beside a live writer may read the meta pair mid-commit
// (a commit between its reads of pages 1 and 2, or one torn); it counts a
// fault only when two reads in a row agree, so healthy opens succeed, and
// MetaFault keeps what Open found instead of flickering at every snapshot.
func TestRequireNewestMetaBesideWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.scdb")
	w, err := scdb.Create(path, scdb.Options{Key: testKey, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			_ = w.Put("l", "k", []byte{byte(i)})
		}
	}()
	fails, faults := 0, 0
	r, err := scdb.Open(path, scdb.Options{Key: testKey, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(1500 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ {
		db, err := scdb.Open(path, scdb.Options{Key: testKey, ReadOnly: true, RequireNewestMeta: true})
		if err != nil {
			fails++
			if fails == 1 {
				t.Logf("open %d: %v", n, err)
			}
			continue
		}
		db.Close()
		_, _ = r.Get("l", "k")
		if r.MetaFault() != nil {
			faults++
		}
	}
	stop.Store(true)
	wg.Wait()
	r.Close()
	if fails > 0 || faults > 0 {
		t.Fatalf("%d read-only opens with RequireNewestMeta failed; MetaFault non-nil after %d snapshots of a healthy file", fails, faults)
	}
}

// TestSnapshotOfHugeGeneration: a file at or past generation 2^61 (§5 lets
// a writer choose any first generation) is read like any other: its
// snapshots are announced at the highest lockable generation (§9.5).
func TestSnapshotOfHugeGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.scdb")
	f, err := pager.OpenFile(path, true, false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pager.Create(f, crypt.Credential{Key: testKey}, pager.Options{FirstGen: 1 << 61, KDF: crypt.KDFParams{}})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	db, err := scdb.Open(path, scdb.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Put("l", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro, err := scdb.Open(path, scdb.Options{Key: testKey, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Get("l", "k"); err != nil {
		t.Fatalf("read-only Get of a file at generation 2^61+1: %v", err)
	}
}

// TestReplacedUnderReader: compacting in place renames a new file over the
// path while a read-only DB has the old one open. Its next snapshot, and a
// Follow waiting on it, report ErrReplaced instead of reading a file no
// commit will reach again; opening the path again sees the new commits.
func TestReplacedUnderReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.scdb")
	w := mustCreate(t, path, scdb.Options{Key: testKey})
	mustPut(t, w, "l", "a", []byte("1"))
	mustClose(t, w)
	r := mustOpen(t, path, scdb.Options{Key: testKey, ReadOnly: true})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	followErr := make(chan error, 1)
	go func() {
		for _, err := range r.Follow(ctx, "l", "a") {
			if err != nil {
				followErr <- err
				return
			}
		}
		followErr <- ctx.Err()
	}()
	time.Sleep(3 * scdb.FollowPoll)
	if err := scdb.CompactFile(path, scdb.Options{Key: testKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("l", "a"); !errors.Is(err, scdb.ErrReplaced) {
		t.Fatalf("Get after the file was replaced: %v, want ErrReplaced", err)
	}
	if err := <-followErr; !errors.Is(err, scdb.ErrReplaced) {
		t.Fatalf("Follow after the file was replaced: %v, want ErrReplaced", err)
	}
	w = mustOpen(t, path, scdb.Options{Key: testKey})
	defer w.Close()
	mustPut(t, w, "l", "b", []byte("2"))
	again := mustOpen(t, path, scdb.Options{Key: testKey, ReadOnly: true})
	defer again.Close()
	mustGetValue(t, again, "l", "b", []byte("2"))
}
