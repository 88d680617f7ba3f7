package scdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/pager"
)

// CopyTo writes every list and record of a snapshot of db into dst, in one
// transaction of dst: dst gets all of it or, on error, none. Records that
// dst already has under the same list and id are replaced. Values stream
// through page by page, so memory stays flat. Each list's Append sequence
// comes along (dst keeps the higher of the two), so ids Append gives in dst
// still sort after every id it gave in db.
func (db *DB) CopyTo(dst *DB) error {
	src, err := db.Begin(false)
	if err != nil {
		return err
	}
	defer src.Rollback()
	return dst.Update(func(tx *Tx) error {
		for name, err := range src.Lists() {
			if err != nil {
				return err
			}
			if err := copyList(src.List(name), tx.List(name)); err != nil {
				return fmt.Errorf("copy list %q: %w", name, err)
			}
		}
		return copyAppendSeqs(src, tx)
	})
}

func copyList(from, to *List) error {
	for rec, err := range from.All() {
		if err != nil {
			return err
		}
		if err := to.PutReader(rec.ID(), rec.Reader()); err != nil {
			return err
		}
	}
	return nil
}

// copyAppendSeqs carries every directory entry's Append sequence from src to
// dst, including entries kept only for it (lists emptied by Delete).
func copyAppendSeqs(src, dst *Tx) error {
	seqs, err := src.AppendSequences()
	if err != nil {
		return err
	}
	for name, seq := range seqs {
		ls, err := dst.list(name)
		if err != nil {
			return err
		}
		if seq > ls.entry.seq {
			ls.entry.seq = seq
			ls.dirty = true
		}
	}
	return nil
}

// AppendSequences returns, for every list whose Append sequence has moved,
// the number Append formats into the next id it tries (ids it gave are
// below it). Lists emptied by Delete keep theirs, so they are included; a
// list DeleteList dropped starts again at 0 and is not.
func (tx *Tx) AppendSequences() (map[string]uint64, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	seqs := map[string]uint64{}
	c := tx.dir.Cursor()
	defer c.Close()
	k, v, ok, err := c.First()
	for ; ok && err == nil; k, v, ok, err = c.Next() {
		e, err := decodeListEntry(v)
		if err != nil {
			return nil, fmt.Errorf("list %q: %w", k, err)
		}
		if ls, changed := tx.lists[string(k)]; changed {
			e = ls.entry
		}
		if e.seq > 0 {
			seqs[string(k)] = e.seq
		}
	}
	for name, ls := range tx.lists { // lists this transaction made
		if _, seen := seqs[name]; !seen && ls.entry.seq > 0 {
			seqs[name] = ls.entry.seq
		}
	}
	return seqs, err
}

// CompactTo writes a compact copy of db to a new file at path: the same
// contents in as few pages as they need, with the same key slots (every
// key and passphrase that opens db opens the copy), a fresh file id and a
// generation that continues db's. The copy replaces db: from then on db
// refuses write transactions and key changes (ErrReadOnly), so that no one
// goes on writing a file that has a successor. A read-only db can be
// compacted too. Close db and rename the copy
// over it to reclaim the space, or use CompactFile, which does all of that.
func (db *DB) CompactTo(path string) error {
	if db.fl != nil { // writable: no commit may slip in between copy and handover
		if err := db.lockWriter(); err != nil {
			return fmt.Errorf("compact to %s: %w", path, err)
		}
		defer db.writer.Unlock()
	}
	dst, err := db.createSuccessor(path)
	if err != nil {
		return fmt.Errorf("compact to %s: %w", path, err)
	}
	if err := db.CopyTo(dst); err != nil {
		dst.Close()
		removeFile(path)
		return fmt.Errorf("compact to %s: %w", path, err)
	}
	if err := dst.Close(); err != nil {
		removeFile(path)
		return fmt.Errorf("compact to %s: %w", path, err)
	}
	if db.fl != nil {
		db.superseded = path
	}
	return nil
}

// createSuccessor makes the new file at path that compaction fills.
func (db *DB) createSuccessor(path string) (*DB, error) {
	f, err := pager.OpenFile(path, true, false)
	if err != nil {
		return nil, err
	}
	p, err := pager.CreateSuccessor(db.p, f, db.p.Options())
	if err != nil {
		f.Close()
		removeFile(path)
		return nil, err
	}
	dst := newDB(p, freelist.New(), Options{KeepFreeSpace: db.keepFree})
	dst.name = path
	return dst, nil
}

// CompactFile compacts the scdb file at path in place: it writes a compact
// copy beside it (path + ".compact"), makes the copy durable, renames it over
// path and syncs the directory. A crash at any step leaves either the
// original or the complete copy at path (and at worst a stray .compact file,
// removed by the next CompactFile). The file must not be open for writing
// elsewhere (ErrLocked); read-only DBs that have it open in other processes
// keep the old file, and their next snapshot reports ErrReplaced.
func CompactFile(path string, opts Options) error {
	if opts.ReadOnly {
		return fmt.Errorf("compact %s: %w: compaction writes", path, ErrInvalid)
	}
	tmp := path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("compact %s: remove stale %s: %w", path, tmp, err)
	}
	db, err := Open(path, opts)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	defer db.Close()
	if err := db.CompactTo(tmp); err != nil {
		return fmt.Errorf("compact %s: %w", path, err)
	}
	// The copy was synced by its commit; the rename makes it the file.
	if err := os.Rename(tmp, path); err != nil {
		removeFile(tmp)
		return fmt.Errorf("compact %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// CreateRekeyed creates a new, empty file at path under a fresh data key,
// key id and file id, with one key slot for cred and the page size of db,
// whose generation continues db's: copy db into it (CopyTo) to re-encrypt
// db, and an application that pins Generation still sees it grow.
func (db *DB) CreateRekeyed(path string, cred Credential) (*DB, error) {
	f, err := pager.OpenFile(path, true, false)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	opts := db.p.Options()
	opts.PageSize = db.p.PageSize()
	opts.FirstGen = db.Generation() + 1
	p, err := pager.Create(f, cred.crypt(), opts)
	if err != nil {
		f.Close()
		removeFile(path)
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	dst := newDB(p, freelist.New(), Options{KeepFreeSpace: db.keepFree})
	dst.name = path
	return dst, nil
}
