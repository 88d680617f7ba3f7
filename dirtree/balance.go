package dirtree

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// This file keeps the tree's shape: it splits nodes that overflow and
// rebalances nodes that shrink below half full. The size arguments behind
// the fill bounds are in limits.go.

// fixChild restores the fill rules for child i of n after an operation
// changed it; before is the child's size before the operation. key is the
// key the operation was about; onPut says the operation was a Put, which
// may split the rightmost spine unevenly (appends).
func (t *Tree) fixChild(n *node, i, before int, key []byte, onPut bool) error {
	c := t.nodes[n.kids[i].Page]
	capc := c.capacity(t.payload)
	switch {
	case c.used > capc:
		appending := onPut && t.onSpine(n, i) && bytes.Compare(key, c.lastKey()) >= 0
		if c.leaf && !appending {
			if shared, err := t.shareLeaf(n, i); shared || err != nil {
				return err
			}
		}
		right, sep, err := t.split(c, appending)
		if err != nil {
			return err
		}
		n.insertSep(i, sep, right.ref(t.gen))
		if c.leaf && !appending {
			// The halves may fit, with siblings, in as many leaves as
			// there were before the split: the overflow spreads over them.
			return t.compactLeaves(n, i)
		}
	case c.used < before && c.used*2 < capc && len(n.kids) > 1:
		return t.rebalance(n, i)
	case c.leaf && c.used < before && c.used*compactBelowDen < capc*compactBelowNum && len(n.kids) > 1 &&
		!(onPut && t.onSpine(n, i) && bytes.Compare(key, c.lastKey()) >= 0):
		return t.compactLeaves(n, i)
	}
	return nil
}

// onSpine reports whether child i of n lies on the rightmost spine: n is
// on it (the caller knows n is, when it is the root path so far; we check
// by walking from the root) and i is its last child.
func (t *Tree) onSpine(n *node, i int) bool {
	if i != len(n.kids)-1 {
		return false
	}
	for m := t.nodes[t.root.Page]; m != nil && !m.leaf; m = t.owned(m.kids[len(m.kids)-1]) {
		if m == n {
			return true
		}
	}
	return false
}

// fixRoot restores the root after an operation: an empty root leaf leaves
// an empty tree, a root branch with one child gives way to that child, an
// overflowing root splits under a new root.
func (t *Tree) fixRoot(key []byte, onPut bool) error {
	for {
		r := t.owned(t.root)
		if r == nil {
			return nil
		}
		switch {
		case len(r.keys) == 0 && r.leaf:
			t.freeNode(r)
			t.root = pager.Ref{}
			return nil
		case len(r.keys) == 0:
			t.root = r.kids[0]
			t.freeNode(r)
			continue
		case r.used > r.capacity(t.payload):
			right, sep, err := t.split(r, onPut && bytes.Compare(key, r.lastKey()) >= 0)
			if err != nil {
				return err
			}
			nr, err := t.newNode(false)
			if err != nil {
				return err
			}
			nr.kids = []pager.Ref{r.ref(t.gen)}
			nr.insertSep(0, sep, right.ref(t.gen))
			t.root = nr.ref(t.gen)
		}
		return nil
	}
}

