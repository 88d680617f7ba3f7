//go:build unix

package pager_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// sharedReaders: readers in other processes may open a file beside its
// writer (open file description locks, Linux only).
const sharedReaders = runtime.GOOS == "linux"

func TestLocking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.scdb")
	if _, err := pager.OpenFile(path, false, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenFile of a missing file: %v, want fs.ErrNotExist", err)
	}
	w, err := pager.OpenFile(path, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pager.OpenFile(path, true, false); err == nil || errors.Is(err, errs.ErrLocked) {
		t.Fatalf("create over an existing file: %v, want an exists error", err)
	}
	p, err := pager.Create(w, keyA, opts())
	if err != nil {
		t.Fatal(err)
	}

	// A writer holds the file: no second writer gets in. On Linux readers
	// do, beside it (snapshot locks keep their pages safe); elsewhere the
	// writer's flock keeps them out.
	if _, err := pager.OpenFile(path, false, false); !errors.Is(err, errs.ErrLocked) {
		t.Fatalf("second writer: %v, want ErrLocked", err)
	}
	r, err := pager.OpenFile(path, false, true)
	if sharedReaders {
		if err != nil {
			t.Fatalf("reader beside a writer: %v", err)
		}
		r.Close()
	} else if !errors.Is(err, errs.ErrLocked) {
		t.Fatalf("reader while a writer holds the file: %v, want ErrLocked", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	// Readers share the file; on Linux a writer may join them.
	r1, err := pager.OpenFile(path, false, true)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := pager.OpenFile(path, false, true)
	if err != nil {
		t.Fatalf("second reader: %v", err)
	}
	w, err = pager.OpenFile(path, false, false)
	if sharedReaders {
		if err != nil {
			t.Fatalf("writer beside readers: %v", err)
		}
		w.Close()
	} else if !errors.Is(err, errs.ErrLocked) {
		t.Fatalf("writer while readers hold the file: %v, want ErrLocked", err)
	}
	r1.Close()
	r2.Close()

	// Closed: a writer gets in again, and the lock goes with Close.
	w, err = pager.OpenFile(path, false, false)
	if err != nil {
		t.Fatalf("writer after every reader closed: %v", err)
	}
	if _, err := pager.OpenFile(path, false, false); !errors.Is(err, errs.ErrLocked) {
		t.Fatalf("second writer: %v, want ErrLocked", err)
	}
	w.Close()
	w, err = pager.OpenFile(path, false, false)
	if err != nil {
		t.Fatalf("writer after the writer closed: %v", err)
	}
	w.Close()
}

// A second open in the same process is told apart from another process's
// lock, and names no path (the caller does, once).
func TestLockedInThisProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "twice.scdb")
	w, err := pager.OpenFile(path, true, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pager.OpenFile(path, false, false)
	if !errors.Is(err, errs.ErrLocked) || !strings.Contains(err.Error(), "already open in this process") {
		t.Fatalf("second open in this process: %v, want ErrLocked saying it is already open in this process", err)
	}
	if strings.Contains(err.Error(), "another process") || strings.Contains(err.Error(), path) {
		t.Errorf("second open in this process: %q blames another process or repeats the path", err)
	}
	w.Close()
	w, err = pager.OpenFile(path, false, false)
	if err != nil {
		t.Fatalf("open after the first closed: %v", err)
	}
	w.Close()
}

// With a timeout, an open waits for the lock: it gets it when the holder
// closes in time, and fails after the timeout otherwise.
func TestLockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wait.scdb")
	w, err := pager.OpenFile(path, true, false)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = pager.OpenFileWait(path, false, false, 50*time.Millisecond)
	if !errors.Is(err, errs.ErrLocked) || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("open with a 50ms timeout: %v after %v, want ErrLocked after 50ms", err, time.Since(start))
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		w.Close()
	}()
	f, err := pager.OpenFileWait(path, false, false, 10*time.Second)
	if err != nil {
		t.Fatalf("open waiting for a holder that closes: %v", err)
	}
	f.Close()
}

func TestOpenErrorsSayWhatToDo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.scdb")
	_, err := pager.OpenFile(path, false, false)
	if !errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "Create") {
		t.Errorf("open of a missing file: %q; want fs.ErrNotExist, pointing at Create, without the path", err)
	}
}
