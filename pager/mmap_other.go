//go:build !(linux || darwin)

package pager

// mapping is absent where a shared map is not known to stay coherent with
// writes: every read uses ReadAt.
type mapping struct{}

func newMapping(File, int64) *mapping { return nil }

func (m *mapping) view(off, n, fileSize int64, fn func([]byte) error) (bool, error) {
	return false, nil
}
func (m *mapping) grow(int64)                      {}
func (m *mapping) exclusive(fn func() error) error { return fn() }
func (m *mapping) close()                          {}
