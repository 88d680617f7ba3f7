package scdb

import (
	"errors"

	"github.com/streamcrypt/scdb/internal/errs"
)

// Errors returned by scdb. Test for them with errors.Is: the errors returned
// wrap them with context (which file, which page, which list).
var (
	// ErrNotFound: no record with that id, or no list with that name.
	ErrNotFound = errs.ErrNotFound
	// ErrWrongKey: the key or passphrase opens none of the file's key slots.
	ErrWrongKey = errs.ErrWrongKey
	// ErrCorrupt: the file was damaged or tampered with. The error names the
	// page where it was found (see CorruptPageError).
	ErrCorrupt = errs.ErrCorrupt
	// ErrNotSCDB: the file is not an scdb file.
	ErrNotSCDB = errs.ErrNotSCDB
	// ErrVersion: the file is of a format version this build cannot read.
	ErrVersion = errs.ErrVersion
	// ErrLocked: another process, or another DB of this process, has the
	// file open for writing (or, when opening for writing, has it open at
	// all). The error's text says which; Options.LockTimeout waits instead
	// of failing at once.
	ErrLocked = errs.ErrLocked
	// ErrReadOnly: a write through a read-only database or transaction.
	ErrReadOnly = errs.ErrReadOnly
	// ErrTxDone: the transaction was already committed or rolled back.
	ErrTxDone = errs.ErrTxDone
	// ErrTxManaged: Commit or Rollback called on a transaction that Update,
	// View or Batch manages. Nothing happened: return from fn instead, nil
	// to commit or an error to roll back.
	ErrTxManaged = errors.New("scdb: Commit or Rollback inside Update, View or Batch; return from fn instead")
	// ErrClosed: the database was closed.
	ErrClosed = errs.ErrClosed
	// ErrTooLarge: a list name or id longer than MaxIDSize(pageSize) bytes,
	// or a value larger than MaxValueSize (or than a []byte can hold, for
	// Value: use Reader).
	ErrTooLarge = errs.ErrTooLarge
	// ErrInvalid: an invalid argument, such as Options with both a key and a
	// passphrase.
	ErrInvalid = errs.ErrInvalid
	// ErrKDFLimit: a passphrase slot asks Argon2id for more work than
	// Options.MaxKDFMemoryKiB and MaxKDFWork allow, so it was not tried.
	ErrKDFLimit = errs.ErrKDFLimit
	// ErrReplaced: a read-only DB's path now names another file (the writer
	// compacted or re-keyed it in place and renamed the copy over it): this
	// DB would go on reading the old one, so new snapshots and Follow stop.
	// Open the path again.
	ErrReplaced = errs.ErrReplaced
)

// CorruptPageError is the type of corruption errors that name a page; use
// errors.As to get the page number. It wraps ErrCorrupt, and has two fields:
//
//	Page   uint64 // the number of the page where the damage was found
//	Reason string // what was wrong, in words
//
// (It is an alias of a type shared with scdb's lower layers, which is why
// go doc does not list the fields itself.)
type CorruptPageError = errs.PageError