// split moves the upper part of the overfull node n into a new right
// sibling and returns it with the separator for the parent. Normally the
// bytes are shared out evenly; with appending set, n keeps all it can and
// the sibling gets only the last cell (leaf) or separator (branch), as long
// as n still meets the fill minimum.
func (t *Tree) split(n *node, appending bool) (right *node, sep []byte, err error) {
	sizes := cellSizes(n)
	var at int
	if n.leaf {
		at = t.leafSplitAt(sizes, n.used, appending)
	} else {
		at = t.branchSplitAt(sizes, n.used, appending)
	}
	if at <= 0 || at >= len(sizes) || (!n.leaf && at >= len(sizes)-1) {
		return nil, nil, fmt.Errorf("dirtree: internal error: cannot split node %d of %d cells", n.pgno, len(sizes))
	}
	if right, err = t.newNode(n.leaf); err != nil {
		return nil, nil, err
	}
	// The node's own cell count is a fair guess at what the sibling will
	// grow to, so size the sibling's slices for it.
	room := len(n.keys) + 1
	if n.leaf {
		right.keys = append(make([][]byte, 0, room), n.keys[at:]...)
		right.vals = append(make([][]byte, 0, room), n.vals[at:]...)
		clear(n.keys[at:])
		clear(n.vals[at:])
		n.keys, n.vals = n.keys[:at], n.vals[:at]
		sep = separator(n.keys[at-1], right.keys[0])
	} else {
		sep = n.keys[at]
		right.keys = append(make([][]byte, 0, room), n.keys[at+1:]...)
		right.kids = append(make([]pager.Ref, 0, room+1), n.kids[at+1:]...)
		clear(n.keys[at:])
		clear(n.kids[at+1:])
		n.keys, n.kids = n.keys[:at], n.kids[:at+1]
	}
	n.used, right.used = n.computeUsed(), right.computeUsed()
	n.changed = true
	capn := n.capacity(t.payload)
	if n.used > capn || right.used > capn {
		return nil, nil, fmt.Errorf("dirtree: internal error: split of node %d left %d+%d bytes", n.pgno, n.used, right.used)
	}
	return right, sep, nil
}

func cellSizes(n *node) []int {
	sizes := make([]int, len(n.keys))
	for i := range sizes {
		sizes[i] = n.cellSize(i)
	}
	return sizes
}

// leafSplitAt returns the index of the first cell of the right node.
func (t *Tree) leafSplitAt(sizes []int, total int, appending bool) int {
	n := len(sizes)
	if appending && n >= 2 {
		left := total - sizes[n-1]
		if left <= leafCap(t.payload) && !underMinFill(true, left, t.payload) {
			return n - 1
		}
	}
	best, bestDiff, left := 0, -1, 0
	for i := 1; i < n; i++ {
		left += sizes[i-1]
		diff := 2*left - total
		if diff < 0 {
			diff = -diff
		}
		if bestDiff < 0 || diff < bestDiff {
			best, bestDiff = i, diff
		}
	}
	return best
}

// branchSplitAt returns the index of the separator that moves up: the one
// straddling the middle byte, so each side holds at most half the bytes and
// at least half minus one cell.
func (t *Tree) branchSplitAt(sizes []int, total int, appending bool) int {
	n := len(sizes)
	if appending && n >= 3 {
		left := total - sizes[n-1] - sizes[n-2]
		if left <= branchCap(t.payload) && !underMinFill(false, left, t.payload) {
			return n - 2
		}
	}
	prefix := 0
	for j, s := range sizes {
		if 2*(prefix+s) >= total {
			return j
		}
		prefix += s
	}
	return n - 1
}

// shareLeaf fixes overfull leaf child i of n without a new page when a
// sibling has room: the two leaves' cells are shared out evenly (the
// B*-tree's redistribution). Under updates that change value sizes at
// random, splitting every overfull leaf in two halves leaves leaves about
// 68% full on average (ln 2, as for random inserts); filling a sibling
// first keeps them fuller. It reports whether it did; it costs reading the
// emptier sibling, and rewriting it when shared.
func (t *Tree) shareLeaf(n *node, i int) (bool, error) {
	c := t.nodes[n.kids[i].Page]
	sib, sibSizes := -1, []int(nil)
	for _, j := range []int{i - 1, i + 1} {
		if j < 0 || j >= len(n.kids) {
			continue
		}
		sizes, err := t.leafCellSizes(n.kids[j])
		if err != nil {
			return false, err
		}
		if sizes != nil && (sib < 0 || sum(sizes) < sum(sibSizes)) {
			sib, sibSizes = j, sizes
		}
	}
	if sib < 0 {
		return false, nil
	}
	// Would an even share fit both leaves? Decide before owning the
	// sibling, which moves it to a new page.
	sizes := cellSizes(c)
	if sib < i {
		sizes = append(slices.Clip(sibSizes), sizes...)
	} else {
		sizes = append(sizes, sibSizes...)
	}
	total := sum(sizes)
	at := t.leafSplitAt(sizes, total, false)
	if left := sum(sizes[:at]); left > leafCap(t.payload) || total-left > leafCap(t.payload) {
		return false, nil
	}
	a := min(i, sib)
	l, err := t.ownChild(n, a)
	if err != nil {
		return false, err
	}
	r, err := t.ownChild(n, a+1)
	if err != nil {
		return false, err
	}
	if !l.leaf || !r.leaf {
		return false, errs.Corrupt(n.pgno, "children %d and %d differ in kind", a, a+1)
	}
	t.shareLeaves(n, a, l, r)
	return true, nil
}

