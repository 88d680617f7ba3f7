//go:build unix && !linux

package pager

import (
	"errors"
	"os"
	"syscall"

	"github.com/streamcrypt/scdb/internal/errs"
)

// lockFile takes a non-blocking flock on f: exclusive for a writer, shared
// for a reader. The lock goes with the file descriptor when it is closed.
func lockFile(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errs.ErrLocked
		default:
			return err
		}
	}
}

// Where open file description locks are missing, a writer's exclusive flock
// keeps readers in other processes out, so no snapshot there needs
// announcing.
func lockSnapshot(*os.File, uint64) error                          { return nil }
func unlockSnapshot(*os.File, uint64) error                        { return nil }
func oldestForeignSnapshot(*os.File, uint64) (uint64, bool, error) { return 0, false, nil }
