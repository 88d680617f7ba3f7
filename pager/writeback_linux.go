//go:build linux && !arm

package pager

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writing the range's
// dirty pages, do not wait for them.
const syncFileRangeWrite = 0x2

// startWriteback starts the kernel writing f's dirty pages to disk
// (sync_file_range(2) over the whole file) without waiting for it. Errors
// are ignored: it is a hint, and the commit's sync reports real failures.
func startWriteback(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _ = syscall.SyncFileRange(int(fd), 0, 0, syncFileRangeWrite) })
}
