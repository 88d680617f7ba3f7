package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/streamcrypt/scdb"
)

func (a *app) create(args []string) error {
	path := args[0]
	if ps := a.opts.pageSize; ps != 0 && (ps < 1024 || ps > 65536 || ps&(ps-1) != 0) {
		return usageErr(a.cmd, "--page-size %d: a page size is a power of two from 1024 to 65536", ps)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return fail(exitError, "%s already exists; choose another name, or delete it first", path)
	}
	cred, err := a.createCredential(path)
	if err != nil {
		return err
	}
	defer cred.wipe()
	opts := cred.options()
	opts.PageSize = a.opts.pageSize
	db, err := scdb.Create(path, opts)
	if err != nil {
		cred.discard()
		return fileErr(path, cred, err)
	}
	if err := db.Close(); err != nil {
		return fileErr(path, cred, err)
	}
	return nil
}

func (a *app) lists(args []string) error {
	path := args[0]
	return a.withDB(path, true, nil, func(db *scdb.DB, cred *credential) (err error) {
		w := &errWriter{w: a.stdout}
		out := bufio.NewWriter(w)
		err = db.View(func(tx *scdb.Tx) error {
			for name, err := range tx.Lists() {
				if err != nil {
					return err
				}
				l := tx.List(name)
				if a.opts.json {
					out.WriteByte('{')
					writeNameMember(out, "name", name)
					writeIntMember(out, "records", l.Len())
					writeIntMember(out, "bytes", l.Bytes())
					out.WriteString("}\n")
				} else {
					fmt.Fprintf(out, "%10d records %14d bytes  %s\n", l.Len(), l.Bytes(), display(name))
				}
			}
			return out.Flush()
		})
		return a.outputErr(path, cred, w, err)
	})
}

func (a *app) ls(args []string) error {
	path, list := args[0], args[1]
	return a.withDB(path, true, nil, func(db *scdb.DB, cred *credential) (err error) {
		w := &errWriter{w: a.stdout}
		out := bufio.NewWriter(w)
		err = db.View(func(tx *scdb.Tx) error {
			l := tx.List(list)
			if l.Len() == 0 {
				return noList(path, list)
			}
			for rec, err := range l.All() {
				if err != nil {
					return err
				}
				if a.opts.json {
					out.WriteByte('{')
					writeNameMember(out, "id", rec.ID())
					writeIntMember(out, "size", rec.Size())
					out.WriteString("}\n")
				} else {
					fmt.Fprintf(out, "%12d  %s\n", rec.Size(), display(rec.ID()))
				}
			}
			return out.Flush()
		})
		return a.outputErr(path, cred, w, err)
	})
}

// get streams the value to stdout through Record.Reader: memory stays at a
// few pages whatever the value's size.
func (a *app) get(args []string) error {
	path, list, id := args[0], args[1], args[2]
	return a.withDB(path, true, nil, func(db *scdb.DB, cred *credential) (err error) {
		w := &errWriter{w: a.stdout}
		err = db.View(func(tx *scdb.Tx) error {
			rec, err := tx.List(list).Open(id)
			if errors.Is(err, scdb.ErrNotFound) {
				return noRecord(tx, path, list, id)
			}
			if err != nil {
				return err
			}
			_, err = io.Copy(w, rec.Reader())
			return err
		})
		return a.outputErr(path, cred, w, err)
	})
}

// put streams the value from its argument or stdin into the file with
// List.PutReader, in one transaction.
func (a *app) put(args []string) error {
	path, list, id := args[0], args[1], args[2]
	src := &errReader{r: a.stdin}
	if len(args) == 4 && args[3] != "-" {
		src.r = strings.NewReader(args[3])
	}
	return a.withDB(path, false, nil, func(db *scdb.DB, cred *credential) (err error) {
		err = db.Update(func(tx *scdb.Tx) error { return tx.List(list).PutReader(id, src) })
		if src.err != nil {
			return fail(exitError, "cannot read the value from stdin (%v); %s is unchanged", src.err, path)
		}
		return writeErr(path, cred, err)
	})
}

func (a *app) rm(args []string) error {
	path, list, id := args[0], args[1], args[2]
	return a.withDB(path, false, nil, func(db *scdb.DB, cred *credential) (err error) {
		err = db.Update(func(tx *scdb.Tx) error {
			err := tx.List(list).Delete(id)
			if errors.Is(err, scdb.ErrNotFound) {
				return noRecord(tx, path, list, id)
			}
			return err
		})
		return writeErr(path, cred, err)
	})
}

func (a *app) drop(args []string) error {
	path, list := args[0], args[1]
	return a.withDB(path, false, nil, func(db *scdb.DB, cred *credential) (err error) {
		err = db.Update(func(tx *scdb.Tx) error {
			err := tx.DeleteList(list)
			if errors.Is(err, scdb.ErrNotFound) {
				return noList(path, list)
			}
			return err
		})
		return writeErr(path, cred, err)
	})
}

func noList(path, list string) error {
	return fail(exitNotFound, "%s has no list %s; \"scdb lists %s\" shows its lists", path, quote(list), path)
}

// noRecord says which is missing: the list, or the record in it.
func noRecord(tx *scdb.Tx, path, list, id string) error {
	if tx.List(list).Len() == 0 {
		return noList(path, list)
	}
	return fail(exitNotFound, "list %s of %s has no record %s", quote(list), path, quote(id))
}

// quote shows a name or id inside a sentence.
func quote(s string) string {
	if d := display(s); d != s {
		return d
	}
	return `"` + s + `"`
}

// outputErr reports a failure to write stdout as such, and any other error
// as one of the file's.
func (a *app) outputErr(path string, cred *credential, w *errWriter, err error) error {
	if w.err != nil {
		return fail(exitError, "cannot write to stdout: %v", w.err)
	}
	return fileErr(path, cred, err)
}

// writeErr words an error of a write transaction, which leaves the file
// as it was.
func writeErr(path string, cred *credential, err error) error {
	var ee *exitErr
	switch {
	case err == nil || errors.As(err, &ee):
		return err
	case errors.Is(err, scdb.ErrTooLarge):
		return fail(exitError, "%s; %s is unchanged", strip(err), path)
	}
	return fileErr(path, cred, err)
}
