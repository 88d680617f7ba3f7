package faultfile_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/pager"
)

var _ pager.File = (*faultfile.File)(nil)

func mustWrite(t *testing.T, f *faultfile.File, s string, off int64) {
	t.Helper()
	if n, err := f.WriteAt([]byte(s), off); err != nil || n != len(s) {
		t.Fatalf("WriteAt(%q, %d) = %d, %v", s, off, n, err)
	}
}

func mustSync(t *testing.T, f *faultfile.File) {
	t.Helper()
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func content(t *testing.T, f *faultfile.File) string {
	t.Helper()
	size, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && size > 0 {
		t.Fatalf("ReadAt: %v", err)
	}
	if !bytes.Equal(b, f.Bytes()) {
		t.Fatalf("ReadAt sees %q, Bytes %q", b, f.Bytes())
	}
	return string(b)
}

func TestReadWriteSize(t *testing.T) {
	f := faultfile.New([]byte("hello"))
	mustWrite(t, f, "J", 0)
	mustWrite(t, f, "!", 7) // past the end: a zero-filled gap
	if got, want := content(t, f), "Jello\x00\x00!"; got != want {
		t.Fatalf("content %q, want %q", got, want)
	}
	buf := make([]byte, 4)
	n, err := f.ReadAt(buf, 6)
	if n != 2 || !errors.Is(err, io.EOF) {
		t.Fatalf("short read = %d, %v; want 2, io.EOF", n, err)
	}
	if n, err := f.ReadAt(buf, 100); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read past end = %d, %v", n, err)
	}
	if err := f.Truncate(3); err != nil {
		t.Fatal(err)
	}
	if got := content(t, f); got != "Jel" {
		t.Fatalf("after truncate %q", got)
	}
	if f.Reads() < 3 {
		t.Fatalf("Reads() = %d, want at least 3", f.Reads())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}

func TestSyncMakesDurable(t *testing.T) {
	f := faultfile.New([]byte("aaaa"))
	mustWrite(t, f, "bb", 0)
	if got := string(f.Durable()); got != "aaaa" {
		t.Fatalf("durable before sync %q", got)
	}
	if n := len(f.Unsynced()); n != 1 {
		t.Fatalf("%d unsynced ops, want 1", n)
	}
	mustSync(t, f)
	if got := string(f.Durable()); got != "bbaa" {
		t.Fatalf("durable after sync %q", got)
	}
	if n := len(f.Unsynced()); n != 0 {
		t.Fatalf("%d unsynced ops after sync", n)
	}
	if got := string(f.Crash(nil, nil).Bytes()); got != "bbaa" {
		t.Fatalf("crash after sync lost data: %q", got)
	}
}

func TestCrashSubsets(t *testing.T) {
	f := faultfile.New([]byte("........"))
	mustSync(t, f)
	mustWrite(t, f, "AA", 0)              // op 0
	mustWrite(t, f, "BB", 2)              // op 1
	mustWrite(t, f, "CCC", 1)             // op 2: overlaps 0 and 1, later wins
	mustWrite(t, f, "DD", 10)             // op 3: grows the file
	if err := f.Truncate(6); err != nil { // op 4
		t.Fatal(err)
	}
	tests := []struct {
		name string
		keep []int
		tear *faultfile.Tear
		want string
	}{
		{"none", nil, nil, "........"},
		{"all", []int{0, 1, 2, 3, 4}, nil, "ACCC.."},
		{"first", []int{0}, nil, "AA......"},
		{"second", []int{1}, nil, "..BB...."},
		{"order kept", []int{0, 1, 2}, nil, "ACCC...."},
		{"grow without truncate", []int{3}, nil, "........\x00\x00DD"},
		{"grow then truncate", []int{3, 4}, nil, "......"},
		{"truncate alone", []int{4}, nil, "......"},
		{"torn overlap", []int{0, 1}, &faultfile.Tear{Write: 2, Prefix: 1}, "ACBB...."},
		{"torn to nothing", []int{0}, &faultfile.Tear{Write: 2, Prefix: 0}, "AA......"},
		{"torn whole", nil, &faultfile.Tear{Write: 2, Prefix: 3}, ".CCC...."},
		{"torn grow", nil, &faultfile.Tear{Write: 3, Prefix: 1}, "........\x00\x00D"},
		{"torn but dropped by keep is still torn", []int{}, &faultfile.Tear{Write: 0, Prefix: 1}, "A......."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keep := func(i int) bool {
				for _, k := range tc.keep {
					if k == i {
						return true
					}
				}
				return false
			}
			g := f.Crash(keep, tc.tear)
			if got := content(t, g); got != tc.want {
				t.Fatalf("crash image %q, want %q", got, tc.want)
			}
			if string(g.Durable()) != tc.want || len(g.Unsynced()) != 0 || len(g.Log()) != 0 {
				t.Fatalf("crashed file is not a clean durable file")
			}
		})
	}
	if got := content(t, f); got != "ACCC.." {
		t.Fatalf("Crash changed the original file: %q", got)
	}
	if got := string(f.Crash(faultfile.KeepAll, nil).Bytes()); got != "ACCC.." {
		t.Fatalf("KeepAll crash %q", got)
	}
}

