package dirtree

import (
	"bytes"
	"slices"

	"github.com/streamcrypt/scdb/pager"
)

// node is a node the current transaction owns, held decoded. Its page
// number is fixed when it becomes owned (copy-on-write allocates it then),
// so parents point at it and Spill writes it without touching parents.
//
// Key and value bytes are never modified in place once stored: a
// replacement stores a new slice. That keeps slices handed to callers and
// separators shared between nodes valid.
type node struct {
	pgno    uint64
	leaf    bool
	changed bool        // differs from what its page holds
	seq     uint64      // Behind's stamp of the last Put or Delete in it
	early   bool        // written ahead by write-behind: own moves it before it changes again
	used    int         // bytes of slots and cells
	keys    [][]byte    // leaf keys, or branch separators
	vals    [][]byte    // leaf only
	kids    []pager.Ref // branch only: len(keys)+1 children
}

func leafCellSize(key, val []byte) int { return slotSize + leafCellFixed + len(key) + len(val) }
func branchCellSize(sep []byte) int    { return slotSize + branchCellFixed + len(sep) }

func (n *node) cellSize(i int) int {
	if n.leaf {
		return leafCellSize(n.keys[i], n.vals[i])
	}
	return branchCellSize(n.keys[i])
}

func (n *node) computeUsed() int {
	used := 0
	for i := range n.keys {
		used += n.cellSize(i)
	}
	return used
}

func (n *node) capacity(payloadSize int) int {
	if n.leaf {
		return leafCap(payloadSize)
	}
	return branchCap(payloadSize)
}

// search returns, for a leaf, the index of the first key >= key and whether
// it is equal; for a branch, the child to descend into.
func (n *node) search(key []byte) (int, bool) {
	// A loop rather than slices.BinarySearchFunc: through its function
	// value key escapes, and every Get's key would be allocated.
	lo, hi := 0, len(n.keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(n.keys[m], key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	found := lo < len(n.keys) && bytes.Equal(n.keys[lo], key)
	if n.leaf {
		return lo, found
	}
	if found {
		lo++
	}
	return lo, false
}

func (n *node) ref(gen uint64) pager.Ref { return pager.Ref{Page: n.pgno, Gen: gen} }

// insertLeaf stores a new cell at index i; key and val must be owned.
func (n *node) insertLeaf(i int, key, val []byte) {
	n.keys = slices.Insert(n.keys, i, key)
	n.vals = slices.Insert(n.vals, i, val)
	n.used += leafCellSize(key, val)
	n.changed = true
}

// setVal replaces the value of leaf cell i; val must be owned.
func (n *node) setVal(i int, val []byte) {
	n.used += len(val) - len(n.vals[i])
	n.vals[i] = val
	n.changed = true
}

// removeLeaf deletes leaf cell i.
func (n *node) removeLeaf(i int) {
	n.used -= leafCellSize(n.keys[i], n.vals[i])
	n.keys = slices.Delete(n.keys, i, i+1)
	n.vals = slices.Delete(n.vals, i, i+1)
	n.changed = true
}

// insertSep adds separator sep at index i with child right after it.
func (n *node) insertSep(i int, sep []byte, right pager.Ref) {
	n.keys = slices.Insert(n.keys, i, sep)
	n.kids = slices.Insert(n.kids, i+1, right)
	n.used += branchCellSize(sep)
	n.changed = true
}

// removeSep deletes separator i and child i+1.
func (n *node) removeSep(i int) {
	n.used -= branchCellSize(n.keys[i])
	n.keys = slices.Delete(n.keys, i, i+1)
	n.kids = slices.Delete(n.kids, i+1, i+2)
	n.changed = true
}

// setSep replaces separator i.
func (n *node) setSep(i int, sep []byte) {
	n.used += len(sep) - len(n.keys[i])
	n.keys[i] = sep
	n.changed = true
}

// lastKey returns the greatest key (leaf) or separator (branch), or nil.
func (n *node) lastKey() []byte {
	if len(n.keys) == 0 {
		return nil
	}
	return n.keys[len(n.keys)-1]
}

// separator returns the shortest prefix of right that is greater than left,
// which the format allows as the separator between a node ending in left
// and its right sibling starting with right (left < sep <= right).
func separator(left, right []byte) []byte {
	n := 0
	for n < len(left) && n < len(right) && left[n] == right[n] {
		n++
	}
	if n >= len(right) {
		return right // left >= right: only a corrupt tree gets here
	}
	return right[: n+1 : n+1]
}

// ownedCell copies key and val into one fresh allocation.
func ownedCell(key, val []byte) (k, v []byte) {
	buf := make([]byte, len(key)+len(val))
	copy(buf, key)
	copy(buf[len(key):], val)
	return buf[:len(key):len(key)], buf[len(key):]
}
