package main

import (
	"errors"
	"io/fs"
	"os"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/pager"
)

// openDB opens the scdb file at path with the credential the user gave.
// Reading commands open it read-only, sharing it with other readers. With a
// progress bar, the bytes read from the file are counted into it.
func (a *app) openDB(path string, readOnly bool, prog *progress) (*scdb.DB, *credential, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fileErr(path, nil, err) // before asking for a passphrase
	}
	cred, err := a.openCredential(path)
	if err != nil {
		return nil, nil, err
	}
	db, err := openWith(path, cred, readOnly, prog)
	if err != nil {
		cred.wipe()
		return nil, nil, err
	}
	return db, cred, nil
}

// openWith opens path with cred. The caller still owns cred.
func openWith(path string, cred *credential, readOnly bool, prog *progress) (*scdb.DB, error) {
	opts := cred.options()
	opts.ReadOnly = readOnly
	if prog == nil {
		db, err := scdb.Open(path, opts)
		return db, fileErr(path, cred, err)
	}
	f, err := pager.OpenFile(path, false, readOnly)
	if err != nil {
		return nil, fileErr(path, cred, err)
	}
	db, err := scdb.OpenFile(countingFile{File: f, p: prog}, opts)
	if err != nil {
		f.Close()
		return nil, fileErr(path, cred, err)
	}
	return db, nil
}

// closeDB closes db, reporting a failure if nothing else failed first.
// withDB opens path, runs fn with the database and the credential that
// opened it, then closes the database and wipes the credential. A failure
// to close is reported when fn succeeded.
func (a *app) withDB(path string, readOnly bool, prog *progress, fn func(db *scdb.DB, cred *credential) error) (err error) {
	db, cred, err := a.openDB(path, readOnly, prog)
	if err != nil {
		return err
	}
	defer cred.wipe()
	defer closeDB(db, path, &err)
	return fn(db, cred)
}

func closeDB(db *scdb.DB, path string, err *error) {
	if cerr := db.Close(); cerr != nil && *err == nil {
		*err = fileErr(path, nil, cerr)
	}
}

// usedBytes is how many bytes of the file the last commit uses: what a
// check or a copy reads.
func usedBytes(st *scdb.Stats) int64 {
	return int64(st.Pages-st.FreePages) * int64(st.PageSize)
}
