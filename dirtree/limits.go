package dirtree

// Layout constants of a node page; FORMAT.md §10.3 describes them.
const (
	leafHeader      = 4  // type, reserved, cell count
	branchHeader    = 20 // type, reserved, cell count, leftmost child
	slotSize        = 2  // u16 offset of a cell
	refSize         = 16 // child pointer: page u64, generation u64
	leafCellFixed   = 4  // key length u16, value length u16
	branchCellFixed = refSize + 2

	// minValueRoom is the value size MaxValue guarantees beside the
	// longest key.
	minValueRoom = 64

	// Payload sizes the layout supports. The pager produces 984..65496
	// (pages of 1 KiB..64 KiB); smaller payloads are accepted so tests can
	// build deep trees cheaply. Cell offsets are u16, hence the upper bound.
	minPayload = 256
	maxPayload = 65535

	// maxDepth bounds every descent. A tree whose non-root nodes have at
	// least two children cannot be deeper than 64 levels with 2^64 pages, so
	// a deeper path is a cycle or a corrupt page.
	maxDepth = 64
)

// maxLeafCell is the largest leaf cell, slot included: half a leaf's
// capacity, so a leaf always holds two cells of the largest size and an
// overfull leaf splits into two that fit. Half rather than a third lets
// values up to about 2 KB at 4 KiB pages sit in the leaf: a value just over
// a third of a page would otherwise take a whole chain page to itself.
func maxLeafCell(payloadSize int) int { return (payloadSize - leafHeader) / 2 }

// maxBranchCell is the largest branch cell, slot included: a third of a
// branch's capacity, so a branch always holds three separators and splits
// into two branches of at least one separator each.
func maxBranchCell(payloadSize int) int { return (payloadSize - branchHeader) / 3 }

// MaxKey returns the largest key, in bytes, a tree on pages of payloadSize
// bytes stores: 1325 for 4 KiB pages (payload 4056), 301 for 1 KiB pages,
// 21805 for 64 KiB pages. It returns -1 for an unsupported payload size
// (outside 256..65535).
//
// The bound is the smaller of: a branch holding three separators of that
// length, and a leaf holding two cells of that length each with a 64-byte
// value.
func MaxKey(payloadSize int) int {
	if payloadSize < minPayload || payloadSize > maxPayload {
		return -1
	}
	byBranch := maxBranchCell(payloadSize) - slotSize - branchCellFixed
	byLeaf := maxLeafCell(payloadSize) - slotSize - leafCellFixed - minValueRoom
	return min(byBranch, byLeaf)
}

// MaxValue returns the largest value, in bytes, storable beside a key of
// keyLen bytes; it is at least 64 for every keyLen <= MaxKey(payloadSize).
// It returns -1 when such a key cannot be stored at all (keyLen < 0,
// keyLen > MaxKey, or an unsupported payload size).
func MaxValue(payloadSize, keyLen int) int {
	mk := MaxKey(payloadSize)
	if mk < 0 || keyLen < 0 || keyLen > mk {
		return -1
	}
	return maxLeafCell(payloadSize) - slotSize - leafCellFixed - keyLen
}

// Fill rules, in bytes of slots and cells ("used"), out of the capacity
// of the node kind (payload minus header):
//
//   - A node that shrinks below half its capacity is rebalanced with a
//     sibling: merged when both fit in one node, else their cells are
//     shared out evenly.
//   - A leaf over its capacity shares its cells evenly with its emptier
//     sibling when both then fit (balance.go, shareLeaf); otherwise it, or
//     any overfull node, splits in two.
//   - Checked minimum for a non-root node off the rightmost spine: a leaf
//     uses more than a quarter of its capacity, a branch more than a sixth.
//     Splits and redistributions guarantee these because no leaf cell
//     exceeds half the capacity and no branch cell a third: sharing more
//     than a capacity evenly leaves each side at least half of it minus
//     half the largest cell. Nodes on the rightmost spine (the last child
//     at every level) are exempt: appends split them unevenly, leaving the
//     left node full and the new rightmost node small.

func leafCap(payloadSize int) int   { return payloadSize - leafHeader }
func branchCap(payloadSize int) int { return payloadSize - branchHeader }

// underMinFill reports whether a non-root node off the rightmost spine is
// emptier than the format allows.
func underMinFill(leaf bool, used, payloadSize int) bool {
	if leaf {
		return used*4 <= leafCap(payloadSize)
	}
	return used*6 <= branchCap(payloadSize)
}
