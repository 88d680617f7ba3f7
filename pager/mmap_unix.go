//go:build linux || darwin

package pager

import (
	"sync"
	"syscall"
)

// mapping is a read-only shared memory map of the file, so that opening a
// page decrypts straight from the page cache instead of copying it out with
// a read system call first. It is only an accelerator: a range it does not
// cover is read with ReadAt. Writes still go through WriteAt; Linux and
// macOS keep a shared mapping coherent with them.
//
// The map may extend past the end of the file; touching those bytes would
// fault, so callers pass the file's current size and view refuses ranges
// past it. Truncation takes the write lock, so no view is in flight when
// the file shrinks.
type mapping struct {
	mu   sync.RWMutex
	fd   int
	data []byte
}

// minMapBytes is the smallest map made: address space is cheap, remaps are
// not.
const minMapBytes = 64 << 20

func newMapping(f File, size int64) *mapping {
	fd, ok := f.(interface{ Fd() uintptr })
	if !ok || ^uint(0)>>32 == 0 { // not an OS file, or a 32-bit address space
		return nil
	}
	m := &mapping{fd: int(fd.Fd())}
	if m.remap(size) != nil {
		return nil
	}
	return m
}

// remap maps at least size bytes, doubling past the file so that a growing
// file is remapped rarely. The caller holds the write lock or owns m alone.
func (m *mapping) remap(size int64) error {
	n := max(int64(minMapBytes), 2*size)
	data, err := syscall.Mmap(m.fd, 0, int(n), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return err
	}
	if m.data != nil {
		syscall.Munmap(m.data)
	}
	m.data = data
	return nil
}

// view calls fn with the n mapped bytes at off if the map covers them and
// they lie within fileSize, and reports whether it did.
func (m *mapping) view(off, n, fileSize int64, fn func([]byte) error) (bool, error) {
	if m == nil {
		return false, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if off < 0 || off+n > fileSize || off+n > int64(len(m.data)) {
		return false, nil
	}
	return true, fn(m.data[off : off+n])
}

// grow remaps if the file has outgrown the map. A failed remap leaves the
// old map in place: reads past it fall back to ReadAt.
func (m *mapping) grow(fileSize int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if fileSize > int64(len(m.data)) {
		_ = m.remap(fileSize)
	}
}

// exclusive runs fn with no view in flight (around a truncation).
func (m *mapping) exclusive(fn func() error) error {
	if m == nil {
		return fn()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return fn()
}

func (m *mapping) close() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data != nil {
		syscall.Munmap(m.data)
		m.data = nil
	}
}
