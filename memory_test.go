package scdb_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"runtime"
	"testing"

	"github.com/streamcrypt/scdb"
)

// Memory stays flat however large the value or long the list (README,
// "Flat memory"). These tests watch the Go heap while a huge value streams
// in and out and while a long list is loaded and iterated, and fail when it
// grows past heapBound over the heap measured after a GC at the start.
//
// Each sample reads the heap twice. First as it is (HeapInuse): live
// objects plus garbage not yet collected. The garbage part depends on the
// GC pacer, not on scdb (with GOGC=100 the heap may reach twice the live
// heap before a collection), so this peak is held only to twice the bound,
// to catch a large transient allocation. Then after a forced GC
// (HeapAlloc): what scdb keeps, held to the bound.

const heapBound = 16 << 20

// txHeapBound bounds one write transaction of any size: it holds up to
// 16 MiB of dirty tree nodes before spilling them to the file (tx.go,
// spillBytes), beside the page cache. Without spilling, the load below
// would hold some 70 MiB of leaves.
const txHeapBound = 32 << 20

type heapSampler struct {
	what      string
	base      uint64 // HeapAlloc after a GC at the start
	peakLive  uint64 // highest HeapAlloc after a GC
	peakInuse uint64 // highest HeapInuse, garbage included
	samples   int
}

func newHeapSampler(what string) *heapSampler {
	runtime.GC()
	runtime.GC() // the first may leave finalized objects for a second
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &heapSampler{what: what, base: ms.HeapAlloc, peakLive: ms.HeapAlloc, peakInuse: ms.HeapInuse}
}

func (h *heapSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peakInuse = max(h.peakInuse, ms.HeapInuse)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	h.peakLive = max(h.peakLive, ms.HeapAlloc)
	h.samples++
}

// check logs the peaks and fails the test if the live heap grew past bound,
// or the heap in use past twice that.
func (h *heapSampler) check(t *testing.T, bound uint64) {
	t.Helper()
	live, inuse := h.peakLive-h.base, h.peakInuse-min(h.base, h.peakInuse)
	t.Logf("%s: live heap peaked %.1f MiB over a %.1f MiB baseline; heap in use with garbage %.1f MiB over it (%d samples)",
		h.what, mib(live), mib(h.base), mib(inuse), h.samples)
	if h.samples < 10 {
		t.Errorf("%s: only %d heap samples", h.what, h.samples)
	}
	if live >= bound {
		t.Errorf("%s: the live heap grew by %.1f MiB, bound %.0f MiB", h.what, mib(live), mib(bound))
	}
	if inuse >= 2*bound {
		t.Errorf("%s: the heap in use grew by %.1f MiB, bound %.0f MiB", h.what, mib(inuse), mib(2*bound))
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// genReader yields size bytes of fill(∞, seed) without holding them,
// hashing what it yields and sampling the heap every MiB.
type genReader struct {
	seed    uint64
	off     int64
	size    int64
	hash    hash.Hash
	sampler *heapSampler
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.size-g.off)]
	fillInto(p, g.seed, g.off)
	g.hash.Write(p)
	if g.off>>20 != (g.off+int64(len(p)))>>20 {
		g.sampler.sample()
	}
	g.off += int64(len(p))
	return len(p), nil
}

// samplingWriter hashes what it is given, sampling the heap every MiB.
type samplingWriter struct {
	n       int64
	hash    hash.Hash
	sampler *heapSampler
}

func (w *samplingWriter) Write(p []byte) (int, error) {
	w.hash.Write(p)
	if w.n>>20 != (w.n+int64(len(p)))>>20 {
		w.sampler.sample()
	}
	w.n += int64(len(p))
	return len(p), nil
}

// TestMemoryHugeValue streams a 64 MiB value in with PutReader and out with
// Reader: the heap must not grow with the value.
func TestMemoryHugeValue(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads a 64 MiB value")
	}
	const size = 64 << 20
	db := newDB(t)
	if err := db.Put("small", "neighbour", []byte("x")); err != nil {
		t.Fatal(err)
	}

	write := newHeapSampler("PutReader of 64 MiB")
	src := &genReader{seed: 42, size: size, hash: sha256.New(), sampler: write}
	err := db.Update(func(tx *scdb.Tx) error { return tx.List("huge").PutReader("v", src) })
	if err != nil {
		t.Fatal(err)
	}
	write.sample() // after the commit
	write.check(t, heapBound)
	if src.off != size {
		t.Fatalf("PutReader read %d bytes of %d", src.off, size)
	}

	read := newHeapSampler("Reader of 64 MiB")
	dst := &samplingWriter{hash: sha256.New(), sampler: read}
	err = db.View(func(tx *scdb.Tx) error {
		l := tx.List("huge")
		if n := l.Bytes(); n != size {
			return fmt.Errorf("Bytes %d, want %d", n, size)
		}
		rec, err := l.Open("v")
		if err != nil {
			return err
		}
		if rec.Size() != size {
			return fmt.Errorf("Size %d, want %d", rec.Size(), size)
		}
		// A plain Read loop with a small buffer, as an application would.
		_, err = io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{rec.Reader()}, make([]byte, 32<<10))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	read.check(t, heapBound)
	if dst.n != size {
		t.Fatalf("Reader gave %d bytes, want %d", dst.n, size)
	}
	if !bytes.Equal(dst.hash.Sum(nil), src.hash.Sum(nil)) {
		t.Fatal("the 64 MiB value read back differs from the one written")
	}
}

// TestMemoryLongList loads 50,000 records of 1 KiB (50 MiB of values) in
// one Update, which must spill rather than hold them (txHeapBound), then
// streams them back with All within heapBound.
func TestMemoryLongList(t *testing.T) {
	if testing.Short() {
		t.Skip("loads and iterates 50,000 records")
	}
	const n, size = 50000, 1024
	db := newDB(t)

	load := newHeapSampler("one Update of 50,000 Puts of 1 KiB")
	err := db.Update(func(tx *scdb.Tx) error {
		l := tx.List("long")
		v := make([]byte, size)
		for i := range n {
			fillInto(v, uint64(i), 0)
			if err := l.Put(fmt.Sprintf("%08d", i), v); err != nil {
				return err
			}
			if i%1000 == 999 {
				load.sample()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	load.sample()
	load.check(t, txHeapBound)

	iter := newHeapSampler("All over 50,000 records of 1 KiB")
	i := 0
	err = db.View(func(tx *scdb.Tx) error {
		want := make([]byte, size)
		for rec, err := range tx.List("long").All() {
			if err != nil {
				return err
			}
			if id := fmt.Sprintf("%08d", i); rec.ID() != id {
				return fmt.Errorf("record %d is %q, want %q", i, rec.ID(), id)
			}
			v, err := rec.Value()
			if err != nil {
				return err
			}
			fillInto(want, uint64(i), 0)
			if !bytes.Equal(v, want) {
				return fmt.Errorf("record %q holds other bytes", rec.ID())
			}
			i++
			if i%1000 == 0 {
				iter.sample()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	iter.check(t, heapBound)
	if i != n {
		t.Fatalf("All gave %d records, want %d", i, n)
	}
}
