package scdb_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/streamcrypt/scdb"
)

// The attacks of issue 8, each against the public API: another process
// writing or truncating the file under a reader, a header edited without the
// key, a compacted copy spliced with its original, a failed open that keeps
// the file locked, and a dropped newest commit.

const edgePageSize = 1024

func edgeFile(t *testing.T, value []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "edge.scdb")
	db := mustCreate(t, path, scdb.Options{Key: testKey, PageSize: edgePageSize})
	if err := db.Put("l", "big", value); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestForgedReadThroughSharedFile: while Gets run, a second descriptor (no
// lock, as any process could open it) toggles one byte of a value page. A
// reader that verified the tag over one version of the page and decrypted
// another would return altered bytes with a nil error; every Get must give
// the true value or ErrCorrupt.
func TestForgedReadThroughSharedFile(t *testing.T) {
	value := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB: a chain
	path := edgeFile(t, value)
	db := mustOpen(t, path, scdb.Options{Key: testKey, ReadOnly: true})
	defer db.Close()

	w, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	off := int64(10*edgePageSize + 500) // inside the chain's ciphertext
	var orig [1]byte
	if _, err := w.ReadAt(orig[:], off); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b := orig
		for !stop.Load() {
			b[0] ^= 0x40
			w.WriteAt(b[:], off)
		}
		w.WriteAt(orig[:], off)
	}()
	var forged, corrupt, good int
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		got, err := db.Get("l", "big")
		switch {
		case errors.Is(err, scdb.ErrCorrupt):
			corrupt++
		case err != nil:
			t.Fatalf("Get: %v", err)
		case !bytes.Equal(got, value):
			forged++
		default:
			good++
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d good, %d ErrCorrupt, %d forged", good, corrupt, forged)
	if forged > 0 {
		t.Fatalf("%d reads returned bytes that were never authenticated", forged)
	}
}

// TestTruncatedUnderReader: another program cuts the file while it is open.
// Reads of the pages that are gone fail with ErrCorrupt; the process lives
// (a shared map would have killed it with SIGBUS).
func TestTruncatedUnderReader(t *testing.T) {
	value := bytes.Repeat([]byte{7}, 32<<10)
	path := edgeFile(t, value)
	db := mustOpen(t, path, scdb.Options{Key: testKey, ReadOnly: true, CacheSize: edgePageSize})
	defer db.Close()
	if err := os.Truncate(path, 4*edgePageSize); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get("l", "big"); !errors.Is(err, scdb.ErrCorrupt) {
		t.Fatalf("Get after truncation: %v, want ErrCorrupt", err)
	}
	if _, err := db.Check(); !errors.Is(err, scdb.ErrCorrupt) {
		t.Fatalf("Check after truncation: %v, want ErrCorrupt", err)
	}
}

// TestHeaderCostBomb: the Argon2id cost of every slot raised to the format's
// maximum by editing plaintext header bytes (checksums fixed, no key). Open
// refuses at once with ErrKDFLimit naming the option to raise.
func TestHeaderCostBomb(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pw.scdb")
	db := mustCreate(t, path, scdb.Options{Passphrase: []byte("pw")})
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 2; c++ {
		h := b[c*512 : (c+1)*512]
		for i := 0; i < 4; i++ {
			s := h[64+104*i : 64+104*(i+1)]
			s[0], s[1] = 1, 4
			binary.LittleEndian.PutUint32(s[4:], 64)
			binary.LittleEndian.PutUint32(s[8:], 4<<20)
			for j := 16; j < 104; j++ {
				s[j] |= 1 // salt, nonce, wrapped key: anything
			}
		}
		binary.LittleEndian.PutUint64(h[504:], xxhash.Sum64(h[:504]))
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := scdb.Open(path, scdb.Options{Passphrase: []byte("pw")}); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, scdb.ErrKDFLimit) {
			t.Fatalf("Open: %v, want ErrKDFLimit", err)
		}
	case <-time.After(2 * time.Minute): // paying the bomb takes tens of minutes
		t.Fatal("Open is paying for the hostile Argon2id cost")
	}
}

