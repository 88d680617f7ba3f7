//go:build !unix

package pager

import "os"

// lockFile does nothing where flock is not available: on such systems the
// application must itself keep a second writer away (see README, Caveats).
func lockFile(f *os.File, exclusive bool) error { return nil }
