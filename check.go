package scdb

import (
	"errors"
	"fmt"
	mathbits "math/bits"
	"slices"

	"github.com/streamcrypt/scdb/dirtree"
	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/pager"
	"github.com/streamcrypt/scdb/record"
)

// CheckReport is what an integrity check found.
type CheckReport struct {
	Generation  uint64    // the commit checked
	PageSize    int       // bytes per page
	PageCount   uint64    // pages in the committed file
	Pages       uint64    // pages reached and opened: tree nodes, value chains, freelist pages
	Lists       int       // lists
	Records     int64     // records in all lists
	Bytes       int64     // value bytes in all lists
	FreePages   uint64    // pages the freelist records as free
	LeakedPages uint64    // pages neither reachable nor free
	Problems    []Problem // every problem found; empty for a healthy file
	Warnings    []string  // things worth knowing that are not damage, e.g. a torn last commit
}

// Problem is one defect found by Check. Page is 0 when the defect is not on
// a particular page.
type Problem struct {
	Page    uint64 // the page where it was found; 0 when it concerns no one page
	Message string // what is wrong, in words
}

// String gives the problem as "page N: message" (or the message alone).
func (p Problem) String() string {
	if p.Page == 0 {
		return p.Message
	}
	return fmt.Sprintf("page %d: %s", p.Page, p.Message)
}

// CheckFile opens the file at path read-only and checks it.
func CheckFile(path string, opts Options) (*CheckReport, error) {
	opts.ReadOnly = true
	db, err := Open(path, opts)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Check()
}

// Check verifies the last committed state page by page: every reachable page
// opens (its seal, position and generation), the trees keep their order and
// fill invariants, each list's record count and byte total match its
// records, every value chain has its recorded length, and the reachable
// pages and the free pages are disjoint and together cover the file. It does
// not stop at the first problem. If it finds any, it returns the report
// and an error wrapping ErrCorrupt; a healthy file gives a nil error.
func (db *DB) Check() (*CheckReport, error) {
	tx, err := db.Begin(false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	c := newChecker(tx.rd, db.p.PageSize(), tx.meta)
	c.run()
	rep := c.rep
	if fault := db.p.MetaFault(); fault != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the other meta page did not open (a torn last commit, or damage): %v", fault))
	}
	if len(rep.Problems) > 0 {
		return &rep, fmt.Errorf("%w: %d problems, first: %s", ErrCorrupt, len(rep.Problems), rep.Problems[0])
	}
	return &rep, nil
}

// checker walks one committed state, marking every page it reaches.
type checker struct {
	r         pager.Reader
	meta      pager.Meta
	rep       CheckReport
	reachable bitset
	free      bitset
	dirLeaf   uint64 // the directory leaf whose entries are being checked
}

func newChecker(r pager.Reader, pageSize int, meta pager.Meta) *checker {
	return &checker{
		r:    r,
		meta: meta,
		rep: CheckReport{Generation: meta.Gen, PageSize: pageSize, PageCount: meta.PageCount,
			Problems: []Problem{}},
		reachable: bitset{},
		free:      bitset{},
	}
}

func (c *checker) problem(pgno uint64, format string, args ...any) {
	c.rep.Problems = append(c.rep.Problems, Problem{Page: pgno, Message: fmt.Sprintf(format, args...)})
}

// problemErr records err, naming its page when it has one.
func (c *checker) problemErr(pgno uint64, err error) {
	var pe *CorruptPageError
	if errors.As(err, &pe) {
		pgno = pe.Page
	}
	c.problem(pgno, "%v", err)
}

// reach marks a page reachable, reporting one outside the file or reached
// twice.
func (c *checker) reach(ref pager.Ref, what string) {
	switch {
	case ref.Page < pager.FirstDataPage || ref.Page >= c.meta.PageCount:
		c.problem(ref.Page, "%s outside the file's pages %d..%d", what, pager.FirstDataPage, c.meta.PageCount-1)
	case c.reachable.has(ref.Page):
		c.problem(ref.Page, "%s is reachable twice", what)
	default:
		c.reachable.set(ref.Page)
		c.rep.Pages++
	}
}

