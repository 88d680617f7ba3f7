package record

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

var benchSizes = []int{64 << 10, 1 << 20}

// BenchmarkValue reads whole values with Value from a memstore.
func BenchmarkValue(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s := memstore.New(payload4K)
			cell, err := Put(s, valueOf(size, 1), 1000)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := Value(s, cell); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReader streams values with Reader.WriteTo from a memstore.
func BenchmarkReader(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s := memstore.New(payload4K)
			cell, err := Put(s, valueOf(size, 1), 1000)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				rd, err := NewReader(s, cell)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rd.WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPut writes values with Put and frees them.
func BenchmarkPut(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s := memstore.New(payload4K)
			value := valueOf(size, 1)
			b.SetBytes(int64(size))
			for b.Loop() {
				cell, err := Put(s, value, 1000)
				if err != nil {
					b.Fatal(err)
				}
				if err := Free(s, cell); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// sealedStore keeps pages sealed with a crypt.PageCipher and opens them on
// every read, as the real pager does, without a file: it measures what
// record adds to the cost of decryption.
type sealedStore struct {
	payload int
	c       *crypt.PageCipher
	next    uint64
	pages   map[uint64][]byte
}

func newSealedStore(tb testing.TB, payload int) *sealedStore {
	key := make([]byte, crypt.KeySize)
	rand.Read(key)
	c, err := crypt.NewPageCipher(key, [crypt.FileIDSize]byte{1}, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &sealedStore{payload: payload, c: c, next: pager.FirstDataPage, pages: map[uint64][]byte{}}
}

func (s *sealedStore) PayloadSize() int { return s.payload }
func (s *sealedStore) Gen() uint64      { return 1 }
func (s *sealedStore) Free(pager.Ref)   {}

func (s *sealedStore) Alloc(n int) (uint64, error) {
	s.next += uint64(n)
	return s.next - uint64(n), nil
}

func (s *sealedStore) WritePage(pgno uint64, p []byte) error {
	sealed := make([]byte, len(p)+crypt.Overhead)
	s.pages[pgno] = sealed
	return s.c.Seal(sealed, p, pgno, 1)
}

func (s *sealedStore) Page(ref pager.Ref) ([]byte, error) {
	p := make([]byte, s.payload)
	return p, s.ReadPages(ref, p)
}

func (s *sealedStore) ReadPages(first pager.Ref, dst []byte) error {
	for i := 0; i < len(dst)/s.payload; i++ {
		pgno := first.Page + uint64(i)
		if err := s.c.Open(dst[i*s.payload:(i+1)*s.payload], s.pages[pgno], pgno, first.Gen); err != nil {
			return err
		}
	}
	return nil
}

// rawOpenRate returns how many plaintext bytes per second opening sealed
// pages of s's payload size achieves: the ceiling for reading a value.
func rawOpenRate(s *sealedStore) float64 {
	const pages = 64
	sealed := make([][]byte, pages)
	for i := range sealed {
		sealed[i] = make([]byte, s.payload+crypt.Overhead)
		s.c.Seal(sealed[i], make([]byte, s.payload), uint64(i), 1)
	}
	dst := make([]byte, s.payload)
	var n int64
	start := time.Now()
	for time.Since(start) < 200*time.Millisecond {
		for i, p := range sealed {
			s.c.Open(dst, p, uint64(i), 1)
		}
		n += pages * int64(s.payload)
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkSealedReader streams values through Reader.WriteTo from pages
// that are decrypted on every read, and reports the throughput as a
// fraction of raw XChaCha20-Poly1305 page opening ("of-raw-aead"; the
// target is at least 0.70).
func BenchmarkSealedReader(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s := newSealedStore(b, payload4K)
			cell, err := Put(s, valueOf(size, 1), 1000)
			if err != nil {
				b.Fatal(err)
			}
			raw := rawOpenRate(s)
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				rd, err := NewReader(s, cell)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rd.WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			ours := float64(size) * float64(b.N) / time.Since(start).Seconds()
			b.ReportMetric(ours/raw, "of-raw-aead")
		})
	}
}

// BenchmarkSealedValue is BenchmarkSealedReader with Value.
func BenchmarkSealedValue(b *testing.B) {
	s := newSealedStore(b, payload4K)
	cell, err := Put(s, valueOf(64<<10, 1), 1000)
	if err != nil {
		b.Fatal(err)
	}
	raw := rawOpenRate(s)
	b.SetBytes(64 << 10)
	start := time.Now()
	for b.Loop() {
		if v, err := Value(s, cell); err != nil || len(v) != 64<<10 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(64<<10)*float64(b.N)/time.Since(start).Seconds()/raw, "of-raw-aead")
}

// BenchmarkPutReader streams values in through PutReader on sealed pages.
func BenchmarkPutReader(b *testing.B) {
	s := newSealedStore(b, payload4K)
	value := valueOf(1<<20, 1)
	b.SetBytes(1 << 20)
	for b.Loop() {
		if _, _, err := PutReader(s, bytes.NewReader(value), 1000); err != nil {
			b.Fatal(err)
		}
		clear(s.pages)
	}
}
