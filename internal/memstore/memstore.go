// Package memstore is an in-memory pager.Writer for unit tests of the layers
// above the pager (dirtree, record). It checks the contract strictly: pages
// must be allocated before they are written, read back at the generation
// that wrote them, and freed at most once, so tests catch leaks and misuse.
package memstore

import (
	"fmt"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

type page struct {
	gen  uint64
	data []byte
}

// Store is a page store held in memory. The zero value is not usable; call New.
type Store struct {
	payload int
	gen     uint64
	next    uint64
	pages   map[uint64]page // written pages
	owned   map[uint64]bool // allocated and not freed
	free    []uint64        // reusable page numbers
	Reads   int             // number of Page/ReadPage calls, for tests
}

// New returns an empty store whose pages hold payloadSize bytes, writing at
// generation 1.
func New(payloadSize int) *Store {
	return &Store{payload: payloadSize, gen: 1, next: 3, pages: map[uint64]page{}, owned: map[uint64]bool{}}
}

// PayloadSize implements pager.Reader.
func (s *Store) PayloadSize() int { return s.payload }

// Gen implements pager.Writer.
func (s *Store) Gen() uint64 { return s.gen }

// NextGen simulates a commit: later writes use the next generation.
func (s *Store) NextGen() { s.gen++ }

// Page implements pager.Reader.
func (s *Store) Page(ref pager.Ref) ([]byte, error) {
	s.Reads++
	p, ok := s.pages[ref.Page]
	if !ok || !s.owned[ref.Page] {
		return nil, errs.Corrupt(ref.Page, "page not written or freed")
	}
	if p.gen != ref.Gen {
		return nil, errs.Corrupt(ref.Page, "generation %d, want %d", p.gen, ref.Gen)
	}
	return p.data, nil
}

// ReadPages implements pager.Reader.
func (s *Store) ReadPages(first pager.Ref, dst []byte) error {
	if len(dst) == 0 || len(dst)%s.payload != 0 {
		return fmt.Errorf("memstore: ReadPages into %d bytes", len(dst))
	}
	for i := 0; i < len(dst)/s.payload; i++ {
		b, err := s.Page(pager.Ref{Page: first.Page + uint64(i), Gen: first.Gen})
		if err != nil {
			return err
		}
		copy(dst[i*s.payload:], b)
	}
	return nil
}

// Alloc implements pager.Writer. Freed pages are reused lowest first, but a
// run of n>1 always comes from fresh pages so it is contiguous.
func (s *Store) Alloc(n int) (uint64, error) {
	if n < 1 {
		return 0, fmt.Errorf("memstore: alloc %d pages", n)
	}
	if n == 1 && len(s.free) > 0 {
		p := s.free[len(s.free)-1]
		s.free = s.free[:len(s.free)-1]
		s.owned[p] = true
		delete(s.pages, p)
		return p, nil
	}
	first := s.next
	s.next += uint64(n)
	for p := first; p < s.next; p++ {
		s.owned[p] = true
	}
	return first, nil
}

// Free implements pager.Writer. It panics on a double free or a free of a
// page at the wrong generation: those are bugs in the code under test.
func (s *Store) Free(ref pager.Ref) {
	if !s.owned[ref.Page] {
		panic(fmt.Sprintf("memstore: free of unowned %v", ref))
	}
	if p, ok := s.pages[ref.Page]; ok && p.gen != ref.Gen {
		panic(fmt.Sprintf("memstore: free of %v but page holds gen %d", ref, p.gen))
	}
	delete(s.owned, ref.Page)
	delete(s.pages, ref.Page)
	s.free = append(s.free, ref.Page)
}

// Unalloc implements pager.Writer. It panics if a page was written or is not
// owned: that is a bug in the code under test.
func (s *Store) Unalloc(first uint64, n int) {
	for p := first; p < first+uint64(n); p++ {
		if _, written := s.pages[p]; written || !s.owned[p] {
			panic(fmt.Sprintf("memstore: unalloc of page %d (written %v, owned %v)", p, written, s.owned[p]))
		}
		delete(s.owned, p)
		s.free = append(s.free, p)
	}
}

// WritePage implements pager.Writer.
func (s *Store) WritePage(pgno uint64, payload []byte) error {
	if !s.owned[pgno] {
		return fmt.Errorf("memstore: write of unallocated page %d", pgno)
	}
	if len(payload) != s.payload {
		return fmt.Errorf("memstore: payload %d bytes, want %d", len(payload), s.payload)
	}
	s.pages[pgno] = page{gen: s.gen, data: append([]byte(nil), payload...)}
	return nil
}

// Live returns the number of pages allocated and not freed: after a test
// drops everything it built, Live must be 0.
func (s *Store) Live() int { return len(s.owned) }
