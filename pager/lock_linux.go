package pager

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/streamcrypt/scdb/internal/errs"
)

// On Linux the file is shared between one writer and any number of reader
// processes with open file description (OFD) locks on byte ranges far past
// any real file's end, which lock nothing but themselves:
//
//   - writerByte: a writer holds it exclusively for as long as the file is
//     open for writing, so a second writer fails (ErrLocked). Readers never
//     touch it.
//   - snapshotBase + g: a reader holds a shared lock on this byte while it
//     reads generation g. A writer asks the kernel for the lowest such lock
//     held by anyone else before it reuses freed pages, so no page that an
//     open snapshot in any process can reach is overwritten.
//
// The kernel drops a process's locks when it dies, so a crashed reader pins
// nothing. Anyone who can open the file can take these locks: at worst a
// hostile process stops space reuse (the file grows) or keeps writers out;
// it cannot make a reader accept a page, since every page is authenticated.
// OFD locks belong to an open file, not a process, so two opens in one
// process see each other like two processes do.
const (
	writerByte   = 1 << 62
	snapshotBase = 1 << 61
	// maxSnapshotGen is the highest byte a snapshot lock can name; a
	// snapshot of any later generation locks it too (lockedGen).
	maxSnapshotGen = MaxLockedGen
)

// Linux's fcntl commands for OFD locks (the same on every architecture).
const (
	fOFDGetlk = 36
	fOFDSetlk = 37
)

// lockFile takes the writer's lock when exclusive; a reader takes none at
// open, only per snapshot.
func lockFile(f *os.File, exclusive bool) error {
	if !exclusive {
		return nil
	}
	return ofd(f, fOFDSetlk, syscall.F_WRLCK, writerByte, 1)
}

// lockSnapshot announces that this open file reads generation gen (the
// caller passes it through LockedGen).
func lockSnapshot(f *os.File, gen uint64) error {
	return ofd(f, fOFDSetlk, syscall.F_RDLCK, snapshotBase+int64(min(gen, maxSnapshotGen)), 1)
}

// unlockSnapshot withdraws lockSnapshot(gen).
func unlockSnapshot(f *os.File, gen uint64) error {
	return ofd(f, fOFDSetlk, syscall.F_UNLCK, snapshotBase+int64(min(gen, maxSnapshotGen)), 1)
}

// oldestForeignSnapshot returns the lowest generation below `below` that
// another open file holds a snapshot lock on. The kernel reports one
// conflicting lock per query, not the lowest, so each query asks again
// below the one it found: as many queries as distinct generations are
// held below the first one found.
func oldestForeignSnapshot(f *os.File, below uint64) (uint64, bool, error) {
	hi := min(below, maxSnapshotGen+1)
	found := false
	for hi > 0 {
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: snapshotBase, Len: int64(hi)}
		if err := fcntl(f, fOFDGetlk, &lk); err != nil {
			return 0, false, fmt.Errorf("pager: query snapshot locks: %w", err)
		}
		if lk.Type == syscall.F_UNLCK {
			break
		}
		found, hi = true, uint64(max(lk.Start-snapshotBase, 0))
	}
	if !found {
		return 0, false, nil
	}
	return hi, true, nil
}

// ofd sets or clears an OFD lock of type typ on [start, start+n).
func ofd(f *os.File, cmd int, typ int16, start, n int64) error {
	lk := syscall.Flock_t{Type: typ, Whence: 0, Start: start, Len: n}
	err := fcntl(f, cmd, &lk)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
		return errs.ErrLocked
	}
	return err
}

func fcntl(f *os.File, cmd int, lk *syscall.Flock_t) error {
	for {
		err := syscall.FcntlFlock(f.Fd(), cmd, lk)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
