//go:build unix

package pager_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

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

	// A writer holds the file: nobody else gets in.
	for _, readOnly := range []bool{false, true} {
		if _, err := pager.OpenFile(path, false, readOnly); !errors.Is(err, errs.ErrLocked) {
			t.Fatalf("OpenFile(readOnly=%v) while a writer holds the file: %v, want ErrLocked", readOnly, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	// Readers share the file and keep a writer out.
	r1, err := pager.OpenFile(path, false, true)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := pager.OpenFile(path, false, true)
	if err != nil {
		t.Fatalf("second reader: %v", err)
	}
	if _, err := pager.OpenFile(path, false, false); !errors.Is(err, errs.ErrLocked) {
		t.Fatalf("writer while readers hold the file: %v, want ErrLocked", err)
	}
	r1.Close()
	if _, err := pager.OpenFile(path, false, false); !errors.Is(err, errs.ErrLocked) {
		t.Fatalf("writer while one reader holds the file: %v, want ErrLocked", err)
	}
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