// leafCellSizes returns the cell sizes (slots included) of the leaf at ref,
// or nil if ref is not a leaf.
func (t *Tree) leafCellSizes(ref pager.Ref) ([]int, error) {
	if m := t.owned(ref); m != nil {
		if !m.leaf {
			return nil, nil
		}
		return cellSizes(m), nil
	}
	p, err := t.readRaw(ref)
	if err != nil || !p.leaf {
		return nil, err
	}
	sizes := make([]int, p.n)
	for k := range sizes {
		key, val, err := p.leafCell(k)
		if err != nil {
			return nil, err
		}
		sizes[k] = leafCellSize(key, val)
	}
	return sizes, nil
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// rebalance fixes child i of n, which shrank below half full: it merges the
// child with a sibling (the left one when there is one) if both fit in one
// node, and otherwise shares their cells out evenly.
func (t *Tree) rebalance(n *node, i int) error {
	a := i - 1
	if i == 0 {
		a = 0
	}
	l, err := t.ownChild(n, a)
	if err != nil {
		return err
	}
	r, err := t.ownChild(n, a+1)
	if err != nil {
		return err
	}
	if l.leaf != r.leaf {
		return errs.Corrupt(n.pgno, "children %d and %d differ in kind", a, a+1)
	}
	if l.leaf {
		t.rebalanceLeaves(n, a, l, r)
		return nil
	}
	return t.rebalanceBranches(n, a, l, r)
}

func (t *Tree) rebalanceLeaves(n *node, a int, l, r *node) {
	if l.used+r.used <= leafCap(t.payload) {
		l.keys = append(append([][]byte(nil), l.keys...), r.keys...)
		l.vals = append(append([][]byte(nil), l.vals...), r.vals...)
		l.used += r.used
		l.changed = true
		n.removeSep(a)
		t.freeNode(r)
		return
	}
	t.shareLeaves(n, a, l, r)
}

// shareLeaves shares the cells of leaves l and r, children a and a+1 of n,
// out evenly between them.
func (t *Tree) shareLeaves(n *node, a int, l, r *node) {
	keys := append(append([][]byte(nil), l.keys...), r.keys...)
	vals := append(append([][]byte(nil), l.vals...), r.vals...)
	all := &node{leaf: true, keys: keys, vals: vals}
	at := t.leafSplitAt(cellSizes(all), l.used+r.used, false)
	l.keys, l.vals = keys[:at:at], vals[:at:at]
	r.keys, r.vals = keys[at:], vals[at:]
	l.used, r.used = l.computeUsed(), r.computeUsed()
	l.changed, r.changed = true, true
	n.setSep(a, separator(l.lastKey(), r.keys[0]))
}

func (t *Tree) rebalanceBranches(n *node, a int, l, r *node) error {
	sep := n.keys[a]
	if l.used+r.used+branchCellSize(sep) <= branchCap(t.payload) {
		l.keys = append(append(l.keys, sep), r.keys...)
		l.kids = append(l.kids, r.kids...)
		l.used = l.computeUsed()
		l.changed = true
		n.removeSep(a)
		t.freeNode(r)
		return nil
	}
	keys := append(append(append([][]byte(nil), l.keys...), sep), r.keys...)
	kids := append(append([]pager.Ref(nil), l.kids...), r.kids...)
	all := &node{keys: keys}
	sizes := cellSizes(all)
	m := t.branchSplitAt(sizes, all.computeUsed(), false)
	if m <= 0 || m >= len(keys)-1 {
		return errs.Corrupt(n.pgno, "cannot share %d separators between children %d and %d", len(keys), a, a+1)
	}
	l.keys, l.kids = keys[:m:m], kids[:m+1:m+1]
	r.keys, r.kids = keys[m+1:], kids[m+1:]
	l.used, r.used = l.computeUsed(), r.computeUsed()
	l.changed, r.changed = true, true
	n.setSep(a, keys[m])
	return nil
}

// A leaf an operation shrinks to less than 7/10 full (but not below half:
// rebalance), or that just split, looks for the shortest run of up to
// compactWindow siblings, itself among them, whose cells fit in one leaf
// fewer (compactLeaves). Sharing and halving splits keep leaves about 74%
// full under updates that change value sizes at random (records of a few
// hundred bytes, five to a leaf, leave little room to share); after a
// split the run spreads the overflow over its siblings instead of keeping
// a half-empty leaf. Measured on issue 9's churn replayed on this package
// (63,000 records, five rounds replacing 20%), leaves full on average:
// 0.750 with no repack; 0.822 repacking after any change under 7/10 but
// not after splits; 0.839 after shrinks and splits (this); 0.841 after
// any change and splits, for twice the attempts; runs of up to 4 or 6
// instead of 5, 0.823 or 0.852; a threshold of 8/10, 0.846. The bench
// module's churn then writes ~15% more pages and runs ~13% slower, for a
// file of 1.38 instead of 1.50 times the live bytes. The shortest run that
// fits goes first: it rewrites the fewest pages.
const (
	compactWindow   = 5
	compactBelowNum = 7
	compactBelowDen = 10
)

// compactLeaves repacks the shortest run of up to compactWindow children
// of n around leaf child i whose cells fit in one leaf fewer, evenly, and
// drops the emptied child. Appends never get here: the rightmost leaf fills
// up by itself, and a leaf split by an append keeps all it can.
func (t *Tree) compactLeaves(n *node, i int) error {
	lo, hi := max(0, i-compactWindow+1), min(len(n.kids), i+compactWindow)
	used := make([]int, hi-lo) // of children lo…hi-1; -1 until read
	for j := range used {
		used[j] = -1
	}
	capc := leafCap(t.payload)
	for k := 2; k <= min(compactWindow, len(n.kids)); k++ {
		for a := max(0, i-k+1); a <= min(i, len(n.kids)-k); a++ {
			total := 0
			for j := a; j < a+k; j++ {
				if used[j-lo] < 0 {
					u, err := t.leafUsed(n, j)
					if err != nil {
						return err
					}
					used[j-lo] = u
				}
				total += used[j-lo]
			}
			if total > (k-1)*capc {
				continue
			}
			keys, vals, err := t.runCells(n, a, k)
			if err != nil {
				return err
			}
			sizes := make([]int, len(keys))
			for x := range keys {
				sizes[x] = leafCellSize(keys[x], vals[x])
			}
			cuts := t.packLeaves(sizes, k-1)
			if cuts == nil {
				continue
			}
			// The new separators may be longer than the ones they replace.
			// A run whose repack would leave the parent fuller than it is
			// or than a node may be is skipped: an overfull parent then
			// still splits in two valid halves (at most one separator
			// over, as after a split), whatever the keys' lengths.
			seps := make([][]byte, k-2)
			grown := n.used
			for j := a; j <= a+k-2; j++ {
				grown -= branchCellSize(n.keys[j])
			}
			for p := range seps {
				seps[p] = separator(keys[cuts[p]-1], keys[cuts[p]])
				grown += branchCellSize(seps[p])
			}
			if grown > max(n.used, branchCap(t.payload)) {
				continue
			}
			return t.repackLeaves(n, a, k, cuts, keys, vals, seps)
		}
	}
	return nil
}

// leafUsed returns the bytes the cells of leaf child j of n take, slots
// included.
func (t *Tree) leafUsed(n *node, j int) (int, error) {
	ref := n.kids[j]
	if m := t.owned(ref); m != nil {
		if !m.leaf {
			return 0, errs.Corrupt(n.pgno, "child %d is not a leaf beside a leaf", j)
		}
		return m.used, nil
	}
	if u, ok := t.rawUsed[ref]; ok {
		return u, nil
	}
	sizes, err := t.leafCellSizes(ref)
	if err != nil {
		return 0, err
	}
	if sizes == nil {
		return 0, errs.Corrupt(n.pgno, "child %d is not a leaf beside a leaf", j)
	}
	u := sum(sizes)
	if ref.Gen != t.gen {
		// Only pages of earlier commits never change; a page of this
		// transaction that Spill dropped may be rewritten or reused.
		if t.rawUsed == nil {
			t.rawUsed = map[pager.Ref]int{}
		}
		t.rawUsed[ref] = u
	}
	return u, nil
}

// runCells returns the keys and values of leaf children a … a+k−1 of n,
// in order, reading the leaves it does not hold without taking them. Keys
// out of order across two leaves, which separators that lie about their
// children allow, are corruption: joined, they would make a leaf whose
// keys are out of order.
func (t *Tree) runCells(n *node, a, k int) (keys, vals [][]byte, err error) {
	for j := a; j < a+k; j++ {
		first := len(keys)
		if m := t.owned(n.kids[j]); m != nil {
			if !m.leaf {
				return nil, nil, errs.Corrupt(n.pgno, "child %d is not a leaf beside a leaf", j)
			}
			keys = append(keys, m.keys...)
			vals = append(vals, m.vals...)
		} else {
			// The cells as stored; the pages are checked whole when the
			// repack takes them (own).
			p, err := t.readRaw(n.kids[j])
			if err != nil {
				return nil, nil, err
			}
			if !p.leaf {
				return nil, nil, errs.Corrupt(n.pgno, "child %d is not a leaf beside a leaf", j)
			}
			for x := range p.n {
				key, val, err := p.leafCell(x)
				if err != nil {
					return nil, nil, err
				}
				keys, vals = append(keys, key), append(vals, val)
			}
		}
		if first > 0 && first < len(keys) && bytes.Compare(keys[first-1], keys[first]) >= 0 {
			return nil, nil, errs.Corrupt(n.kids[j].Page, "first key of leaf child %d is not greater than the last key of the leaf before it", j)
		}
	}
	return keys, vals, nil
}

// packLeaves cuts cells of the given sizes into m leaves as evenly as it
// can: cuts[p] is the index of the first cell after leaf p. It returns nil
// if some leaf would be overfull or under the fill minimum.
func (t *Tree) packLeaves(sizes []int, m int) []int {
	capc, total := leafCap(t.payload), sum(sizes)
	cuts := make([]int, m)
	j, used := 0, 0
	for p := range m {
		start := used
		target := total * (p + 1) / m
		// Take cells while the leaf gets closer to its share of the bytes
		// and still fits.
		for j < len(sizes) && (p == m-1 || 2*(used+sizes[j]) <= 2*target+sizes[j] && used+sizes[j]-start <= capc) {
			used += sizes[j]
			j++
		}
		if part := used - start; part > capc || underMinFill(true, part, t.payload) {
			return nil
		}
		cuts[p] = j
	}
	return cuts
}

// repackLeaves shares the cells of children a … a+k−1 of n (keys, vals)
// out as cuts says among the first k−1 of them, frees the last, and puts
// seps between them.
func (t *Tree) repackLeaves(n *node, a, k int, cuts []int, keys, vals [][]byte, seps [][]byte) error {
	leaves := make([]*node, k)
	for j := range k {
		c, err := t.ownChild(n, a+j)
		if err != nil {
			return err
		}
		leaves[j] = c
	}
	prev := 0
	for p, end := range cuts {
		c := leaves[p]
		c.keys, c.vals = keys[prev:end:end], vals[prev:end:end]
		c.used, c.changed = c.computeUsed(), true
		prev = end
	}
	t.freeNode(leaves[k-1])
	n.removeSep(a + k - 2)
	for p, sep := range seps {
		n.setSep(a+p, sep)
	}
	return nil
}
