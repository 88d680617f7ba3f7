package scdb_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamcrypt/scdb"
)

// Errors of Open name the path once and say what to do.
func TestOpenErrorsNamePathOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.scdb")
	_, err := scdb.Open(path, scdb.Options{Key: testKey})
	if err == nil || strings.Count(err.Error(), path) != 1 || !strings.Contains(err.Error(), "Create") {
		t.Errorf("Open of a missing file: %q; want the path once and a pointer to Create", err)
	}
	db := mustCreate(t, path, scdb.Options{Key: testKey, NoSync: true})
	defer db.Close()
	_, err = scdb.Create(path, scdb.Options{Key: testKey})
	if err == nil || strings.Count(err.Error(), path) != 1 {
		t.Errorf("Create over an existing file: %q; want the path once", err)
	}
	_, err = scdb.Open(path, scdb.Options{Key: testKey})
	if !errors.Is(err, scdb.ErrLocked) || strings.Count(err.Error(), path) != 1 ||
		!strings.Contains(err.Error(), "already open in this process") || strings.Contains(err.Error(), "another process") {
		t.Errorf("second Open in this process: %q; want ErrLocked saying it is already open here, path once", err)
	}
}

func TestOpenLockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.scdb")
	db := mustCreate(t, path, scdb.Options{Key: testKey, NoSync: true})
	go func() {
		time.Sleep(30 * time.Millisecond)
		db.Close()
	}()
	db2, err := scdb.Open(path, scdb.Options{Key: testKey, LockTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Open with LockTimeout while the holder closes: %v", err)
	}
	db2.Close()
}
