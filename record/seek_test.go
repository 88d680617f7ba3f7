package record

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// pageCounter counts the pages read through it.
type pageCounter struct {
	*memstore.Store
	pages int
}

func (s *pageCounter) ReadPages(first pager.Ref, dst []byte) error {
	s.pages += len(dst) / s.PayloadSize()
	return s.Store.ReadPages(first, dst)
}

// TestSeekAndReadAt reads random ranges of chains of several run layouts,
// through Seek then Read and through ReadAt, against the value.
func TestSeekAndReadAt(t *testing.T) {
	layouts := [][]int{{1}, {3}, {16, 1}, {16, 20, 1024, 5}, {40, 16, 16, 2}}
	for _, runs := range layouts {
		s := &pageCounter{Store: memstore.New(128)}
		pages := 0
		for _, n := range runs {
			pages += n
		}
		value := valueOf(pages*(128-headerSize)-7, 3)
		cell := writeChain(t, s.Store, value, runs)
		checkRandomAccess(t, s, cell, value)
	}
	s := &pageCounter{Store: memstore.New(128)}
	checkRandomAccess(t, s, inlineCell([]byte("an inline value")), []byte("an inline value"))
}

func checkRandomAccess(t *testing.T, r pager.Reader, cell, value []byte) {
	t.Helper()
	rd, err := NewReader(r, cell)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, uint64(len(value))))
	size := int64(len(value))
	for range 200 {
		off := rng.Int64N(size + 10)
		buf := make([]byte, rng.IntN(3000))
		want := value[min(off, size):min(off+int64(len(buf)), size)]
		if pos, err := rd.Seek(off, io.SeekStart); err != nil || pos != off {
			t.Fatalf("Seek(%d): %d, %v", off, pos, err)
		}
		n, err := io.ReadFull(rd, buf)
		if !bytes.Equal(buf[:n], want) || (err != nil && n == len(buf)) {
			t.Fatalf("Read of %d bytes at %d of %d: %d bytes, %v; want %d bytes equal", len(buf), off, size, n, err, len(want))
		}
		n, err = rd.ReadAt(buf, off)
		if !bytes.Equal(buf[:n], want) || (n < len(buf)) != (err == io.EOF) {
			t.Fatalf("ReadAt of %d bytes at %d of %d: %d bytes, %v; want %d bytes equal", len(buf), off, size, n, err, len(want))
		}
	}
	// Seek relative to the end and the current offset; ReadAt leaves the
	// offset alone.
	if pos, err := rd.Seek(-5, io.SeekEnd); err != nil || pos != size-5 {
		t.Fatalf("Seek(-5, End): %d, %v", pos, err)
	}
	if _, err := rd.ReadAt(make([]byte, 1), 0); err != nil {
		t.Fatal(err)
	}
	if pos, err := rd.Seek(0, io.SeekCurrent); err != nil || pos != size-5 {
		t.Fatalf("Seek(0, Current) after ReadAt: %d, %v; want %d", pos, err, size-5)
	}
	if rest, err := io.ReadAll(rd); err != nil || !bytes.Equal(rest, value[size-5:]) {
		t.Fatalf("the last 5 bytes: %q, %v", rest, err)
	}
	if _, err := rd.Seek(-1, io.SeekStart); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("Seek before the start: %v, want ErrInvalid", err)
	}
}

// ReadAt in the middle of a long chain reads the run heads before it and
// the pages it needs, not the pages between.
func TestReadAtReadsOnlyNeededPages(t *testing.T) {
	s := &pageCounter{Store: memstore.New(128)}
	runs := []int{1024, 1024, 1024, 100}
	value := valueOf((3*1024+100)*(128-headerSize), 5)
	cell := writeChain(t, s.Store, value, runs)
	rd, err := NewReader(s, cell)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 300) // 3 or 4 pages
	off := int64(2500 * (128 - headerSize))
	if n, err := rd.ReadAt(buf, off); n != len(buf) || err != nil || !bytes.Equal(buf, value[off:off+300]) {
		t.Fatalf("ReadAt: %d, %v", n, err)
	}
	// Three heads (the third run holds page 2500), then at most 5 pages.
	if s.pages > 3+5 {
		t.Errorf("ReadAt of 300 bytes at page 2500 read %d pages, want at most 8", s.pages)
	}
	s.pages = 0
	if _, err := rd.ReadAt(buf, off+1000); err != nil {
		t.Fatal(err)
	}
	if s.pages > 5 {
		t.Errorf("a second ReadAt read %d pages, want at most 5: the heads are remembered", s.pages)
	}
}

// A damaged page is found by a random read as by a sequential one.
func TestReadAtFindsDamage(t *testing.T) {
	s := memstore.New(128)
	value := valueOf(40*(128-headerSize), 9)
	cell := writeChain(t, s, value, []int{20, 20})
	_, c, _, _ := decodeCell(cell)
	rewritePage(t, s, c.first+25, func(p []byte) { p[8]++ }) // the owner field of a continuation page
	rd, err := NewReader(s, cell)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rd.ReadAt(make([]byte, 10), 25*(128-headerSize)+3)
	wantPageError(t, "ReadAt of a damaged page", err, c.first+25)
	if _, err := rd.ReadAt(make([]byte, 10), 0); err != nil {
		t.Errorf("ReadAt of a sound page after a failed one: %v", err)
	}
}
