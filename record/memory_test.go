package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// patternStore is a pager.Writer that keeps no page content: it checks
// that every chain page written holds a prefix of pattern (value byte i is
// pattern[i % len(pattern)], so every full page holds all of it) followed
// by zeros, keeps the page's header and value byte count, and regenerates
// the page on read. Memory stays a few dozen bytes per page whatever the
// value's size, so heap growth measures the code under test.
type patternStore struct {
	payload int
	pattern []byte
	next    uint64
	pages   map[uint64]patternPage
	owned   map[uint64]bool
	err     error // first malformed write
}

type patternPage struct {
	header [headerSize]byte
	n      int // value bytes
}

func newPatternStore(payload int) *patternStore {
	return &patternStore{
		payload: payload, pattern: valueOf(payload-headerSize, 77), next: pager.FirstDataPage,
		pages: map[uint64]patternPage{}, owned: map[uint64]bool{},
	}
}

func (s *patternStore) PayloadSize() int { return s.payload }
func (s *patternStore) Gen() uint64      { return 1 }

func (s *patternStore) Alloc(n int) (uint64, error) {
	first := s.next
	s.next += uint64(n)
	for p := first; p < s.next; p++ {
		s.owned[p] = true
	}
	return first, nil
}

func (s *patternStore) Free(ref pager.Ref) {
	delete(s.owned, ref.Page)
	delete(s.pages, ref.Page)
}

func (s *patternStore) Unalloc(first uint64, n int) {
	for p := first; p < first+uint64(n); p++ {
		delete(s.owned, p)
	}
}

func (s *patternStore) WritePage(pgno uint64, p []byte) error {
	n := int(binary.LittleEndian.Uint16(p[2:]))
	ok := s.owned[pgno] && len(p) == s.payload && n <= len(s.pattern) &&
		bytes.Equal(p[headerSize:headerSize+n], s.pattern[:n]) &&
		bytes.Count(p[headerSize+n:], []byte{0}) == len(p)-headerSize-n
	if !ok && s.err == nil {
		s.err = fmt.Errorf("page %d written with unexpected content", pgno)
	}
	var pp patternPage
	copy(pp.header[:], p)
	pp.n = n
	s.pages[pgno] = pp
	return nil
}

func (s *patternStore) Page(ref pager.Ref) ([]byte, error) {
	p := make([]byte, s.payload)
	return p, s.ReadPages(ref, p)
}

func (s *patternStore) ReadPages(first pager.Ref, dst []byte) error {
	for i := 0; i < len(dst)/s.payload; i++ {
		pp, ok := s.pages[first.Page+uint64(i)]
		if !ok {
			return fmt.Errorf("page %d not written", first.Page+uint64(i))
		}
		p := dst[i*s.payload : (i+1)*s.payload]
		copy(p, pp.header[:])
		clear(p[headerSize+copy(p[headerSize:], s.pattern[:pp.n]):])
	}
	return nil
}

// patternReader yields size bytes of the pattern, sampling the heap.
type patternReader struct {
	pattern []byte
	off     int64
	size    int64
	heap    *heapSampler
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off == r.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.off < r.size {
		i := int(r.off % int64(len(r.pattern)))
		m := copy(p[n:min(len(p), n+int(r.size-r.off))], r.pattern[i:])
		n += m
		r.off += int64(m)
	}
	r.heap.maybeSample(r.off)
	return n, nil
}

// patternChecker checks what is written to it against the pattern,
// sampling the heap.
type patternChecker struct {
	pattern []byte
	off     int64
	heap    *heapSampler
}

func (c *patternChecker) Write(p []byte) (int, error) {
	for n := 0; n < len(p); {
		i := int(c.off % int64(len(c.pattern)))
		m := min(len(p)-n, len(c.pattern)-i)
		if !bytes.Equal(p[n:n+m], c.pattern[i:i+m]) {
			return n, fmt.Errorf("wrong bytes at offset %d", c.off)
		}
		n += m
		c.off += int64(m)
	}
	c.heap.maybeSample(c.off)
	return len(p), nil
}

// heapSampler records the largest HeapInuse seen, sampling every 2 MiB of
// progress.
type heapSampler struct {
	peak    uint64
	at      int64 // offset of the last sample
	samples int
}

func (h *heapSampler) maybeSample(off int64) {
	if off-h.at < 2<<20 {
		return
	}
	h.at = off
	h.samples++
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peak = max(h.peak, ms.HeapInuse)
}

