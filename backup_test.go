package scdb_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamcrypt/scdb"
)

// backupToFile runs db.Backup into a new file at path and returns the
// bytes it reported.
func backupToFile(t *testing.T, db *scdb.DB, path string, w func(io.Writer) io.Writer) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var dst io.Writer = f
	if w != nil {
		dst = w(f)
	}
	n, err := db.Backup(dst)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != n {
		t.Fatalf("Backup reported %d bytes, the file holds %v (%v)", n, fi.Size(), err)
	}
	return n
}

// contents reads every list of the file at path into list -> id ->
// sha256 of the value, with the file's generation, after CheckFile passes.
func contents(t *testing.T, path string) (uint64, map[string]map[string][32]byte) {
	t.Helper()
	opts := scdb.Options{Key: testKey, ReadOnly: true}
	rep, err := scdb.CheckFile(path, opts)
	if err != nil {
		t.Fatalf("CheckFile(%s): %v", filepath.Base(path), err)
	}
	if len(rep.Warnings) > 0 {
		t.Errorf("CheckFile(%s) warns: %q", filepath.Base(path), rep.Warnings)
	}
	db, err := scdb.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.MetaFault(); err != nil {
		t.Errorf("%s: MetaFault: %v", filepath.Base(path), err)
	}
	got := map[string]map[string][32]byte{}
	err = db.View(func(tx *scdb.Tx) error {
		for name, err := range tx.Lists() {
			if err != nil {
				return err
			}
			got[name] = map[string][32]byte{}
			for rec, err := range tx.List(name).All() {
				if err != nil {
					return err
				}
				v, err := rec.Value()
				if err != nil {
					return err
				}
				got[name][rec.ID()] = sha256.Sum256(v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", filepath.Base(path), err)
	}
	return db.Generation(), got
}

func TestBackupEmptyFile(t *testing.T) {
	for _, pageSize := range []int{1024, 4096, 65536} {
		t.Run(fmt.Sprint(pageSize), func(t *testing.T) {
			db := newDB(t, scdb.Options{PageSize: pageSize})
			path := filepath.Join(t.TempDir(), "backup.scdb")
			n := backupToFile(t, db, path, nil)
			if want := int64(3 * pageSize); n != want {
				t.Errorf("backup of an empty file is %d bytes, want %d (header and two meta pages)", n, want)
			}
			gen, got := contents(t, path)
			if gen != db.Generation() || len(got) != 0 {
				t.Errorf("backup opens at generation %d with %d lists, want %d and none", gen, len(got), db.Generation())
			}
		})
	}
}

// TestBackupWhileWriting backs up while a writer commits without pause,
// holding each copy open across several commits, so that the writer
// rewrites the snapshot's meta page, frees pages the snapshot reaches and
// trims the file's tail meanwhile. Every copy must pass Check and hold
// exactly one committed state: the one of its generation.
func TestBackupWhileWriting(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024})
	type state = map[string]map[string][32]byte
	var (
		mu     sync.Mutex
		states = map[uint64]state{db.Generation(): {}}
		stop   atomic.Bool
		werr   = make(chan error, 1)
	)
	go func() { werr <- writeUntil(db, &stop, &mu, states) }()

	dir := t.TempDir()
	const backups = 12
	var paths []string
	for i := range backups {
		path := filepath.Join(dir, fmt.Sprintf("backup%d.scdb", i))
		// Hold the copy after its header page until the writer has
		// committed three more times: the snapshot's meta page is then
		// rewritten and the pages it reaches freed by later commits.
		backupToFile(t, db, path, func(w io.Writer) io.Writer {
			return &stallingWriter{w: w, stall: func() { waitGenerations(db, 3) }}
		})
		paths = append(paths, path)
	}
	stop.Store(true)
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for _, path := range paths {
		gen, got := contents(t, path)
		want, ok := states[gen]
		if !ok {
			t.Errorf("%s opens at generation %d, which no commit made", filepath.Base(path), gen)
			continue
		}
		if !maps.EqualFunc(got, want, maps.Equal) {
			t.Errorf("%s differs from the committed state of generation %d: %s", filepath.Base(path), gen, describeState(got, want))
		}
		seen[gen] = true
	}
	if len(seen) < backups/2 {
		t.Errorf("the backups saw only %d distinct generations: the writer did not run beside them", len(seen))
	}
	t.Logf("%d backups over %d commits", backups, len(states))
}

// writeUntil commits random puts, replacements and deletes of values from
// empty to several pages until stop, recording each committed state by
// generation. It is the only writer, so the generation after its Update is
// its commit's.
func writeUntil(db *scdb.DB, stop *atomic.Bool, mu *sync.Mutex, states map[uint64]map[string]map[string][32]byte) error {
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]map[string][32]byte{}
	for !stop.Load() {
		next := cloneState(model)
		err := db.Update(func(tx *scdb.Tx) error {
			for range 1 + rng.IntN(4) {
				list := fmt.Sprintf("list%d", rng.IntN(3))
				id := fmt.Sprintf("id%02d", rng.IntN(30))
				if rng.IntN(3) == 0 {
					err := tx.List(list).Delete(id)
					if err != nil && !errors.Is(err, scdb.ErrNotFound) {
						return err
					}
					delete(next[list], id)
					if len(next[list]) == 0 {
						delete(next, list)
					}
					continue
				}
				v := fill(rng.IntN(6000), rng.Uint64())
				if err := tx.List(list).Put(id, v); err != nil {
					return err
				}
				if next[list] == nil {
					next[list] = map[string][32]byte{}
				}
				next[list][id] = sha256.Sum256(v)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("writer: %w", err)
		}
		model = next
		mu.Lock()
		states[db.Generation()] = cloneState(model)
		mu.Unlock()
	}
	return nil
}

func cloneState(s map[string]map[string][32]byte) map[string]map[string][32]byte {
	out := make(map[string]map[string][32]byte, len(s))
	for k, v := range s {
		out[k] = maps.Clone(v)
	}
	return out
}

func describeState(got, want map[string]map[string][32]byte) string {
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if len(got[name]) != len(want[name]) {
			return fmt.Sprintf("list %q has %d records, want %d", name, len(got[name]), len(want[name]))
		}
	}
	return fmt.Sprintf("%d lists, want %d, or values differ", len(got), len(want))
}

// waitGenerations waits until db has committed n more times, or a few
// seconds have passed.
func waitGenerations(db *scdb.DB, n uint64) {
	target := db.Generation() + n
	for deadline := time.Now().Add(5 * time.Second); db.Generation() < target && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// stallingWriter calls stall once, after the first write (the header page).
type stallingWriter struct {
	w       io.Writer
	stall   func()
	stalled bool
}

func (s *stallingWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if !s.stalled {
		s.stalled = true
		s.stall()
	}
	return n, err
}

// TestTxWriteToIsItsSnapshot: WriteTo copies the state its transaction
// reads, not a newer one, and refuses a writable or ended transaction.
func TestTxWriteToIsItsSnapshot(t *testing.T) {
	db := newDB(t)
	if err := db.Put("l", "a", []byte("old")); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for i := range 3 { // rewrites both meta pages, and a's value
		if err := db.Put("l", "a", fmt.Appendf(nil, "new%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "snap.scdb")
	var buf bytes.Buffer
	if _, err := tx.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	gen, got := contents(t, path)
	if gen != tx.Generation() || got["l"]["a"] != sha256.Sum256([]byte("old")) {
		t.Errorf("WriteTo wrote generation %d (want %d) with a = %x", gen, tx.Generation(), got["l"]["a"])
	}

	wtx, err := db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wtx.WriteTo(io.Discard); !errors.Is(err, scdb.ErrInvalid) {
		t.Errorf("WriteTo of a writable transaction: %v, want ErrInvalid", err)
	}
	wtx.Rollback()
	tx.Rollback()
	if _, err := tx.WriteTo(io.Discard); !errors.Is(err, scdb.ErrTxDone) {
		t.Errorf("WriteTo after Rollback: %v, want ErrTxDone", err)
	}
}

// TestBackupWriteError: a destination that fails is reported as such, not
// as damage, and the snapshot is released.
func TestBackupWriteError(t *testing.T) {
	db := newDB(t)
	if err := db.Put("l", "a", fill(10000, 1)); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	_, err := db.Backup(failingWriter{after: 5000, err: boom})
	if !errors.Is(err, boom) || errors.Is(err, scdb.ErrCorrupt) {
		t.Errorf("Backup to a failing writer: %v, want the writer's error", err)
	}
	if st, err := db.Stats(); err != nil || st.OpenSnapshots != 0 {
		t.Errorf("after a failed Backup: %d snapshots open (%v)", st.OpenSnapshots, err)
	}
}

type failingWriter struct {
	after int
	err   error
}

func (f failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.after {
		return f.after, f.err
	}
	return len(p), nil
}

// TestBackupReadOnlyAndKeySlots: a read-only DB backs up too, and the copy
// opens with every credential of the original.
func TestBackupReadOnlyAndKeySlots(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.scdb")
	db, err := scdb.Create(path, scdb.Options{Key: testKey, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddKeySlot(scdb.Credential{Key: bytes.Repeat([]byte{7}, 32)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Put("l", "a", []byte("v")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro, err := scdb.Open(path, scdb.Options{Key: testKey, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	bpath := filepath.Join(t.TempDir(), "backup.scdb")
	backupToFile(t, ro, bpath, nil)
	if _, got := contents(t, bpath); got["l"]["a"] != sha256.Sum256([]byte("v")) {
		t.Errorf("backup of a read-only DB holds %v", got)
	}
	other, err := scdb.Open(bpath, scdb.Options{Key: bytes.Repeat([]byte{7}, 32), ReadOnly: true})
	if err != nil {
		t.Fatalf("the backup does not open with the second key slot: %v", err)
	}
	other.Close()
}

// TestMemoryBackup copies a file holding a 32 MiB value: the heap must not
// grow with the file.
func TestMemoryBackup(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and copies a 32 MiB value")
	}
	const size = 32 << 20
	db := newDB(t)
	src := &genReader{seed: 9, size: size, hash: sha256.New(), sampler: newHeapSampler("unused")}
	if err := db.Update(func(tx *scdb.Tx) error { return tx.List("huge").PutReader("v", src) }); err != nil {
		t.Fatal(err)
	}
	h := newHeapSampler("Backup of a 32 MiB value")
	dst := &samplingWriter{hash: sha256.New(), sampler: h}
	n, err := db.Backup(dst)
	if err != nil {
		t.Fatal(err)
	}
	h.check(t, heapBound)
	if n < size || dst.n != n {
		t.Fatalf("Backup wrote %d bytes (reported %d) of a file holding %d value bytes", dst.n, n, size)
	}
}
