package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/streamcrypt/scdb"
)

// export writes the list from one snapshot, one line per record in id order.
func (a *app) export(args []string) error {
	path, list := args[0], args[1]
	return a.withDB(path, true, nil, func(db *scdb.DB, cred *credential) (err error) {
		w := &errWriter{w: a.stdout}
		out := bufio.NewWriterSize(w, 64<<10)
		err = db.View(func(tx *scdb.Tx) error {
			l := tx.List(list)
			if l.Len() == 0 {
				return noList(path, list)
			}
			prog := a.newProgress()
			prog.Start("export", l.Bytes())
			defer prog.Stop()
			for rec, err := range l.All() {
				if err != nil {
					return err
				}
				if err := writeExportLine(out, rec, prog); err != nil {
					return err
				}
			}
			return out.Flush()
		})
		return a.outputErr(path, cred, w, err)
	})
}

// importer stores the lines of an import in transactions of batch records,
// or in one transaction when batch is 0.
type importer struct {
	db        *scdb.DB
	list      string
	rules     lineRules
	batch     int
	tx        *scdb.Tx
	line      int // number of the line being read
	inTx      int // records stored in the open transaction
	committed int // records committed by earlier batches
	byID      int
	appended  int
}

func (a *app) importCmd(args []string) error {
	path, list := args[0], args[1]
	if a.opts.batch < 0 {
		return usageErr(a.cmd, "--batch %d: give a positive number of records, or 0 for one transaction", a.opts.batch)
	}
	return a.withDB(path, false, nil, func(db *scdb.DB, cred *credential) (err error) {
		prog := a.newProgress()
		prog.Start("import", inputSize(a.stdin))
		defer prog.Stop()
		in := &errReader{r: countingReader{r: a.stdin, p: prog}}
		im := &importer{db: db, list: list, batch: a.opts.batch,
			rules: lineRules{idField: a.opts.idField, raw: a.opts.raw}}
		if err := im.run(bufio.NewReaderSize(in, 64<<10)); err != nil {
			prog.Stop()
			return im.explain(path, cred, in.err, err)
		}
		prog.Stop()
		fmt.Fprintf(a.stdout, "imported %d records into list %s of %s (%d by id, %d appended)\n",
			im.byID+im.appended, quote(list), path, im.byID, im.appended)
		return nil
	})
}

// inputSize is the size of stdin when it is a regular file, for the
// progress bar's ETA; 0 when unknown.
func inputSize(r io.Reader) int64 {
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return 0
}

// lineError is a line that could not be stored, with its number.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

func (im *importer) run(r *bufio.Reader) error {
	defer func() {
		if im.tx != nil {
			im.tx.Rollback()
		}
	}()
	for {
		line, err := readLine(r)
		if err == io.EOF {
			break
		}
		im.line++
		if err != nil {
			return &lineError{line: im.line, err: err}
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := im.store(line); err != nil {
			return &lineError{line: im.line, err: err}
		}
	}
	return im.commit()
}

// maxImportLine bounds the memory one line of import input can take: the
// whole line is held to be parsed. Larger values go in with put, which
// streams. A variable so tests can lower it.
var maxImportLine = 64 << 20

// readLine returns the next line in a new slice, without its "\n" or
// "\r\n"; the last line need not end with "\n". A line longer than
// maxImportLine is an error, not an allocation the size of the input.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > maxImportLine+2 { // +2: the line end
			return nil, fmt.Errorf("is longer than the import limit of %d MiB; store a value that large with scdb put, which streams", maxImportLine>>20)
		}
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) > 0 {
			err = nil
		}
		if err != nil {
			return nil, err
		}
		break
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

func (im *importer) store(line []byte) error {
	p, err := im.rules.parse(line)
	if err != nil {
		return err
	}
	if im.tx == nil {
		if im.tx, err = im.db.Begin(true); err != nil {
			return err
		}
	}
	l := im.tx.List(im.list)
	if p.hasID {
		err = l.Put(p.id, p.value)
		im.byID++
	} else {
		_, err = l.Append(p.value)
		im.appended++
	}
	if err != nil {
		return fmt.Errorf("could not be stored: %w", err)
	}
	if im.inTx++; im.batch > 0 && im.inTx == im.batch {
		return im.commit()
	}
	return nil
}

func (im *importer) commit() error {
	if im.tx == nil {
		return nil
	}
	err := im.tx.Commit()
	im.tx = nil
	if err == nil {
		im.committed += im.inTx
		im.inTx = 0
	}
	return err
}

// explain words an import failure, saying what was kept: nothing, or the
// batches committed before it.
func (im *importer) explain(path string, cred *credential, readErr, err error) error {
	kept := fmt.Sprintf("nothing was imported: %s is as it was", path)
	if im.committed > 0 {
		kept = fmt.Sprintf("the first %d records were committed in batches of %d before it; the rest were not imported",
			im.committed, im.batch)
	}
	var le *lineError
	switch {
	case readErr != nil:
		return fail(exitError, "cannot read the input after line %d (%v); %s", im.line, readErr, kept)
	case errors.Is(err, scdb.ErrCorrupt) || errors.Is(err, scdb.ErrLocked):
		return fileErr(path, cred, err)
	case errors.As(err, &le):
		return fail(exitError, "input line %d %s; %s", le.line, strip(le.err), kept)
	}
	return fail(exitError, "%s: %s; %s", path, strip(err), kept)
}
