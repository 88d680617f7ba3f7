package dirtree

import (
	"bytes"

	"github.com/streamcrypt/scdb/internal/errs"
)

// Backward iteration: the mirror of First, Seek and Next. A descent takes
// the child that would hold the key, as a forward seek does, and steps one
// cell left at the leaf when the key there is not wanted; running off a
// leaf's left end moves to the previous leaf.

// Last moves to the largest key.
func (c *Cursor) Last() (key, val []byte, ok bool, err error) {
	return c.seekBack(nil, false, true)
}

// SeekLast moves to the last key <= key.
func (c *Cursor) SeekLast(key []byte) (k, val []byte, ok bool, err error) {
	return c.seekBack(key, false, false)
}

// Prev moves to the key before the last one returned; on a cursor not yet
// positioned it is Last. Once either end is reached, Next and Prev report
// no more keys until the cursor is positioned again.
func (c *Cursor) Prev() (key, val []byte, ok bool, err error) {
	if !c.started {
		return c.Last()
	}
	if c.stale || c.mod != c.t.mod {
		return c.seekBack(c.resume, c.excl, false)
	}
	if len(c.stack) == 0 {
		return nil, nil, false, nil // at an end
	}
	c.stack[len(c.stack)-1].i--
	return c.settleBack(false)
}

// seekBack descends to the last key <= key (< key when excl is set), or to
// the largest key when toEnd is set.
func (c *Cursor) seekBack(key []byte, excl, toEnd bool) ([]byte, []byte, bool, error) {
	ref := c.restart(key, excl)
	for !ref.IsZero() {
		if len(c.stack) > maxDepth {
			return c.fail(errs.Corrupt(ref.Page, "tree deeper than %d levels", maxDepth))
		}
		f, err := c.t.frameFor(ref)
		if err != nil {
			return c.fail(err)
		}
		f.i = f.count() - 1
		if !toEnd {
			i, found, err := f.search(c.resume)
			if err != nil {
				return c.fail(err)
			}
			if f.leaf() && (!found || excl) {
				i-- // the cell at i is > key, or == key and excluded
			}
			f.i = i
		}
		c.push(f)
		if f.leaf() {
			break
		}
		if ref, err = f.child(); err != nil {
			return c.fail(err)
		}
	}
	return c.settleBack(toEnd)
}

// settleBack returns the cell under the leaf frame, first moving to the
// previous leaf when the position is before the leaf's start. Unless
// unbounded (Last), the key must sort before the resume point.
func (c *Cursor) settleBack(unbounded bool) ([]byte, []byte, bool, error) {
	for len(c.stack) > 0 && c.stack[len(c.stack)-1].i < 0 {
		// Pop exhausted levels, step the parent left, descend rightmost.
		c.stack = c.stack[:len(c.stack)-1]
		if len(c.stack) == 0 {
			break
		}
		c.stack[len(c.stack)-1].i--
		if err := c.descendRightmost(); err != nil {
			return c.fail(err)
		}
	}
	if len(c.stack) == 0 {
		return nil, nil, false, nil
	}
	top := &c.stack[len(c.stack)-1]
	k, v, err := top.cell()
	if err != nil {
		return c.fail(err)
	}
	// Keys must come out strictly decreasing: see settle.
	if cmp := bytes.Compare(k, c.resume); !unbounded && (cmp > 0 || (cmp == 0 && c.excl)) {
		return c.fail(errs.Corrupt(top.pgno(), "key %d of the leaf is out of order with the keys after it", top.i))
	}
	if err := c.inBounds(k); err != nil {
		return c.fail(err)
	}
	c.resume = append(c.resume[:0], k...)
	c.excl = true
	return k, v, true, nil
}

// descendRightmost extends the stack from the top branch frame's current
// child down to a leaf, taking the last entry at every level. If the top
// frame is exhausted it does nothing (settleBack pops it).
func (c *Cursor) descendRightmost() error {
	for {
		top := &c.stack[len(c.stack)-1]
		if top.leaf() || top.i < 0 {
			return nil
		}
		ref, err := top.child()
		if err != nil {
			return err
		}
		if len(c.stack) > maxDepth {
			return errs.Corrupt(ref.Page, "tree deeper than %d levels", maxDepth)
		}
		f, err := c.t.frameFor(ref)
		if err != nil {
			return err
		}
		f.i = f.count() - 1
		c.push(f)
	}
}
