package pager

import "fmt"

// Ref points at a page as a particular commit wrote it. Whoever stores a
// pointer to a page stores the generation it expects, so an older copy of
// the same page put back in its place fails to open.
type Ref struct {
	Page uint64 // page number; 0 means "no page" (page 0 is the header)
	Gen  uint64 // generation (commit number) that wrote the page
}

// IsZero reports whether r points at nothing.
func (r Ref) IsZero() bool { return r.Page == 0 }

// String is "page N@gen G".
func (r Ref) String() string { return fmt.Sprintf("page %d@gen %d", r.Page, r.Gen) }

// Page types: the first byte of every sealed page's payload.
const (
	TypeMeta     byte = 1
	TypeFreelist byte = 2
	TypeBranch   byte = 3
	TypeLeaf     byte = 4
	TypeChain    byte = 5
)

// Reader is what a read path needs from the page store.
type Reader interface {
	// Page returns the decrypted payload of ref: PayloadSize bytes, byte 0
	// being the page type. The slice is shared and must not be modified; it
	// stays valid (it is never reused) for as long as the caller holds it.
	Page(ref Ref) ([]byte, error)
	// ReadPages decrypts the len(dst)/PayloadSize contiguous pages that
	// start at first (all written at first.Gen) into dst, without going
	// through the cache: for pages read once, such as value chains. len(dst)
	// must be a non-zero multiple of PayloadSize.
	ReadPages(first Ref, dst []byte) error
	// PayloadSize is the number of plaintext bytes in each page.
	PayloadSize() int
}

// Writer is what a write path needs: a Reader over the state being built,
// plus page allocation at the generation being written.
type Writer interface {
	Reader
	// Gen is the generation the transaction will commit as; every page it
	// writes is sealed with it.
	Gen() uint64
	// Alloc returns the first of n contiguous pages that no committed state
	// nor open snapshot reaches. The pages belong to the transaction.
	Alloc(n int) (first uint64, err error)
	// Free says the state being built no longer references ref. The page
	// is not handed out again before the transaction commits (so no page is
	// written twice at one generation); an older page only once no snapshot
	// that can reach it remains.
	Free(ref Ref)
	// Unalloc gives back n pages from first on that Alloc returned to this
	// transaction and that were never written: they are reusable at once.
	Unalloc(first uint64, n int)
	// WritePage seals payload (len PayloadSize) as page pgno at Gen() and
	// writes it to the file. pgno must have come from Alloc in this
	// transaction. The payload is not retained.
	WritePage(pgno uint64, payload []byte) error
}
