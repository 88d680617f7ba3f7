package record

import (
	"cmp"
	"io"
	"slices"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Free tells w that the value cell describes is gone: it frees every page
// of its chain (nothing, for an inline cell). It reads only the head of
// each run, one page per run, and checks the run structure before freeing
// anything, so a damaged chain fails with no page freed.
func Free(w pager.Writer, cell []byte) error {
	_, c, inline, err := decodeCell(cell)
	if err != nil || inline {
		return err
	}
	if c.gen > w.Gen() {
		return errs.Corrupt(c.first, "chain written at generation %d, after the current %d", c.gen, w.Gen())
	}
	runs, err := chainRuns(w, c)
	if err != nil {
		return err
	}
	for _, r := range runs {
		for i := range r.pages {
			w.Free(c.ref(r.first + uint64(i)))
		}
	}
	return nil
}

// chainRuns reads the head of every run of chain c and returns the runs,
// checking that their lengths add up to the chain's size and that no two
// overlap (continuation pages are not read, so nothing else would notice).
func chainRuns(r pager.Reader, c chainCell) ([]run, error) {
	g, err := geometryOf(r)
	if err != nil {
		return nil, err
	}
	head := make([]byte, g.payload)
	var runs []run
	var seen heads
	left := g.pagesFor(c.size)
	for next := c.first; left > 0; {
		if err := seen.visit(next); err != nil {
			return nil, err
		}
		if err := r.ReadPages(c.ref(next), head); err != nil {
			return nil, err
		}
		n, after, err := checkHead(head, g, next, c, left)
		if err != nil {
			return nil, err
		}
		runs = append(runs, run{first: next, pages: n})
		left -= int64(n)
		next = after
	}
	sorted := slices.SortedFunc(slices.Values(runs), func(a, b run) int { return cmp.Compare(a.first, b.first) })
	for i := 1; i < len(sorted); i++ {
		if prev := sorted[i-1]; prev.first+uint64(prev.pages) > sorted[i].first {
			return nil, errs.Corrupt(sorted[i].first, "run overlaps the run of %d pages at page %d", prev.pages, prev.first)
		}
	}
	return runs, nil
}

// Pages calls fn with every page of the chain cell describes, in chain
// order, after reading and checking it (nothing, for an inline cell). It is
// meant for an integrity checker: it reads every page, as Reader does.
func Pages(r pager.Reader, cell []byte, fn func(ref pager.Ref)) error {
	_, c, inline, err := decodeCell(cell)
	if err != nil || inline {
		return err
	}
	wk, err := newWalker(r, c)
	if err != nil {
		return err
	}
	defer wk.release()
	for {
		pages, _, err := wk.batch()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		// The batch holds the runPos pages ending at the walker's position.
		n := len(pages) / wk.g.payload
		first := wk.runHead + uint64(wk.runPos-n)
		for i := range n {
			fn(c.ref(first + uint64(i)))
		}
	}
}