func TestCrashRejectsBadTear(t *testing.T) {
	f := faultfile.New(nil)
	mustWrite(t, f, "abc", 0)
	if err := f.Truncate(1); err != nil {
		t.Fatal(err)
	}
	for _, tear := range []faultfile.Tear{{Write: 1, Prefix: 0}, {Write: 2, Prefix: 0}, {Write: 0, Prefix: 4}, {Write: -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Crash with tear %+v did not panic", tear)
				}
			}()
			f.Crash(nil, &tear)
		}()
	}
}

func TestFailWriteAndSync(t *testing.T) {
	f := faultfile.New(nil)
	f.FailWrite(2)
	mustWrite(t, f, "a", 0)
	if _, err := f.WriteAt([]byte("b"), 1); !errors.Is(err, faultfile.ErrInjected) {
		t.Fatalf("second write: %v, want ErrInjected", err)
	}
	mustWrite(t, f, "c", 2) // only the second write fails
	if got := content(t, f); got != "a\x00c" {
		t.Fatalf("failed write changed content: %q", got)
	}
	f.FailSync(1)
	if err := f.Sync(); !errors.Is(err, faultfile.ErrInjected) {
		t.Fatalf("sync: %v, want ErrInjected", err)
	}
	if len(f.Durable()) != 0 || len(f.Unsynced()) != 2 {
		t.Fatalf("failed sync made something durable")
	}
	mustSync(t, f)
	log := f.Log()
	kinds := ""
	for _, op := range log {
		kinds += op.Kind.String()[:1]
		if op.Failed {
			kinds += "!"
		}
	}
	if kinds != "ww!ws!s" {
		t.Fatalf("log %q (%v)", kinds, log)
	}
}

func TestStopAfter(t *testing.T) {
	f := faultfile.New(nil)
	mustWrite(t, f, "a", 0)
	f.StopAfter(2)
	mustWrite(t, f, "b", 1)
	mustSync(t, f)
	if _, err := f.WriteAt([]byte("c"), 2); !errors.Is(err, faultfile.ErrInjected) {
		t.Fatalf("write after stop: %v", err)
	}
	if err := f.Sync(); !errors.Is(err, faultfile.ErrInjected) {
		t.Fatalf("sync after stop: %v", err)
	}
	if err := f.Truncate(0); !errors.Is(err, faultfile.ErrInjected) {
		t.Fatalf("truncate after stop: %v", err)
	}
	if got := string(f.Crash(faultfile.KeepAll, nil).Bytes()); got != "ab" {
		t.Fatalf("crash after stop: %q", got)
	}
	f.StopAfter(-1)
	mustWrite(t, f, "c", 2)
}

func TestLieSync(t *testing.T) {
	f := faultfile.New([]byte("xx"))
	f.LieSync(true)
	mustWrite(t, f, "y", 0)
	mustSync(t, f)
	if got := string(f.Crash(nil, nil).Bytes()); got != "xx" {
		t.Fatalf("lying sync made data durable: %q", got)
	}
	f.LieSync(false)
	mustSync(t, f)
	if got := string(f.Crash(nil, nil).Bytes()); got != "yx" {
		t.Fatalf("honest sync after lies: %q", got)
	}
}

func TestFlipBitAndClone(t *testing.T) {
	f := faultfile.New([]byte{0, 0})
	mustWrite(t, f, "\x00\x00\x00", 0)
	g := f.Clone()
	f.FlipBit(1, 3)
	f.FlipBit(2, 0) // not durable yet: only the current content
	if got := f.Bytes(); !bytes.Equal(got, []byte{0, 8, 1}) {
		t.Fatalf("after flips %v", got)
	}
	if got := f.Durable(); !bytes.Equal(got, []byte{0, 8}) {
		t.Fatalf("durable after flips %v", got)
	}
	if got := g.Bytes(); !bytes.Equal(got, []byte{0, 0, 0}) {
		t.Fatalf("clone shares bytes with the original: %v", got)
	}
	if len(g.Unsynced()) != 1 || len(g.Log()) != 1 {
		t.Fatalf("clone lost the unsynced write")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("FlipBit past the end did not panic")
		}
	}()
	f.FlipBit(3, 0)
}
