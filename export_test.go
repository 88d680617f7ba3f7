package scdb

import (
	"runtime"
	"time"

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

// ReadAhead reports whether the value of rec, read on this goroutine, came
// from the loop's read-ahead (record.Ahead) rather than its pages.
func ReadAhead(rec *Record) bool { return rec.slot.Handed() }

// WaitReadAhead waits, up to 10 s, until the value of rec is decrypted
// ahead, and reports whether it was.
func WaitReadAhead(rec *Record) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if rec.slot.Ready() {
			return true
		}
		runtime.Gosched()
	}
	return false
}
