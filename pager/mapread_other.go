//go:build !(linux || darwin)

package pager

// mapping is absent here: every read uses pread.
type mapping struct{}

func newMapping(File, int64) *mapping         { return nil }
func (m *mapping) copyOut([]byte, int64) bool { return false }
func (m *mapping) grow(int64)                 {}
func (m *mapping) close()                     {}
