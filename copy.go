package scdb

import (
	"fmt"

	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/pager"
)

// CopyTo writes every list and record of a snapshot of db into dst, in one
// transaction of dst: dst gets all of it or, on error, none. Records that
// dst already has under the same list and id are replaced. Values stream
// through page by page, so memory stays flat.
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
		return nil
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

// CompactTo writes a compact copy of db to a new file at path: the same
// contents in as few pages as they need, with the same key slots (every
// key and passphrase that opens db opens the copy) and a generation that
// continues db's. Replace the original with the copy to reclaim space.
func (db *DB) CompactTo(path string) error {
	f, err := pager.OpenFile(path, true, false)
	if err != nil {
		return fmt.Errorf("compact to %s: %w", path, err)
	}
	p, err := pager.CreateSuccessor(db.p, f, db.p.Options())
	if err != nil {
		f.Close()
		removeFile(path)
		return fmt.Errorf("compact to %s: %w", path, err)
	}
	dst := newDB(p, freelist.New())
	dst.name = path
	if err := db.CopyTo(dst); err != nil {
		dst.Close()
		removeFile(path)
		return fmt.Errorf("compact to %s: %w", path, err)
	}
	return dst.Close()
}

// CreateRekeyed creates a new, empty file at path under a fresh data key
// and file id, with one key slot for cred and the page size of db, whose
// generation continues db's: copy db into it (CopyTo) to re-encrypt db, and
// an application that pins Generation still sees it grow.
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
	dst := newDB(p, freelist.New())
	dst.name = path
	return dst, nil
}
