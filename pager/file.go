package pager

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

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
type OSFile struct{ *os.File }

// Size returns the file's current length.
func (f OSFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// OpenFile opens path for the pager and locks it: exclusively for a writer,
// shared for a reader, failing with errs.ErrLocked when another process holds
// a conflicting lock. With create it makes a new file and fails if path
// exists; without it the file must exist.
func OpenFile(path string, create, readOnly bool) (OSFile, error) {
	flag := os.O_RDWR
	switch {
	case create:
		flag |= os.O_CREATE | os.O_EXCL
	case readOnly:
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return OSFile{}, fmt.Errorf("%s does not exist: %w", path, err)
		}
		return OSFile{}, err
	}
	if err := lockFile(f, !readOnly); err != nil {
		f.Close()
		if create {
			os.Remove(path)
		}
		if errors.Is(err, errs.ErrLocked) {
			return OSFile{}, fmt.Errorf("%s: %w", path, err)
		}
		return OSFile{}, fmt.Errorf("lock %s: %w", path, err)
	}
	return OSFile{f}, nil
}