func (c *checker) run() {
	c.checkFreelist()
	dir := dirtree.Open(c.r, c.meta.Tree)
	dir.Check(dirtree.CheckFuncs{
		Page: func(ref pager.Ref, leaf bool) {
			c.reach(ref, "directory node")
			if leaf {
				c.dirLeaf = ref.Page
			}
		},
		Value:   c.checkList,
		Problem: func(pgno uint64, msg string) { c.problem(pgno, "directory tree: %s", msg) },
	})
	// Counted from the pages seen rather than by visiting every page number
	// below the page count: the cost of a check follows the pages it reached,
	// never a count the meta claims.
	for _, pgno := range c.reachable.and(c.free) {
		c.problem(pgno, "page is both in use and free")
	}
	c.rep.LeakedPages = c.meta.PageCount - pager.FirstDataPage - c.reachable.or(c.free)
	switch {
	case c.rep.LeakedPages > 0 && len(c.rep.Problems) > 0:
		c.problem(0, "%d pages are neither reachable nor free: beneath the damage above, or leaked", c.rep.LeakedPages)
	case c.rep.LeakedPages > 0:
		c.problem(0, "%d pages are neither reachable nor free (leaked)", c.rep.LeakedPages)
	}
}

func (c *checker) checkFreelist() {
	err := freelist.Walk(c.r, c.meta,
		func(ref pager.Ref) { c.reach(ref, "freelist page") },
		func(start, n uint64) error {
			for pgno := start; pgno < start+n; pgno++ {
				if c.free.has(pgno) {
					return fmt.Errorf("page %d is free twice", pgno)
				}
				c.free.set(pgno)
				c.rep.FreePages++
			}
			return nil
		})
	if err != nil {
		c.problemErr(c.meta.Freelist.Page, err)
	}
}

// checkList checks one list: its entry, its tree and every value chain.
func (c *checker) checkList(name, raw []byte) {
	dirLeaf := c.dirLeaf // the page that holds the entry, named by problems with it
	entry, err := decodeListEntry(raw)
	if err != nil {
		c.problem(dirLeaf, "list %q: %v", name, err)
		return
	}
	if entry.count > 0 {
		c.rep.Lists++
	}
	var count, total uint64
	tree := dirtree.Open(c.r, entry.root)
	tree.Check(dirtree.CheckFuncs{
		Page: func(ref pager.Ref, _ bool) { c.reach(ref, fmt.Sprintf("list %q node", name)) },
		Value: func(id, cell []byte) {
			count++
			size, err := record.Size(cell)
			if err != nil {
				c.problem(0, "list %q id %q: %v", name, id, err)
				return
			}
			total += uint64(size)
			err = record.Pages(c.r, cell, func(ref pager.Ref) { c.reach(ref, fmt.Sprintf("list %q id %q value", name, id)) })
			if err != nil {
				c.problemErr(0, fmt.Errorf("list %q id %q: %w", name, id, err))
			}
		},
		Problem: func(pgno uint64, msg string) { c.problem(pgno, "list %q: %s", name, msg) },
	})
	if count != entry.count {
		c.problem(dirLeaf, "list %q: entry says %d records, tree holds %d", name, entry.count, count)
	}
	if total != entry.bytes {
		c.problem(dirLeaf, "list %q: entry says %d value bytes, records hold %d", name, entry.bytes, total)
	}
	c.rep.Records += int64(count)
	c.rep.Bytes += int64(total)
}

// bitset is a set of page numbers, kept sparse (64 pages per word, words
// by index) so that its size follows the pages marked, not the page count.
type bitset map[uint64]uint64

func (b bitset) has(i uint64) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i uint64)      { b[i/64] |= 1 << (i % 64) }

// and returns the pages in both b and o, in ascending order.
func (b bitset) and(o bitset) []uint64 {
	var out []uint64
	for w, bits := range b {
		for both := bits & o[w]; both != 0; both &= both - 1 {
			out = append(out, w*64+uint64(mathbits.TrailingZeros64(both)))
		}
	}
	slices.Sort(out)
	return out
}

// or returns how many pages are in b, o or both.
func (b bitset) or(o bitset) uint64 {
	var n int
	for w, bits := range b {
		n += mathbits.OnesCount64(bits | o[w])
	}
	for w, bits := range o {
		if _, dup := b[w]; !dup {
			n += mathbits.OnesCount64(bits)
		}
	}
	return uint64(n)
}