// TestFailedOpenReleasesFile: every failing Open leaves nothing behind: the
// next Open of the same path in this process gets its own outcome, never
// ErrLocked, and no descriptor leaks.
func TestFailedOpenReleasesFile(t *testing.T) {
	good := edgeFile(t, []byte("v"))
	img, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(img)) }
	fixed := func(b []byte, at int, v byte) []byte {
		for c := 0; c < 2; c++ {
			b[c*512+at] = v
			binary.LittleEndian.PutUint64(b[c*512+504:], xxhash.Sum64(b[c*512:c*512+504]))
		}
		return b
	}
	cases := []struct {
		name string
		file []byte
		opts scdb.Options
		want error
	}{
		{"wrong key", img, scdb.Options{Key: bytes.Repeat([]byte{9}, 32)}, scdb.ErrWrongKey},
		{"not scdb", []byte("hello"), scdb.Options{Key: testKey}, scdb.ErrNotSCDB},
		{"version", edit(func(b []byte) []byte { return fixed(b, 8, 9) }), scdb.Options{Key: testKey}, scdb.ErrVersion},
		{"corrupt header", edit(func(b []byte) []byte { b[100] ^= 1; b[612] ^= 1; return b }), scdb.Options{Key: testKey}, scdb.ErrCorrupt},
		{"corrupt meta", edit(func(b []byte) []byte { b[edgePageSize+50] ^= 1; b[2*edgePageSize+50] ^= 1; return b }), scdb.Options{Key: testKey}, scdb.ErrCorrupt},
		{"truncated", img[:len(img)-edgePageSize], scdb.Options{Key: testKey}, scdb.ErrCorrupt},
	}
	fds := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.scdb")
			if err := os.WriteFile(path, tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			before := fds()
			for i := 0; i < 3; i++ {
				for _, ro := range []bool{false, true} {
					o := tc.opts
					o.ReadOnly = ro
					if _, err := scdb.Open(path, o); !errors.Is(err, tc.want) {
						t.Fatalf("Open #%d (read-only %v): %v, want %v", i, ro, err, tc.want)
					}
				}
			}
			if after := fds(); after > before {
				t.Fatalf("%d descriptors before the failed opens, %d after", before, after)
			}
		})
	}
}

