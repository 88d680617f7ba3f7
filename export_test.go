package scdb

import (
	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/testhook"
)

// Tests create many passphrase files; Argon2id at its real cost (64 MiB,
// three passes) would dominate their run time. The cost is a property of
// each slot, so files made this way still open through the real code path.
func init() { testhook.KDF = &crypt.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1} }

// The model and crash tests count, fail and replay the file's writes by
// position: write-behind writes on the caller's goroutine, in an order
// that repeats. TestWriteBehindAsync and TestCrashWriteBehind run the
// background writer.
func init() { behindInline.Store(true) }

// WriteBehindAsync turns the background writer of write-behind on for a
// test, and returns the function that turns it off again.
func WriteBehindAsync() (restore func()) {
	behindInline.Store(false)
	return func() { behindInline.Store(true) }
}
