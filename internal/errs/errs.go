// Package errs holds the sentinel errors shared by every layer of scdb, so
// that a low layer (crypt, pager) can return an error the public package
// re-exports and callers test with errors.Is. It owns no behaviour.
package errs

import (
	"errors"
	"fmt"
)

// Sentinel errors; package scdb re-exports each under the same name.
var (
	ErrNotFound = errors.New("scdb: not found")
	ErrWrongKey = errors.New("scdb: wrong key or passphrase")
	ErrCorrupt  = errors.New("scdb: file is corrupt or was tampered with")
	ErrNotSCDB  = errors.New("scdb: not an scdb file")
	ErrVersion  = errors.New("scdb: unsupported format version")
	ErrLocked   = errors.New("scdb: file is locked by another process")
	ErrReadOnly = errors.New("scdb: database or transaction is read-only")
	ErrTxDone   = errors.New("scdb: transaction already committed or rolled back")
	ErrClosed   = errors.New("scdb: database is closed")
	ErrTooLarge = errors.New("scdb: too large")
	ErrInvalid  = errors.New("scdb: invalid argument")
	ErrKDFLimit = errors.New("scdb: key slot's Argon2id cost is above this reader's limit")
	ErrReplaced = errors.New("scdb: the file was replaced at its path (compacted or re-keyed); reopen it")
)

// PageError reports damage found on one page. It wraps ErrCorrupt.
type PageError struct {
	Page   uint64 // page number where the damage was found
	Reason string // what was wrong, in words
}

// Error says which page and what was wrong.
func (e *PageError) Error() string {
	return fmt.Sprintf("corrupt page %d: %s", e.Page, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *PageError) Unwrap() error { return ErrCorrupt }

// Corrupt returns a *PageError for page pgno with a formatted reason.
func Corrupt(pgno uint64, format string, args ...any) error {
	return &PageError{Page: pgno, Reason: fmt.Sprintf(format, args...)}
}