// TestCompactedCopyCannotBeSpliced: a compacted successor has a fresh file
// id, so a page of the original put into it fails to open even at the same
// position; the handle that compacted refuses further commits; CompactFile
// replaces the file in place; Append counters survive.
func TestCompactedCopyCannotBeSpliced(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.scdb")
	db := mustCreate(t, src, scdb.Options{Key: testKey, PageSize: edgePageSize})
	for i := 0; i < 3; i++ {
		if err := db.Update(func(tx *scdb.Tx) error { _, err := tx.List("q").Append([]byte{byte(i)}); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Put("l", "k", bytes.Repeat([]byte("x"), 3000)); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "dst.scdb")
	if err := db.CompactTo(dst); err != nil {
		t.Fatal(err)
	}
	if err := db.Put("l", "k2", []byte("late")); !errors.Is(err, scdb.ErrReadOnly) {
		t.Fatalf("commit to the compacted original: %v, want ErrReadOnly", err)
	}
	db.Close()

	// Every data page of the original, put at the same position of the
	// copy, fails to open there: no record of the copy reads it as data.
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(dst)
	if bytes.Equal(a[16:32], b[16:32]) {
		t.Fatal("the compacted copy kept its original's file id")
	}
	for pg := 3; pg*edgePageSize < min(len(a), len(b)); pg++ {
		spliced := bytes.Clone(b)
		copy(spliced[pg*edgePageSize:(pg+1)*edgePageSize], a[pg*edgePageSize:])
		path := filepath.Join(dir, fmt.Sprintf("spliced%d.scdb", pg))
		os.WriteFile(path, spliced, 0o600)
		if rep, err := scdb.CheckFile(path, scdb.Options{Key: testKey}); err == nil && !bytes.Equal(spliced[pg*edgePageSize:(pg+1)*edgePageSize], b[pg*edgePageSize:(pg+1)*edgePageSize]) {
			t.Fatalf("page %d of the original opens in the copy (Check: %+v)", pg, rep)
		}
	}

	// The copy continues the Append sequence.
	cp := mustOpen(t, dst, scdb.Options{Key: testKey})
	var id string
	if err := cp.Update(func(tx *scdb.Tx) error { var err error; id, err = tx.List("q").Append([]byte("next")); return err }); err != nil {
		t.Fatal(err)
	}
	if id != fmt.Sprintf("%016x", 3) {
		t.Fatalf("Append in the compacted copy gave id %s, want %016x", id, 3)
	}
	cp.Close()

	// In place: same path, same contents, fresh file id, no stray file.
	before, _ := os.ReadFile(dst)
	if err := scdb.CompactFile(dst, scdb.Options{Key: testKey}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(dst)
	if bytes.Equal(before[16:32], after[16:32]) {
		t.Fatal("CompactFile kept the file id")
	}
	if _, err := os.Stat(dst + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stray compaction file: %v", err)
	}
	cp = mustOpen(t, dst, scdb.Options{Key: testKey})
	defer cp.Close()
	if v, err := cp.Get("q", id); err != nil || string(v) != "next" {
		t.Fatalf("after CompactFile: %q, %v", v, err)
	}
}

// TestDroppedNewestCommit: one flipped bit in the newest meta page opens the
// previous commit; MetaFault says so, and RequireNewestMeta refuses.
func TestDroppedNewestCommit(t *testing.T) {
	path := edgeFile(t, []byte("v1"))
	db := mustOpen(t, path, scdb.Options{Key: testKey})
	if db.MetaFault() != nil {
		t.Fatalf("healthy file: MetaFault %v", db.MetaFault())
	}
	if err := db.Put("l", "big", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	gen := db.Generation()
	db.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	at := int64(1+gen%2)*edgePageSize + 200
	f.ReadAt(b[:], at)
	b[0] ^= 1
	f.WriteAt(b[:], at)
	f.Close()

	db = mustOpen(t, path, scdb.Options{Key: testKey})
	if db.Generation() != gen-1 || !errors.Is(db.MetaFault(), scdb.ErrCorrupt) {
		t.Fatalf("generation %d (want %d), MetaFault %v", db.Generation(), gen-1, db.MetaFault())
	}
	db.Close()
	if _, err := scdb.Open(path, scdb.Options{Key: testKey, RequireNewestMeta: true}); !errors.Is(err, scdb.ErrCorrupt) {
		t.Fatalf("RequireNewestMeta: %v, want ErrCorrupt", err)
	}
}

// lyingReader gives n good bytes, then claims more than it was given room
// for.
type lyingReader struct{ n int }

func (r *lyingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		k := min(r.n, len(p))
		r.n -= k
		return k, nil
	}
	return len(p) + 10, nil
}

// TestPutReaderCountLies: a source whose Read reports more bytes than the
// buffer holds is refused, in the inline and the chained path, and the
// record keeps its old value.
func TestPutReaderCountLies(t *testing.T) {
	path := edgeFile(t, []byte("old"))
	db := mustOpen(t, path, scdb.Options{Key: testKey})
	defer db.Close()
	for _, good := range []int{0, 100, 5000} {
		err := db.Update(func(tx *scdb.Tx) error { return tx.List("l").PutReader("big", &lyingReader{good}) })
		if !errors.Is(err, scdb.ErrInvalid) {
			t.Errorf("after %d good bytes: %v, want ErrInvalid", good, err)
		}
	}
	if v, err := db.Get("l", "big"); err != nil || string(v) != "old" {
		t.Fatalf("record after the refused puts: %q, %v", v, err)
	}
}
