package scdb_test

import (
	"crypto/cipher"
	crand "crypto/rand"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/streamcrypt/scdb"
)

// Benchmarks report throughput next to raw XChaCha20-Poly1305 measured in
// the same run, so the ratio holds on a noisy shared machine:
//
//	go test -run '^$' -bench . -benchtime 3x .

var benchKey = make([]byte, 32)

// rawOpener opens a sealed 4 KiB page with raw XChaCha20-Poly1305: the
// ceiling any encrypted read can reach. Benchmarks interleave it with their
// own work so that both see the same machine load.
type rawOpener struct {
	aead  cipher.AEAD
	nonce []byte
	page  []byte
	dst   []byte
}

func newRawOpener() *rawOpener {
	aead, _ := chacha20poly1305.NewX(benchKey)
	nonce := make([]byte, 24)
	return &rawOpener{aead: aead, nonce: nonce, page: aead.Seal(nil, nonce, make([]byte, 4096-40), nil), dst: make([]byte, 0, 4096)}
}

// open opens pages of 4 KiB until at least n bytes went through, and
// returns how long it took.
func (r *rawOpener) open(n int) time.Duration {
	start := time.Now()
	for done := 0; done < n; done += 4096 {
		if _, err := r.aead.Open(r.dst[:0], r.nonce, r.page, nil); err != nil {
			panic(err)
		}
	}
	return time.Since(start)
}

// copyOpener is the floor of scdb's own read path: every sealed page is
// copied out of the file into private memory before it is opened
// (SECURITY.md), so a read costs at least that copy, from memory the CPU's
// caches do not hold, and the open. It cycles through 64 MiB of sealed
// pages and opens them into a 64 KiB area, as a stream does.
type copyOpener struct {
	raw     *rawOpener
	src     []byte
	private []byte
	dst     []byte
}

func newCopyOpener() *copyOpener {
	r := newRawOpener()
	c := &copyOpener{raw: r, src: make([]byte, 64<<20), private: make([]byte, len(r.page)), dst: make([]byte, 64<<10)}
	for off := 0; off < len(c.src); off += 4096 {
		copy(c.src[off:], r.page)
	}
	return c
}

// open copies and opens n pages, and returns how long it took.
func (c *copyOpener) open(n int) time.Duration {
	start := time.Now()
	for i := range n {
		off := i * 4096 % len(c.src)
		copy(c.private, c.src[off:])
		at := i * 4056 % (len(c.dst) - 4056)
		if _, err := c.raw.aead.Open(c.dst[at:at], c.raw.nonce, c.private, nil); err != nil {
			panic(err)
		}
	}
	return time.Since(start)
}

// BenchmarkRawOpen4K is the reference: XChaCha20-Poly1305 Open of one 4 KiB
// page.
func BenchmarkRawOpen4K(b *testing.B) {
	aead, _ := chacha20poly1305.NewX(benchKey)
	nonce := make([]byte, 24)
	page := aead.Seal(nil, nonce, make([]byte, 4096-40), nil)
	dst := make([]byte, 0, 4096)
	b.SetBytes(4096)
	for b.Loop() {
		if _, err := aead.Open(dst[:0], nonce, page, nil); err != nil {
			b.Fatal(err)
		}
	}
}

var fixtures sync.Map // name -> path

