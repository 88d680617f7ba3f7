package record

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// TestPutReaderShortReads streams values through readers that return less
// than asked, and checks the value reads back whole.
func TestPutReaderShortReads(t *testing.T) {
	const maxInline = 50
	data := payload1K - headerSize
	readers := map[string]func(io.Reader) io.Reader{
		"one byte":      iotest.OneByteReader,
		"half":          iotest.HalfReader,
		"data with EOF": iotest.DataErrReader,
		"odd chunks":    func(r io.Reader) io.Reader { return &chunkReader{r: r, sizes: []int{3, 1000, 1, 961, 7}} },
		"empty reads":   func(r io.Reader) io.Reader { return &stutterReader{r: r} },
	}
	for name, wrap := range readers {
		for _, size := range []int{0, maxInline, maxInline + 1, data, data + 1, 17*data + 5} {
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				s := memstore.New(payload1K)
				value := valueOf(size, 3)
				cell, n, err := PutReader(s, wrap(bytes.NewReader(value)), maxInline)
				if err != nil || n != int64(size) {
					t.Fatalf("PutReader = %d, %v; want %d, nil", n, err, size)
				}
				if got := readAll(t, s, cell, 100); !bytes.Equal(got, value) {
					t.Fatal("value read back differs")
				}
				if err := Free(s, cell); err != nil || s.Live() != 0 {
					t.Fatalf("Free = %v, %d pages live", err, s.Live())
				}
			})
		}
	}
}

// chunkReader returns reads of the sizes in turn.
type chunkReader struct {
	r     io.Reader
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	n := min(len(p), c.sizes[c.i%len(c.sizes)])
	c.i++
	return c.r.Read(p[:n])
}

// stutterReader returns (0, nil) before every read that returns data.
type stutterReader struct {
	r   io.Reader
	odd bool
}

func (s *stutterReader) Read(p []byte) (int, error) {
	s.odd = !s.odd
	if s.odd {
		return 0, nil
	}
	return s.r.Read(p)
}

// failAfter yields n bytes of r, then fails with err.
type failAfter struct {
	r   io.Reader
	n   int
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	m, err := f.r.Read(p[:min(len(p), f.n)])
	f.n -= m
	return m, err
}

// TestPutReaderErrorFreesPages fails the source at many points, before and
// after the inline decision, at page and run boundaries, and checks that
// PutReader reports the error and leaves no page allocated.
func TestPutReaderErrorFreesPages(t *testing.T) {
	const maxInline = 50
	data := payload1K - headerSize
	boom := errors.New("boom")
	for _, at := range []int{0, 10, maxInline, maxInline + 1, data, data + 1, 16 * data, 16*data + 1, 50 * data} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			s := memstore.New(payload1K)
			keep, err := Put(s, valueOf(3*data, 1), maxInline) // a chain that must survive
			if err != nil {
				t.Fatal(err)
			}
			live := s.Live()
			src := &failAfter{r: bytes.NewReader(valueOf(100*data, 2)), n: at, err: boom}
			cell, _, err := PutReader(s, src, maxInline)
			if !errors.Is(err, boom) || cell != nil {
				t.Fatalf("PutReader = %x, %v; want nil, boom", cell, err)
			}
			if s.Live() != live {
				t.Fatalf("%d pages live after the failed PutReader, want %d", s.Live(), live)
			}
			readAll(t, s, keep, 4096)
		})
	}
}

