package pager

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/streamcrypt/scdb/internal/errs"
)

// File is what the pager needs of the file under it. *os.File satisfies it
// through OSFile; tests put a fault-injecting file here.
type File interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Sync() error
	Truncate(size int64) error
	Size() (int64, error)
	Close() error
}

// OSFile is a File over an operating-system file, holding an advisory lock
// on it for as long as it is open.
type OSFile struct {
	*os.File
	info os.FileInfo // the file's identity among those this process holds open
}

// Size returns the file's current length.
func (f OSFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// LockSnapshot implements SnapshotLocker (see lock_linux.go).
func (f OSFile) LockSnapshot(gen uint64) error { return lockSnapshot(f.File, gen) }

// UnlockSnapshot implements SnapshotLocker.
func (f OSFile) UnlockSnapshot(gen uint64) error { return unlockSnapshot(f.File, gen) }

// OldestForeignSnapshot implements SnapshotLocker.
func (f OSFile) OldestForeignSnapshot(below uint64) (uint64, bool, error) {
	return oldestForeignSnapshot(f.File, below)
}

// replacedAt reports whether path no longer names this open file: another
// file was renamed over it, or it was removed.
func (f OSFile) replacedAt(path string) bool {
	now, err := os.Stat(path)
	return err != nil || !os.SameFile(now, f.info)
}

// Close releases the lock and closes the file.
func (f OSFile) Close() error {
	held.remove(f.info)
	return f.File.Close()
}

// OpenFile is OpenFileWait without waiting: a lock held elsewhere fails at
// once.
func OpenFile(path string, create, readOnly bool) (OSFile, error) {
	return OpenFileWait(path, create, readOnly, 0)
}

// OpenFileWait opens path for the pager and locks it: exclusively for a
// writer, shared for a reader. When another holder's lock conflicts it
// retries for up to timeout, then fails with an error wrapping
// errs.ErrLocked that says whether this process or another holds the file.
// With create it makes a new file and fails if path exists; without it the
// file must exist. Errors do not repeat path: the caller names it once.
func OpenFileWait(path string, create, readOnly bool, timeout time.Duration) (OSFile, error) {
	flag := os.O_RDWR
	switch {
	case create:
		flag |= os.O_CREATE | os.O_EXCL
	case readOnly:
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return OSFile{}, openErr(err)
	}
	info, err := f.Stat()
	if err == nil {
		err = lockWait(f, info, !readOnly, timeout)
	}
	if err != nil {
		f.Close()
		if create {
			os.Remove(path)
		}
		return OSFile{}, err
	}
	held.add(info)
	return OSFile{File: f, info: info}, nil
}

// openErr says what to do about a failed open, without the path the
// caller already names.
func openErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w; Create makes a new file", fs.ErrNotExist)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w; Open opens an existing file, or choose another name", fs.ErrExist)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// lockPoll is how often a waiting open retries the lock: flock cannot
// wait with a timeout, and a blocked flock cannot be cancelled.
const lockPoll = 10 * time.Millisecond

// lockWait takes the lock, retrying until timeout passes.
func lockWait(f *os.File, info os.FileInfo, exclusive bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := lockFile(f, exclusive)
		if !errors.Is(err, errs.ErrLocked) {
			if err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			return nil
		}
		if !time.Now().Before(deadline) {
			return &lockError{sameProcess: held.has(info), waited: timeout}
		}
		time.Sleep(min(lockPoll, time.Until(deadline)))
	}
}

// lockError is errs.ErrLocked told in words: who holds the file, and what
// to do.
type lockError struct {
	sameProcess bool
	waited      time.Duration
}

func (e *lockError) Error() string {
	msg := "scdb: file is locked by another process; close it there, or set Options.LockTimeout to wait for it"
	if e.sameProcess {
		msg = "scdb: file is already open in this process; share that DB (it is safe for concurrent use) or close it first"
	}
	if e.waited > 0 {
		msg += fmt.Sprintf(" (waited %v)", e.waited)
	}
	return msg
}

// Unwrap makes errors.Is(err, errs.ErrLocked) hold.
func (e *lockError) Unwrap() error { return errs.ErrLocked }

// held is the set of files this process holds open through OpenFile, so
// that a lock conflict with one of them is reported as such: flock locks
// belong to an open file, and a second open in the same process conflicts
// like another process's.
var held openFiles

type openFiles struct {
	mu    sync.Mutex
	infos []os.FileInfo
}

func (o *openFiles) add(info os.FileInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.infos = append(o.infos, info)
}

func (o *openFiles) remove(info os.FileInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if i := slices.Index(o.infos, info); i >= 0 {
		o.infos = slices.Delete(o.infos, i, i+1)
	}
}

func (o *openFiles) has(info os.FileInfo) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.ContainsFunc(o.infos, func(other os.FileInfo) bool { return os.SameFile(info, other) })
}
