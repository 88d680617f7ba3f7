package freelist

import (
	"slices"
	"sort"
)

// blist is a sorted sequence kept in blocks of at most maxBlock elements: a
// B-tree of height two. Finding a position is two binary searches (over the
// blocks' last elements, then within one block); inserting or deleting
// moves at most maxBlock elements, and, when a block splits, empties or
// merges, the block index (one slice header per block, so that cost is
// paid about once per maxBlock/2 changes). Appending past the last element
// takes no search, so a sequence built in order costs O(1) per element.
type blist[T any] struct {
	cmp    func(a, b T) int
	blocks [][]T
	n      int
}

// maxBlock bounds a block's length: small enough that an insert's memmove
// is a few KiB, large enough that 10^6 elements need only a few thousand
// blocks.
const maxBlock = 256

// pos is a position in a blist: block b, element i. A pos with b equal to
// the number of blocks is the end. Any insert or delete invalidates it.
type pos struct{ b, i int }

func newBlist[T any](cmp func(a, b T) int) blist[T] { return blist[T]{cmp: cmp} }

func (l *blist[T]) len() int { return l.n }

// lowerBound returns the position of the first element not less than x.
func (l *blist[T]) lowerBound(x T) pos {
	b := sort.Search(len(l.blocks), func(i int) bool {
		blk := l.blocks[i]
		return l.cmp(blk[len(blk)-1], x) >= 0
	})
	if b == len(l.blocks) {
		return pos{b, 0}
	}
	blk := l.blocks[b]
	return pos{b, sort.Search(len(blk), func(i int) bool { return l.cmp(blk[i], x) >= 0 })}
}

func (l *blist[T]) valid(p pos) bool { return p.b < len(l.blocks) }
func (l *blist[T]) at(p pos) T       { return l.blocks[p.b][p.i] }

// set replaces the element at p by x, which must sort at the same place.
func (l *blist[T]) set(p pos, x T) { l.blocks[p.b][p.i] = x }

// prev returns the position before p (p may be the end).
func (l *blist[T]) prev(p pos) (pos, bool) {
	if p.b < len(l.blocks) && p.i > 0 {
		return pos{p.b, p.i - 1}, true
	}
	if p.b == 0 {
		return p, false
	}
	return pos{p.b - 1, len(l.blocks[p.b-1]) - 1}, true
}

// first and last return the smallest and largest element.
func (l *blist[T]) first() (T, bool) {
	if l.n == 0 {
		var zero T
		return zero, false
	}
	return l.blocks[0][0], true
}

func (l *blist[T]) last() (T, bool) {
	if l.n == 0 {
		var zero T
		return zero, false
	}
	blk := l.blocks[len(l.blocks)-1]
	return blk[len(blk)-1], true
}

// insert adds x in order (after any elements equal to it).
func (l *blist[T]) insert(x T) {
	l.n++
	if k := len(l.blocks); k > 0 {
		blk := l.blocks[k-1]
		if l.cmp(blk[len(blk)-1], x) <= 0 { // appending: no search
			if len(blk) == maxBlock { // a list built in order gets full blocks
				l.blocks = append(l.blocks, append(make([]T, 0, maxBlock), x))
				return
			}
			l.blocks[k-1] = append(blk, x)
			return
		}
	} else {
		l.blocks = append(l.blocks, []T{x})
		return
	}
	p := l.lowerBound(x)
	l.blocks[p.b] = slices.Insert(l.blocks[p.b], p.i, x)
	l.splitIfFull(p.b)
}

func (l *blist[T]) splitIfFull(b int) {
	blk := l.blocks[b]
	if len(blk) <= maxBlock {
		return
	}
	half := len(blk) / 2
	upper := append(make([]T, 0, maxBlock), blk[half:]...)
	clear(blk[half:])
	l.blocks[b] = blk[:half]
	l.blocks = slices.Insert(l.blocks, b+1, upper)
}

// delete removes the element at p.
func (l *blist[T]) delete(p pos) {
	l.n--
	blk := slices.Delete(l.blocks[p.b], p.i, p.i+1)
	l.blocks[p.b] = blk
	switch {
	case len(blk) == 0:
		l.blocks = slices.Delete(l.blocks, p.b, p.b+1)
	case len(blk) < maxBlock/4:
		// Merge a small block into a neighbour with room, so the block
		// index stays proportional to n/maxBlock.
		if p.b+1 < len(l.blocks) && len(blk)+len(l.blocks[p.b+1]) <= maxBlock {
			l.blocks[p.b] = append(blk, l.blocks[p.b+1]...)
			l.blocks = slices.Delete(l.blocks, p.b+1, p.b+2)
		} else if p.b > 0 && len(blk)+len(l.blocks[p.b-1]) <= maxBlock {
			l.blocks[p.b-1] = append(l.blocks[p.b-1], blk...)
			l.blocks = slices.Delete(l.blocks, p.b, p.b+1)
		}
	}
}

// each calls fn for every element in order until fn returns false.
func (l *blist[T]) each(fn func(T) bool) {
	for _, blk := range l.blocks {
		for _, x := range blk {
			if !fn(x) {
				return
			}
		}
	}
}

// build replaces the contents by xs, which must be in order, and takes xs
// over as its storage: full blocks, no search, no copy. (Each block's
// capacity ends where it does, so growing one block never writes into the
// next.)
func (l *blist[T]) build(xs []T) {
	l.blocks, l.n = make([][]T, 0, (len(xs)+maxBlock-1)/maxBlock), len(xs)
	for len(xs) > 0 {
		k := min(len(xs), maxBlock)
		l.blocks = append(l.blocks, xs[:k:k])
		xs = xs[k:]
	}
}

func (l *blist[T]) reset() {
	l.blocks = nil
	l.n = 0
}
