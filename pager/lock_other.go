//go:build !unix

package pager

import "os"

// lockFile does nothing where flock is not available: on such systems the
// application must itself keep a second writer away (see README, Caveats).
func lockFile(f *os.File, exclusive bool) error { return nil }

func lockSnapshot(*os.File, uint64) error                          { return nil }
func unlockSnapshot(*os.File, uint64) error                        { return nil }
func oldestForeignSnapshot(*os.File, uint64) (uint64, bool, error) { return 0, false, nil }