// TestPutReaderNoProgress checks that a reader returning (0, nil) forever
// makes PutReader fail with io.ErrNoProgress rather than spin.
func TestPutReaderNoProgress(t *testing.T) {
	data := payload1K - headerSize
	for _, before := range []int{0, 20, 3 * data} {
		s := memstore.New(payload1K)
		src := io.MultiReader(bytes.NewReader(valueOf(before, 1)), zeroReader{})
		_, _, err := PutReader(s, src, 10)
		if !errors.Is(err, io.ErrNoProgress) || s.Live() != 0 {
			t.Errorf("after %d bytes: err %v, %d pages live; want ErrNoProgress, 0", before, err, s.Live())
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// TestTooLarge lowers the size limit and checks both writers refuse a
// larger value with ErrTooLarge, leaving no page behind, and accept one at
// the limit.
func TestTooLarge(t *testing.T) {
	defer func(old int64) { sizeLimit = old }(sizeLimit)
	sizeLimit = 5000
	s := memstore.New(payload1K)
	for _, size := range []int{5000, 5001, 20000} {
		value := valueOf(size, 1)
		cell, err := Put(s, value, 10)
		cell2, n, err2 := PutReader(s, bytes.NewReader(value), 10)
		if size <= 5000 {
			if err != nil || err2 != nil || n != int64(size) {
				t.Fatalf("%d bytes: %v, %v", size, err, err2)
			}
			Free(s, cell)
			Free(s, cell2)
			continue
		}
		if !errors.Is(err, errs.ErrTooLarge) || !errors.Is(err2, errs.ErrTooLarge) || cell != nil || cell2 != nil {
			t.Errorf("%d bytes: Put %v, PutReader %v; want ErrTooLarge", size, err, err2)
		}
	}
	if s.Live() != 0 {
		t.Errorf("%d pages live", s.Live())
	}
}

// failingStore fails its allocOK+1'th Alloc or writeOK+1'th WritePage,
// and counts the calls that succeed.
type failingStore struct {
	*memstore.Store
	allocOK, writeOK int
	allocs, writes   int
}

var errDisk = errors.New("disk full")

func (f *failingStore) Alloc(n int) (uint64, error) {
	if f.allocs == f.allocOK {
		return 0, errDisk
	}
	f.allocs++
	return f.Store.Alloc(n)
}

func (f *failingStore) WritePage(pgno uint64, p []byte) error {
	if f.writes == f.writeOK {
		return errDisk
	}
	f.writes++
	return f.Store.WritePage(pgno, p)
}

// TestWriterFailuresFreePages fails Alloc or WritePage at every point of
// writing a multi-run chain and checks that both writers report the error
// and free everything they allocated.
func TestWriterFailuresFreePages(t *testing.T) {
	data := payload1K - headerSize
	value := valueOf((MaxRunPages+60)*data+3, 9) // 2 runs for Put, 8 for PutReader
	for _, streaming := range []bool{false, true} {
		put := func(fs *failingStore) error {
			if streaming {
				_, _, err := PutReader(fs, bytes.NewReader(value), 10)
				return err
			}
			_, err := Put(fs, value, 10)
			return err
		}
		ok := &failingStore{Store: memstore.New(payload1K), allocOK: -1, writeOK: -1}
		if err := put(ok); err != nil {
			t.Fatal(err)
		}
		if ok.writes != ok.Live() || ok.allocs != len(expectedRuns(int64(ok.Live()), streaming)) {
			t.Fatalf("streaming %v: %d allocs and %d writes for %d pages", streaming, ok.allocs, ok.writes, ok.Live())
		}
		nearBoundary, b := map[int]bool{}, 0
		for _, run := range expectedRuns(int64(ok.Live()), streaming) {
			b += run
			for d := -2; d <= 2; d++ {
				nearBoundary[b+d] = true
			}
		}
		for i := range ok.allocs + ok.writes {
			if w := i - ok.allocs; w > 20 && w < ok.writes-20 && w%97 != 0 && !nearBoundary[w] {
				continue // page writes are alike except near the ends and run boundaries
			}
			fs := &failingStore{Store: memstore.New(payload1K), allocOK: i, writeOK: -1}
			if i >= ok.allocs {
				fs.allocOK, fs.writeOK = -1, i-ok.allocs
			}
			if err := put(fs); !errors.Is(err, errDisk) {
				t.Fatalf("streaming %v, failure %d: %v", streaming, i, err)
			}
			if fs.Live() != 0 {
				t.Fatalf("streaming %v, failure %d: %d pages live", streaming, i, fs.Live())
			}
		}
	}
}

// TestStreamingTailFreed checks that PutReader frees the unused pages of
// its last run at once: the next single-page allocation reuses one.
func TestStreamingTailFreed(t *testing.T) {
	s := memstore.New(payload1K)
	cell, _, err := PutReader(s, bytes.NewReader(valueOf(2000, 1)), 10)
	if err != nil {
		t.Fatal(err)
	}
	if s.Live() != 3 {
		t.Fatalf("%d pages live for a 3-page value", s.Live())
	}
	p, _ := s.Alloc(1)
	_, c, _, _ := decodeCell(cell)
	if p < c.first || p >= c.first+16 {
		t.Fatalf("Alloc(1) gave page %d, not a freed page of the run at %d", p, c.first)
	}
	s.Free(pager.Ref{Page: p, Gen: s.Gen()})
}