// TestMemoryFlat streams a 64 MiB value in with PutReader and out with a
// Reader (both Read and WriteTo) and checks the heap never grows more than
// 16 MiB over where it started: neither side may buffer the value.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 64 MiB")
	}
	const size = 64 << 20
	s := newPatternStore(payload4K)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	in := &heapSampler{}
	cell, n, err := PutReader(s, &patternReader{pattern: s.pattern, size: size, heap: in}, 1000)
	if err != nil || n != size || s.err != nil {
		t.Fatalf("PutReader = %d, %v (store: %v)", n, err, s.err)
	}
	// Read the first 8 MiB in odd-sized Reads, the rest with WriteTo.
	out := &heapSampler{}
	chk := &patternChecker{pattern: s.pattern, heap: out}
	rd, err := NewReader(s, cell)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyBuffer(chk, io.LimitReader(rd, 8<<20), make([]byte, 12345)); err != nil {
		t.Fatal(err)
	}
	if _, err := rd.WriteTo(chk); err != nil || chk.off != size {
		t.Fatalf("WriteTo: %v after %d bytes", err, chk.off)
	}
	for _, h := range []*heapSampler{in, out} {
		if h.samples < 30 {
			t.Fatalf("only %d heap samples", h.samples)
		}
		if grew := int64(h.peak) - int64(base); grew > 16<<20 {
			t.Fatalf("heap in use grew by %d MiB while streaming 64 MiB", grew>>20)
		}
	}
	if err := Free(s, cell); err != nil || len(s.owned) != 0 {
		t.Fatalf("Free = %v, %d pages left", err, len(s.owned))
	}
}

// TestReaderBuffersBounded checks a Reader's read-ahead buffer stays
// within 64 KiB plus one page for every page size, and is let go at the
// end of the value.
func TestReaderBuffersBounded(t *testing.T) {
	for _, payload := range []int{payload1K, 2008, payload4K, 16344, 65496} {
		s := memstore.New(payload)
		for _, pages := range []int{1, 3, 200} {
			cell, err := Put(s, valueOf(pages*(payload-headerSize), 1), 10)
			if err != nil {
				t.Fatal(err)
			}
			rd, err := NewReader(s, cell)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rd.Read(make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
			if n := cap(rd.wk.buf); n > 64<<10+payload {
				t.Errorf("payload %d, %d pages: Reader buffer of %d bytes", payload, pages, n)
			}
			if _, err := rd.WriteTo(io.Discard); err != nil {
				t.Fatal(err)
			}
			if rd.wk.buf != nil {
				t.Errorf("payload %d, %d pages: buffer kept after the end of the value", payload, pages)
			}
		}
	}
}

// TestReaderBatches counts ReadPages calls: a value in one contiguous run
// must be read one batch (64 KiB) at a time, not a page at a time, and the
// first batch of a run may hold at most minRunPages pages.
func TestReaderBatches(t *testing.T) {
	cases := []struct {
		payload, size int
		streaming     bool
		calls         int
	}{
		{payload4K, 64 << 10, false, 2},      // 17 pages: 16 + 1
		{payload1K, 64 << 10, false, 2},      // 69 pages: 16 + 53
		{payload4K, 16 * 4032, false, 1},     // 16 pages
		{payload4K, 1 << 20, false, 17},      // 261 pages: 16 + 15×16 + 5
		{payload4K, 40 * 4032, true, 1 + 2},  // runs of 16 and 24 pages: 16 + 16 + 8
		{65496, 64 << 10, false, 2},          // 2 pages, one per batch
		{payload1K, 961, false, 1},           // 2 pages
		{payload1K, 3 * 960, true, 1},        // 3 pages
		{payload4K, 2000 * 4032, false, 125}, // runs of 1024 and 976: 1+63 + 1+60
	}
	for _, tc := range cases {
		s := &countingStore{Store: memstore.New(tc.payload)}
		var cell []byte
		var err error
		if tc.streaming {
			cell, _, err = PutReader(s, bytes.NewReader(valueOf(tc.size, 1)), 10)
		} else {
			cell, err = Put(s, valueOf(tc.size, 1), 10)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, how := range []string{"Value", "WriteTo"} {
			s.readPagesCalls = 0
			if how == "Value" {
				_, err = Value(s, cell)
			} else {
				rd, _ := NewReader(s, cell)
				_, err = rd.WriteTo(io.Discard)
			}
			if err != nil || s.readPagesCalls != tc.calls {
				t.Errorf("payload %d, %d bytes, %s: %d ReadPages calls, %v; want %d", tc.payload, tc.size, how, s.readPagesCalls, err, tc.calls)
			}
		}
	}
}
