//go:build linux || darwin

package pager

import (
	"runtime/debug"
	"sync"
	"syscall"
)

// mapping is a read-only shared map of the file, used only as a faster
// source to copy sealed pages from: a read copies the bytes it needs into
// private memory (withSealed) and authenticates only that copy, so a byte
// another process rewrites in between cannot split what the tag verified
// from what is decrypted. A copy that faults (the file was truncated under
// the map) is turned into a failed read, not a crash, and the read falls
// back to pread, which reports a short file as ErrCorrupt.
type mapping struct {
	mu   sync.RWMutex
	fd   int
	data []byte
}

// minMapBytes is the smallest map made: address space is cheap, remaps
// are not.
const minMapBytes = 64 << 20

func newMapping(f File, size int64) *mapping {
	of, ok := f.(OSFile)
	if !ok || ^uint(0)>>32 == 0 { // not an OS file, or a 32-bit address space
		return nil
	}
	m := &mapping{fd: int(of.Fd())}
	if m.remap(size) != nil {
		return nil
	}
	return m
}

// remap maps at least twice size bytes. The caller holds the write lock or
// owns m alone.
func (m *mapping) remap(size int64) error {
	data, err := syscall.Mmap(m.fd, 0, int(max(minMapBytes, 2*size)), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return err
	}
	if m.data != nil {
		syscall.Munmap(m.data)
	}
	m.data = data
	return nil
}

// copyOut copies len(dst) bytes at off into dst and reports whether it
// could: false when the map does not reach that far or the copy faulted.
func (m *mapping) copyOut(dst []byte, off int64) (ok bool) {
	if m == nil {
		return false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if off < 0 || off+int64(len(dst)) > int64(len(m.data)) {
		return false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	copy(dst, m.data[off:])
	return true
}

// grow remaps when the file has outgrown the map; a failed remap leaves the
// old map, and reads past it use pread.
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
