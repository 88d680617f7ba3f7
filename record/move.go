package record

import (
	"math"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Move copies the value cell describes to pages w allocates when a page of
// its chain is numbered at or above limit, frees the old pages, and returns
// the new cell (of the same length). For an inline value, or a chain wholly
// below limit, it returns nil and changes nothing. It is how a shrinking
// file moves values off its end: w is expected to allocate below limit.
//
// It reads the run heads first, checking the chain as Free does (unless
// the chain is short enough to be one run, wholly below limit), then
// streams the value from the old pages into the new ones, holding a batch
// of pages at a time whatever the size. On error it has freed every page it
// allocated and kept the old chain.
func Move(w pager.Writer, cell []byte, limit uint64) ([]byte, error) {
	_, c, inline, err := decodeCell(cell)
	if err != nil || inline {
		return nil, err
	}
	if c.gen > w.Gen() {
		return nil, errs.Corrupt(c.first, "chain written at generation %d, after the current %d", c.gen, w.Gen())
	}
	g, err := geometryOf(w)
	if err != nil {
		return nil, err
	}
	// A chain of at most minRunPages pages is one run (FORMAT.md §10.4.2.2:
	// every run but the last has at least that many): where it lies is
	// known without reading it.
	if n := g.pagesFor(c.size); n <= minRunPages && c.first < limit && n <= int64(limit-c.first) {
		return nil, nil
	}
	runs, err := chainRuns(w, c)
	if err != nil {
		return nil, err
	}
	high := false
	for _, r := range runs {
		high = high || r.first+uint64(r.pages) > limit
	}
	if !high {
		return nil, nil
	}
	rd, err := NewReader(w, cell)
	if err != nil {
		return nil, err
	}
	cw := newChainWriter(w, g, g.pagesFor(c.size))
	if err := cw.readFrom(rd); err != nil {
		cw.abort()
		return nil, err
	}
	moved, err := cw.finish()
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		for i := range r.pages {
			w.Free(c.ref(r.first + uint64(i)))
		}
	}
	return moved, nil
}

// Run is a run of consecutive pages of a value chain.
type Run struct {
	First uint64 // its first page
	Pages int64  // how many
}

// Runs returns the runs of the chain cell describes (none for an inline
// value). A chain of at most minRunPages pages is one run, so only a
// longer one's run heads are read (and checked, as Free does).
func Runs(r pager.Reader, cell []byte) ([]Run, error) {
	_, c, inline, err := decodeCell(cell)
	if err != nil || inline {
		return nil, err
	}
	g, err := geometryOf(r)
	if err != nil {
		return nil, err
	}
	if n := g.pagesFor(c.size); n <= minRunPages {
		if c.first > math.MaxUint64-uint64(n) {
			return nil, errs.Corrupt(c.first, "chain of %d pages past the largest page number", n)
		}
		return []Run{{c.first, n}}, nil
	}
	runs, err := chainRuns(r, c)
	if err != nil {
		return nil, err
	}
	out := make([]Run, len(runs))
	for i, x := range runs {
		out[i] = Run{x.first, int64(x.pages)}
	}
	return out, nil
}
