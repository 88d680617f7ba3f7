package record

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// Payload sizes of 1 KiB and 4 KiB pages (page size minus the 40-byte
// sealing overhead).
const (
	payload1K = 984
	payload4K = 4056
)

// valueOf returns n deterministic bytes that differ with seed.
func valueOf(n int, seed byte) []byte {
	v := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range v {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		v[i] = byte(x)
	}
	return v
}

// countingStore wraps a memstore.Store, counts ReadPages calls and
// records the largest Alloc.
type countingStore struct {
	*memstore.Store
	readPagesCalls int
	maxAlloc       int
}

func (s *countingStore) Alloc(n int) (uint64, error) {
	s.maxAlloc = max(s.maxAlloc, n)
	return s.Store.Alloc(n)
}

func (s *countingStore) ReadPages(first pager.Ref, dst []byte) error {
	s.readPagesCalls++
	return s.Store.ReadPages(first, dst)
}

// rewritePage applies fn to the payload of page pgno (written at the store's
// current generation) and writes it back, for corruption tests.
func rewritePage(t testing.TB, s *memstore.Store, pgno uint64, fn func(p []byte)) {
	t.Helper()
	p := make([]byte, s.PayloadSize())
	if err := s.ReadPages(pager.Ref{Page: pgno, Gen: s.Gen()}, p); err != nil {
		t.Fatalf("reading page %d to damage it: %v", pgno, err)
	}
	fn(p)
	if err := s.WritePage(pgno, p); err != nil {
		t.Fatalf("writing damaged page %d: %v", pgno, err)
	}
}

// readAll reads the value of cell with Value, with a Reader through Read
// calls of chunk bytes, and with a Reader through WriteTo, and checks all
// three agree; it returns the value.
func readAll(t testing.TB, r pager.Reader, cell []byte, chunk int) []byte {
	t.Helper()
	v, err := Value(r, cell)
	if err != nil {
		t.Fatalf("Value: %v", err)
	}
	got, err := readChunks(r, cell, chunk)
	if err != nil {
		t.Fatalf("Reader.Read: %v", err)
	}
	if !bytes.Equal(got, v) {
		t.Fatalf("Reader.Read gave %d bytes, Value %d bytes, and they differ", len(got), len(v))
	}
	rd, err := NewReader(r, cell)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var buf bytes.Buffer
	if n, err := rd.WriteTo(&buf); err != nil || n != int64(len(v)) {
		t.Fatalf("WriteTo = %d, %v; want %d, nil", n, err, len(v))
	}
	if !bytes.Equal(buf.Bytes(), v) {
		t.Fatalf("WriteTo and Value differ")
	}
	return v
}

// readChunks reads the value of cell through Reader.Read calls of chunk bytes.
func readChunks(r pager.Reader, cell []byte, chunk int) ([]byte, error) {
	rd, err := NewReader(r, cell)
	if err != nil {
		return nil, err
	}
	var out []byte
	p := make([]byte, chunk)
	for {
		n, err := rd.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if n == 0 {
			return out, fmt.Errorf("Read(%d bytes) returned 0, nil", chunk)
		}
	}
}

// wantCorrupt fails t unless err wraps errs.ErrCorrupt.
func wantCorrupt(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, errs.ErrCorrupt) {
		t.Errorf("%s: got %v, want an error wrapping ErrCorrupt", what, err)
	}
}

// wantPageError fails t unless err is a *errs.PageError naming page.
func wantPageError(t testing.TB, what string, err error, page uint64) {
	t.Helper()
	var pe *errs.PageError
	if !errors.As(err, &pe) {
		t.Errorf("%s: got %v, want a *errs.PageError", what, err)
		return
	}
	if pe.Page != page {
		t.Errorf("%s: error names page %d, want %d (%v)", what, pe.Page, page, err)
	}
}

// expectedRuns returns the run lengths the writers produce for a chain of
// pages pages: runs of up to MaxRunPages when the size is known (Put), or
// 16, 32, ... MaxRunPages when streaming (PutReader).
func expectedRuns(pages int64, streaming bool) []int {
	var runs []int
	for left, i := pages, 0; left > 0; i++ {
		n := int64(MaxRunPages)
		if streaming {
			n = int64(min(16<<min(i, 6), MaxRunPages))
		}
		n = min(n, left)
		runs = append(runs, int(n))
		left -= n
	}
	return runs
}

// writeChain writes value as a chain with the given run lengths (which
// must add up to the chain's page count) by hand, bypassing the writers,
// and returns its cell: for testing readers against layouts the writers do
// not produce.
func writeChain(t testing.TB, s *memstore.Store, value []byte, runs []int) []byte {
	t.Helper()
	g := geometry{payload: s.PayloadSize(), data: s.PayloadSize() - headerSize}
	firsts := make([]uint64, len(runs))
	for i, n := range runs {
		p, err := s.Alloc(n)
		if err != nil {
			t.Fatal(err)
		}
		firsts[i] = p
	}
	page := make([]byte, g.payload)
	off := 0
	for i, n := range runs {
		for k := range n {
			clear(page)
			used := copy(page[headerSize:], value[off:])
			off += used
			putUsed(page, used)
			if k == 0 {
				next := uint64(0)
				if i+1 < len(runs) {
					next = firsts[i+1]
				}
				putHead(page, n, firsts[0], next)
			} else {
				putCont(page, k, firsts[0])
			}
			if err := s.WritePage(firsts[i]+uint64(k), page); err != nil {
				t.Fatal(err)
			}
		}
	}
	if off != len(value) {
		t.Fatalf("runs %v hold %d of %d bytes", runs, off, len(value))
	}
	return chainCell{size: int64(len(value)), first: firsts[0], gen: s.Gen()}.encode()
}
