// Package record lays out one record's value in the page file.
//
// A record's value is stored under a small cell, a byte string that the
// directory tree keeps next to the record's id. A value of at most maxInline
// bytes lives in the cell itself (an inline cell). A larger value lives in a
// value chain: pages of type pager.TypeChain, allocated in runs of
// contiguous pages so that a long value reads sequentially, and the cell
// holds the value's size, the chain's first page and the generation every
// page of the chain was written at (a chain cell). FORMAT.md §10.4 is
// the normative description of both.
//
// record owns only that layout. It never decides which page is free (it
// asks pager.Writer.Alloc and Free), never touches keys or ciphers (the
// pager seals and opens pages), and never keeps a page after a call
// returns, except for the bounded read-ahead buffers of a Reader and of
// an Ahead (ahead.go), whose goroutine decrypts the next values of a scan.
//
// Memory: writing holds at most two pages plus, for PutReader, maxInline+1
// bytes of read-ahead, whatever the value's size. A Reader holds at most
// 64 KiB of decrypted pages (one built over a value read ahead holds that
// value until it has handed it out); an Ahead holds at most
// 1.5·aheadBatchBytes+aheadValueMax bytes of values decrypted ahead, in
// buffers of at most twice their size. Value and Free
// hold memory proportional to the
// value and to the number of runs (16 bytes per run of up to 1024 pages).
//
// Errors: damage found on a chain page is an *errs.PageError naming the
// page. A cell that is malformed on its own (unknown tag, wrong length, a
// size or first page no writer produces) wraps errs.ErrCorrupt without a
// page number, because only the caller knows which tree page holds the
// cell; it may re-wrap the error with that page.
package record