// fixture returns a file holding list "l" of n records of size bytes each,
// built once per process.
func fixture(b *testing.B, n, size int) string {
	name := fmt.Sprintf("%d-%d", n, size)
	if p, ok := fixtures.Load(name); ok {
		return p.(string)
	}
	dir, err := os.MkdirTemp("", "scdb-bench-")
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, name+".scdb")
	db, err := scdb.Create(path, scdb.Options{Key: benchKey, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	val := make([]byte, size)
	crand.Read(val)
	const batch = 100_000
	for lo := 0; lo < n; lo += batch {
		err := db.Update(func(tx *scdb.Tx) error {
			l := tx.List("l")
			for i := lo; i < min(lo+batch, n); i++ {
				if err := l.Put(fmt.Sprintf("%012d", i), val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	fixtures.Store(name, path)
	return path
}

// BenchmarkStream streams a whole list, value by value, and reports MB/s of
// values, records/s, the ratio to raw AEAD open of 4 KiB pages holding the
// same bytes (vs-raw-open), and the ratio to copying and opening as many
// sealed pages as the file has (vs-copy-open: 1 would be a read path that
// does nothing but what its design requires).
func BenchmarkStream(b *testing.B) {
	for _, c := range []struct {
		name    string
		n, size int
	}{{"100B", 200_000, 100}, {"1KiB", 50_000, 1024}, {"3000B", 20_000, 3000}, {"16KiB", 4096, 16 << 10}, {"64KiB", 1024, 64 << 10}} {
		b.Run(c.name, func(b *testing.B) {
			path := fixture(b, c.n, c.size)
			db, err := scdb.Open(path, scdb.Options{Key: benchKey, ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			raw, floor := newRawOpener(), newCopyOpener()
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			pages := int(st.Size() / 4096)
			total := c.n * c.size
			b.SetBytes(int64(total))
			var ours, rawTime, floorTime time.Duration
			for b.Loop() {
				start := time.Now()
				n := 0
				for rec, err := range db.Records("l") {
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, rec.Reader()); err != nil {
						b.Fatal(err)
					}
					n++
				}
				ours += time.Since(start)
				if n != c.n {
					b.Fatalf("streamed %d records, want %d", n, c.n)
				}
				rawTime += raw.open(total)
				floorTime += floor.open(pages)
			}
			secs := ours.Seconds()
			b.ReportMetric(float64(c.n)*float64(b.N)/secs, "records/s")
			b.ReportMetric(float64(total)*float64(b.N)/rawTime.Seconds()/1e6, "raw-open-MB/s")
			b.ReportMetric(rawTime.Seconds()/secs, "vs-raw-open")
			b.ReportMetric(floorTime.Seconds()/secs, "vs-copy-open")
		})
	}
}

// BenchmarkPutRandom bulk-loads 100-byte values under random ids, 10,000
// per transaction, into a list that starts empty (so b.N=10 loads 100,000
// records): with fsync at every commit, and with NoSync to show the cost
// without the disk's flush latency.
func BenchmarkPutRandom(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		name := "sync"
		if noSync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			db, err := scdb.Create(filepath.Join(b.TempDir(), "put.scdb"), scdb.Options{Key: benchKey, NoSync: noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			val := make([]byte, 100)
			const perTx = 10_000
			start := time.Now()
			for b.Loop() {
				err := db.Update(func(tx *scdb.Tx) error {
					l := tx.List("l")
					for i := 0; i < perTx; i++ {
						if err := l.Put(fmt.Sprintf("%016x", rng.Uint64()), val); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(perTx)*float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkGetRandom reads random ids of a 1,000,000-record list in one
// snapshot: with the default cache (64 MiB, about half of the leaves, and
// a leaf is cached only once it was missed twice) and with one that holds
// every page (the cost of the tree search alone).
func BenchmarkGetRandom(b *testing.B) {
	const n = 1_000_000
	for _, c := range []struct {
		name  string
		bytes int
	}{{"default-cache", 0}, {"cache-all", 256 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			db, err := scdb.Open(fixture(b, n, 100), scdb.Options{Key: benchKey, ReadOnly: true, CacheSize: c.bytes})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			rng := rand.New(rand.NewPCG(3, 4))
			tx, err := db.Begin(false)
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Rollback()
			l := tx.List("l")
			for b.Loop() {
				if _, err := l.Get(fmt.Sprintf("%012d", rng.IntN(n))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen opens and closes a small and a large file: the cost must
// not depend on the file's size.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{10, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			path := fixture(b, n, 100)
			for b.Loop() {
				db, err := scdb.Open(path, scdb.Options{Key: benchKey})
				if err != nil {
					b.Fatal(err)
				}
				db.Close()
			}
		})
	}
}
