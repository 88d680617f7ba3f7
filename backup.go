package scdb

import (
	"fmt"
	"io"

	"github.com/streamcrypt/scdb/pager"
)

// backupRunBytes is how much of the file a backup reads and writes at a
// time: large enough that a copy goes at disk speed, small enough that its
// memory does not depend on the file.
const backupRunBytes = 256 << 10

// Backup writes a consistent copy of db to w while other transactions go on:
// the file as of the last commit when Backup starts, one read snapshot,
// never a mix. It returns the bytes written. The copy is a file of its own
// that opens with every key and passphrase db opens with, at that commit's
// generation; like a copy made with cp it has db's file id, so write only
// one of the two (or re-key the copy with "scdb rotate").
//
// Pages go through sealed, as the file holds them: they are neither
// decrypted nor verified, so damage in db is copied, not reported; run
// CheckFile on the copy to verify it. Memory stays flat whatever the file's
// size. The snapshot is held until Backup returns, so pages freed
// meanwhile are not reused and the file may grow while a long backup runs.
func (db *DB) Backup(w io.Writer) (n int64, err error) {
	tx, err := db.Begin(false)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	return tx.WriteTo(w)
}

// WriteTo writes the snapshot that the read-only transaction tx reads to w,
// as a file of its own: see DB.Backup, which is this in a transaction of
// its own. Use it to copy exactly the state tx has been reading (its
// Generation, its lists) rather than the latest one. A writable transaction
// refuses with ErrInvalid: its state is not committed yet.
func (tx *Tx) WriteTo(w io.Writer) (n int64, err error) {
	if err := tx.check(); err != nil {
		return 0, err
	}
	if tx.w != nil {
		return 0, fmt.Errorf("%w: WriteTo copies a committed state; commit first, then copy from a read-only transaction", ErrInvalid)
	}
	bw := &backupWriter{w: w}
	err = writeBackup(tx.db.p, tx.meta, bw)
	return bw.n, err
}

// writeBackup writes the file of state m: page 0 as the file holds it, the
// two meta pages, then every page below the state's page count.
//
// Page 0 holds the plaintext header copies: any intact copy opens with the
// same data key, so they are copied as they are. The meta of m is sealed
// anew rather than copied: the commit two generations after m rewrites its
// page, maybe while this copy runs. The other meta page is written all zero,
// which a reader takes for a page never written (FORMAT.md §7), so the copy
// opens at m and reports no fault. The pages m reaches do not change while
// the snapshot is open (the freelist keeps them from reuse). The others
// are free in m and may be rewritten, or trimmed off the file, as they are
// read: whatever bytes they hold, the copy's freelist calls them free and
// nothing reads them.
func writeBackup(p *pager.Pager, m pager.Meta, w *backupWriter) error {
	ps := p.PageSize()
	page := make([]byte, ps)
	if err := p.ReadHeaderPage(page); err != nil {
		return fmt.Errorf("backup: header: %w", err)
	}
	if err := w.write(page); err != nil {
		return err
	}
	metaPage := make([]byte, ps)
	metaPgno, err := p.SealMeta(metaPage, m)
	if err != nil {
		return fmt.Errorf("backup: meta: %w", err)
	}
	clear(page)
	for pgno := uint64(1); pgno < pager.FirstDataPage; pgno++ {
		out := page
		if pgno == metaPgno {
			out = metaPage
		}
		if err := w.write(out); err != nil {
			return err
		}
	}
	run := make([]byte, max(1, backupRunBytes/ps)*ps)
	for pgno := uint64(pager.FirstDataPage); pgno < m.PageCount; {
		n := min(uint64(len(run)/ps), m.PageCount-pgno)
		buf := run[:n*uint64(ps)]
		if _, err := p.ReadRaw(pgno, buf); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if err := w.write(buf); err != nil {
			return err
		}
		pgno += n
	}
	return nil
}

// backupWriter counts the bytes written and names a failed write as the
// destination's, so that it is not taken for a fault of db.
type backupWriter struct {
	w io.Writer
	n int64
}

func (b *backupWriter) write(p []byte) error {
	n, err := b.w.Write(p)
	b.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("backup: write: %w", err)
	}
	return nil
}
