// Package dirtree is scdb's copy-on-write B+tree over encrypted fixed-size
// pages. scdb keeps one tree for the directory (list name -> list entry) and
// one tree per list (record id -> record cell).
//
// dirtree owns the node layout on a page (FORMAT.md §10.3), the key
// order (bytes.Compare; the empty key is a valid key), and the shape of the
// tree: where a node splits, when it merges with or borrows from a sibling,
// when the root grows or collapses. It keeps the nodes a transaction changes
// decoded in memory and writes them when asked (Flush, Spill).
//
// dirtree must never decide which pages are free: it asks the pager.Writer
// for pages (Alloc) and tells it which ones the tree stopped referencing
// (Free), and nothing more. It never knows what a value means (a value is
// opaque bytes; Drop hands each value to the caller, who frees whatever the
// value points at), and it never touches crypto: pages arrive decrypted from
// pager.Reader and leave in plaintext through pager.Writer.
//
// Trust: every page is decoded defensively. A malformed page makes the
// operation fail with an error wrapping errs.ErrCorrupt (an *errs.PageError
// naming the page); no input bytes make dirtree panic or loop forever.
//
// Concurrency: a Tree and its Cursors are not safe for concurrent use. Several
// read-only Trees over the same committed root may be used concurrently if
// the pager.Reader allows it.
package dirtree
