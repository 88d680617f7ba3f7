package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/streamcrypt/scdb"
)

// Exit statuses, documented in "scdb help".
const (
	exitOK       = 0
	exitError    = 1 // anything not below
	exitUsage    = 2 // bad command line, or no key given and no terminal to ask on
	exitWrongKey = 3 // the key or passphrase opens none of the file's key slots
	exitCorrupt  = 4 // damage or tampering found; check found problems; a copy did not verify
	exitNotFound = 5 // the file, key file, list or record does not exist
	exitLocked   = 6 // another process has the file open
)

// exitErr is an error already put in words for the user, with the exit
// status it calls for.
type exitErr struct {
	code int
	msg  string
}

func (e *exitErr) Error() string { return e.msg }

func fail(code int, format string, args ...any) error {
	return &exitErr{code: code, msg: fmt.Sprintf(format, args...)}
}

// usageError is a mistake on the command line: report prints the command's
// usage after it.
type usageError struct {
	cmd *command
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usageErr(c *command, format string, args ...any) error {
	return &usageError{cmd: c, msg: fmt.Sprintf(format, args...)}
}

// report prints err, if any, as one "scdb: ..." sentence and returns the exit
// status.
func (a *app) report(err error) int {
	var ee *exitErr
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		fmt.Fprint(a.stdout, commandUsage(a.cmd))
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(a.stderr, "scdb %s: %s\n%s", ue.cmd.name, ue.msg, commandUsage(ue.cmd))
		return exitUsage
	case errors.As(err, &ee):
		fmt.Fprintf(a.stderr, "scdb: %s\n", ee.msg)
		return ee.code
	default:
		fmt.Fprintf(a.stderr, "scdb: %s\n", err)
		return exitError
	}
}

// fileErr puts an error from opening or using the scdb file at path in
// words. cred, if not nil, is the credential the file was opened with, so
// that a wrong key names where it came from.
func fileErr(path string, cred *credential, err error) error {
	var ee *exitErr
	var pe *scdb.CorruptPageError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return err
	case errors.Is(err, fs.ErrExist):
		return fail(exitError, "%s already exists; choose another name, or delete it first", path)
	case errors.Is(err, fs.ErrNotExist):
		return fail(exitNotFound, "%s does not exist; check the name, or make it with \"scdb create %s\"", path, path)
	case errors.Is(err, scdb.ErrWrongKey):
		return fail(exitWrongKey, "%s", cred.wrong(path))
	case errors.Is(err, scdb.ErrLocked):
		return fail(exitLocked, "%s is locked by another process; close it there, or wait until it is done, and try again", path)
	case errors.As(err, &pe):
		return fail(exitCorrupt, "%s is damaged or was tampered with (page %d: %s); run \"scdb check %s\" for a full report",
			path, pe.Page, pe.Reason, path)
	case errors.Is(err, scdb.ErrCorrupt):
		return fail(exitCorrupt, "%s is damaged or was tampered with (%s); run \"scdb check %s\" for a full report",
			path, strip(err), path)
	case errors.Is(err, scdb.ErrNotSCDB):
		return fail(exitError, "%s is not an scdb file", path)
	case errors.Is(err, scdb.ErrVersion):
		return fail(exitError, "%s was written in a format version this scdb cannot read; install a newer scdb", path)
	case errors.Is(err, fs.ErrPermission):
		return fail(exitError, "permission denied: you may not open %s this way (%s)", path, strip(err))
	case errors.Is(err, scdb.ErrTooLarge):
		return fail(exitError, "too large for %s: %s", path, strip(err))
	default:
		return fail(exitError, "%s: %s", path, strip(err))
	}
}

// strip removes the library's "scdb: " prefixes from an error's text, which
// would repeat the command's own.
func strip(err error) string {
	return strings.ReplaceAll(err.Error(), "scdb: ", "")
}
