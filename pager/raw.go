package pager

import (
	"errors"
	"fmt"
	"io"

	"github.com/streamcrypt/scdb/internal/errs"
)

// Raw access for copying a file as it is (a backup): sealed bytes are
// passed through, never opened, so a copy is exactly as trustworthy as the
// original and needs no trust in the copier's reads.

// headerReadTries bounds how often ReadHeaderPage re-reads page 0 when no
// copy of it is intact: a header rewrite tears at most one copy at a time,
// so only a read that overlaps two rewrites in a row sees neither whole.
const headerReadTries = 8

// ReadRaw reads the sealed bytes of pages pgno, pgno+1, ... into dst (a
// whole number of pages) as the file holds them now, without opening them
// or going through the cache. Bytes past the end of the file read as zero:
// a page there was trimmed by a commit, which trims only pages that no
// state still in use reaches. It returns how many bytes of dst came from the
// file. The caller decides which pages' bytes mean anything: a page reached
// by an open snapshot does not change while the snapshot is open; any other
// may be rewritten while it is read.
func (p *Pager) ReadRaw(pgno uint64, dst []byte) (int, error) {
	n := uint64(len(dst) / p.pageSize)
	if len(dst)%p.pageSize != 0 || pgno > p.maxPages()-n {
		return 0, fmt.Errorf("%w: pager: raw read of %d bytes at page %d", errs.ErrInvalid, len(dst), pgno)
	}
	got, err := p.f.ReadAt(dst, int64(pgno)*int64(p.pageSize))
	if p.closed.Load() {
		return 0, errs.ErrClosed
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("pager: read pages %d..%d: %w", pgno, pgno+n-1, err)
	}
	clear(dst[got:])
	return got, nil
}

// ReadHeaderPage reads page 0 (both header copies and the zero bytes after
// them) into dst, PageSize bytes, as the file holds it now. It checks that
// at least one copy is intact and belongs to this file (its file id, key id
// and page size), reading again while a concurrent key-slot change has torn
// the copies: a page 0 that passes opens with the same data key as this
// pager, since slot changes rewrap the key and never change it.
func (p *Pager) ReadHeaderPage(dst []byte) error {
	if len(dst) != p.pageSize {
		return fmt.Errorf("%w: pager: header page into %d bytes", errs.ErrInvalid, len(dst))
	}
	var last error
	for try := 0; try < headerReadTries; try++ {
		if err := p.readAt(dst, 0); err != nil {
			return err
		}
		h, _, err := pickHeader(dst[:HeaderBytes])
		if err == nil {
			p.mu.Lock()
			cur := p.hdr
			p.mu.Unlock()
			if h.fileID != cur.fileID || h.keyID != cur.keyID || h.pageShift != cur.pageShift {
				return errs.Corrupt(0, "the header now in the file is not the one this file was opened with")
			}
			return nil
		}
		last = err
	}
	return fmt.Errorf("pager: no intact header copy in %d reads: %w", headerReadTries, last)
}

// SealMeta seals m as the meta page of its generation (page 1 + m.Gen%2)
// into dst, PageSize bytes, with a fresh nonce, and returns that page
// number. It refuses a meta that Open would not accept. A copy of a state
// writes its meta this way rather than copying the meta page's bytes: the
// commit two generations on rewrites that page while the copy runs.
func (p *Pager) SealMeta(dst []byte, m Meta) (uint64, error) {
	if len(dst) != p.pageSize {
		return 0, fmt.Errorf("%w: pager: meta page into %d bytes", errs.ErrInvalid, len(dst))
	}
	if err := p.checkMeta(m); err != nil {
		return 0, err
	}
	if err := p.sealMeta(dst, m); err != nil {
		return 0, err
	}
	return metaPage(m.Gen), nil
}
