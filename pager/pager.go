// Package pager owns the scdb file as a sequence of fixed-size encrypted
// pages: the plaintext header and its key slots, sealing and opening pages
// through crypt, the cache of decrypted pages, the two meta pages and the
// commit protocol that makes a new state durable atomically.
//
// The pager never decides which page is free (freelist does) nor what a
// page's payload means beyond its type byte (dirtree, record, freelist do).
// It never overwrites a page that the last committed state references: it
// writes only the page numbers its caller allocated, and the caller's
// allocator guarantees those are unreachable from any committed state.
package pager

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/errs"
)

// Defaults for Options' zero values.
const (
	DefaultPageSize  = 4096
	DefaultCacheSize = 4 << 20
)

// Options configure Create and Open. Zero values mean the defaults.
type Options struct {
	PageSize  int             // Create only: a power of two from 1 KiB to 64 KiB; 0 means 4 KiB
	CacheSize int             // bytes of decrypted pages kept; 0 means 4 MiB
	ReadOnly  bool            // refuse every write
	NoSync    bool            // skip fsync on commit; see FORMAT.md, commit protocol
	KDF       crypt.KDFParams // Argon2id cost for new passphrase slots; zero means crypt.DefaultKDF
	Rand      io.Reader       // nonce and key source; nil means crypto/rand (set only for test vectors)
	FirstGen  uint64          // Create only: the generation of the initial empty state (a re-keyed copy continues its original's count)
}

func (o *Options) rand() io.Reader {
	if o.Rand == nil {
		return rand.Reader
	}
	return o.Rand
}

func (o *Options) kdf() crypt.KDFParams {
	if o.KDF == (crypt.KDFParams{}) {
		return crypt.DefaultKDF
	}
	return o.KDF
}

// Pager is an open scdb file. Reads (Page, ReadPages) are safe for
// concurrent use; writes (WritePage, Commit, slot changes) come from one
// writer at a time.
type Pager struct {
	f        File
	opts     Options
	pageSize int
	cipher   *crypt.PageCipher
	dataKey  []byte
	cache    *cache
	bufs     sync.Pool // sealed-page buffers of pageSize bytes
	runBufs  sync.Pool // sealed buffers for ReadPages, grown to the largest run read
	closed   atomic.Bool
	fileSize atomic.Int64 // bytes in the file as far as the pager knows
	mm       *mapping     // nil where reads cannot be mapped

	mu        sync.Mutex // guards the fields below
	hdr       *header
	hdrCopy   int   // which header copy hdr was read from
	meta      Meta  // last committed state
	poisoned  error // set when a commit failed after touching a meta page
	metaFault error // why the other meta page was not usable, if it was not
}

// Create writes a new, empty scdb file to f, with one key slot for cred.
func Create(f File, cred crypt.Credential, opts Options) (*Pager, error) {
	if opts.ReadOnly {
		return nil, fmt.Errorf("%w: cannot create a read-only file", errs.ErrInvalid)
	}
	if opts.PageSize == 0 {
		opts.PageSize = DefaultPageSize
	}
	shift, ok := pageShift(opts.PageSize)
	if !ok {
		return nil, fmt.Errorf("%w: page size %d is not a power of two from %d to %d",
			errs.ErrInvalid, opts.PageSize, 1<<MinPageShift, 1<<MaxPageShift)
	}
	h := &header{major: FormatMajor, minor: FormatMinor, suite: crypt.SuiteXChaCha20Poly1305, pageShift: shift, epoch: 1}
	if _, err := io.ReadFull(opts.rand(), h.fileID[:]); err != nil {
		return nil, fmt.Errorf("pager: file id: %w", err)
	}
	dataKey, err := crypt.NewDataKey(opts.rand())
	if err != nil {
		return nil, err
	}
	if h.slots[0], err = crypt.NewSlot(dataKey, cred, opts.kdf(), h.fileID, opts.rand()); err != nil {
		return nil, err
	}
	p, err := newPager(f, h, 0, dataKey, opts)
	if err != nil {
		return nil, err
	}
	if err := p.writeInitial(opts.FirstGen); err != nil {
		return nil, err
	}
	return p, nil
}

// CreateSuccessor writes to f a new, empty file that is src's successor: the
// same file id, key slots, data key and page size, and a first generation
// past src's last. Every page pointer in it expects a generation src never
// wrote, so no page of src can be put into it unnoticed; to the application
// it is src at a later generation. Compaction writes src's contents into it.
func CreateSuccessor(src *Pager, f File, opts Options) (*Pager, error) {
	if opts.ReadOnly {
		return nil, fmt.Errorf("%w: cannot create a read-only file", errs.ErrInvalid)
	}
	src.mu.Lock()
	h := *src.hdr
	src.mu.Unlock()
	h.epoch = 1
	p, err := newPager(f, &h, 0, bytes.Clone(src.dataKey), opts)
	if err != nil {
		return nil, err
	}
	if err := p.writeInitial(src.Meta().Gen + 1); err != nil {
		return nil, err
	}
	return p, nil
}

// writeInitial lays down page 0 (both header copies) and the meta of an
// empty state at generation gen; the other meta page is all zero and fails
// to open until the next generation is written there.
func (p *Pager) writeInitial(gen uint64) error {
	buf := make([]byte, FirstDataPage*p.pageSize)
	enc := p.hdr.encode()
	copy(buf, enc)
	copy(buf[headerSize:], enc)
	p.meta = Meta{Gen: gen, PageCount: FirstDataPage}
	at := int(metaPage(gen)) * p.pageSize
	if err := p.sealMeta(buf[at:at+p.pageSize], p.meta); err != nil {
		return err
	}
	if _, err := p.f.WriteAt(buf, 0); err != nil {
		return fmt.Errorf("pager: write new file: %w", err)
	}
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("pager: sync new file: %w", err)
	}
	p.fileSize.Store(int64(len(buf)))
	p.mm = newMapping(p.f, int64(len(buf)))
	return nil
}

// Open opens the scdb file in f with cred. It tells apart a file that is not
// scdb (errs.ErrNotSCDB), a newer format (errs.ErrVersion), a damaged header
// or meta (errs.ErrCorrupt) and a credential that opens no slot
// (errs.ErrWrongKey).
func Open(f File, cred crypt.Credential, opts Options) (*Pager, error) {
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("pager: size: %w", err)
	}
	head := make([]byte, min(size, HeaderBytes))
	if _, err := f.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("pager: read header: %w", err)
	}
	h, idx, err := pickHeader(head)
	if err != nil {
		return nil, err
	}
	dataKey, err := unlock(h, cred)
	if err != nil {
		return nil, err
	}
	p, err := newPager(f, h, idx, dataKey, opts)
	if err != nil {
		return nil, err
	}
	p.fileSize.Store(size)
	p.mm = newMapping(f, size)
	if err := p.loadMeta(); err != nil {
		p.zeroKey()
		return nil, err
	}
	return p, nil
}

// unlock tries cred on every slot of its kind and returns the data key of
// the first that opens.
func unlock(h *header, cred crypt.Credential) ([]byte, error) {
	for i := range h.slots {
		s := &h.slots[i]
		if s.Kind() == crypt.SlotEmpty {
			continue
		}
		key, err := s.Unwrap(cred, h.fileID)
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, errs.ErrWrongKey) {
			return nil, err
		}
	}
	what := "key"
	if cred.Passphrase != nil {
		what = "passphrase"
	}
	return nil, fmt.Errorf("%w: the %s opens none of the file's key slots", errs.ErrWrongKey, what)
}

func newPager(f File, h *header, hdrCopy int, dataKey []byte, opts Options) (*Pager, error) {
	c, err := crypt.NewPageCipher(dataKey, h.fileID, opts.rand())
	if err != nil {
		return nil, err
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	p := &Pager{f: f, opts: opts, pageSize: h.pageSize(), cipher: c, dataKey: dataKey,
		cache: newCache(opts.CacheSize), hdr: h, hdrCopy: hdrCopy}
	p.bufs.New = func() any { b := make([]byte, p.pageSize); return &b }
	p.runBufs.New = func() any { var b []byte; return &b }
	return p, nil
}

// loadMeta opens both meta pages and adopts the valid one with the highest
// generation. A meta page that fails to open is what a torn meta write
// leaves; only when neither opens is the file corrupt.
func (p *Pager) loadMeta() error {
	size := p.fileSize.Load()
	if size < int64(FirstDataPage*p.pageSize) {
		return errs.Corrupt(1, "file is %d bytes, shorter than its header and meta pages", size)
	}
	var best *Meta
	var faults []error
	for pgno := uint64(1); pgno <= 2; pgno++ {
		m, err := p.readMeta(pgno)
		if err != nil {
			faults = append(faults, err)
			continue
		}
		if best == nil || m.Gen > best.Gen {
			best = &m
		}
	}
	if best == nil {
		return fmt.Errorf("no usable meta page: %w", errors.Join(faults...))
	}
	if need := int64(best.PageCount) * int64(p.pageSize); size < need {
		return errs.Corrupt(best.PageCount-1, "file is %d bytes but generation %d needs %d (truncated)", size, best.Gen, need)
	}
	p.meta = *best
	p.metaFault = errors.Join(faults...)
	return nil
}

func (p *Pager) readMeta(pgno uint64) (Meta, error) {
	payload := make([]byte, p.PayloadSize())
	if err := p.readSealed(pgno, metaGenAD, payload); err != nil {
		return Meta{}, err
	}
	return decodeMeta(payload, pgno, p.hdr.pageShift)
}

func (p *Pager) sealMeta(dst []byte, m Meta) error {
	payload := make([]byte, p.PayloadSize())
	m.encode(payload, p.hdr.pageShift)
	return p.cipher.Seal(dst, payload, metaPage(m.Gen), metaGenAD)
}

// Options returns the options the pager was opened with, ReadOnly cleared:
// what a file derived from this one (CreateSuccessor) is created with.
func (p *Pager) Options() Options {
	o := p.opts
	o.ReadOnly = false
	return o
}

// PageSize is the size of every page in bytes.
func (p *Pager) PageSize() int { return p.pageSize }

// PayloadSize is the plaintext bytes of a page: PageSize minus nonce and tag.
func (p *Pager) PayloadSize() int { return p.pageSize - crypt.Overhead }

// Meta returns the last committed state.
func (p *Pager) Meta() Meta {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.meta
}

// MetaFault says why the meta page other than the current one could not be
// used when the file was opened (nil if both opened). A torn final commit
// and a damaged older meta look alike here; integrity checks report it.
func (p *Pager) MetaFault() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.metaFault
}

// FileID returns the file's random 16-byte identity.
func (p *Pager) FileID() [crypt.FileIDSize]byte { return p.hdr.fileID }

// Page implements Reader: the decrypted payload of ref, from the cache when
// it is there.
func (p *Pager) Page(ref Ref) ([]byte, error) {
	if b := p.cache.get(ref); b != nil {
		return b, nil
	}
	if ref.Page < FirstDataPage {
		return nil, errs.Corrupt(ref.Page, "pointer to a reserved page")
	}
	payload := make([]byte, p.PayloadSize())
	if err := p.readSealed(ref.Page, ref.Gen, payload); err != nil {
		return nil, err
	}
	p.cache.put(ref, payload)
	return payload, nil
}

// ReadPages implements Reader: len(dst)/PayloadSize contiguous pages read in
// one call and decrypted into dst, bypassing the cache.
func (p *Pager) ReadPages(first Ref, dst []byte) error {
	ps, n := p.PayloadSize(), len(dst)/p.PayloadSize()
	if n == 0 || len(dst)%ps != 0 {
		return fmt.Errorf("pager: ReadPages into %d bytes", len(dst))
	}
	if first.Page < FirstDataPage {
		return errs.Corrupt(first.Page, "pointer to a reserved page")
	}
	return p.withSealed(first.Page, n, func(sealed []byte) error {
		for i := 0; i < n; i++ {
			pgno := first.Page + uint64(i)
			if err := p.cipher.Open(dst[i*ps:(i+1)*ps], sealed[i*p.pageSize:(i+1)*p.pageSize], pgno, first.Gen); err != nil {
				return err
			}
		}
		return nil
	})
}

// readSealed reads page pgno and opens it at gen into payload.
func (p *Pager) readSealed(pgno, gen uint64, payload []byte) error {
	return p.withSealed(pgno, 1, func(sealed []byte) error {
		return p.cipher.Open(payload, sealed, pgno, gen)
	})
}

// withSealed calls fn with the sealed bytes of n pages from pgno on: from
// the read map when it covers them, else read into a pooled buffer. fn must
// not keep the slice.
func (p *Pager) withSealed(pgno uint64, n int, fn func(sealed []byte) error) error {
	if pgno > uint64(1<<62)/uint64(p.pageSize) {
		return errs.Corrupt(pgno, "page number beyond any file")
	}
	off, size := int64(pgno)*int64(p.pageSize), int64(n*p.pageSize)
	if ok, err := p.mm.view(off, size, p.fileSize.Load(), fn); ok {
		return err
	}
	bp := p.runBufs.Get().(*[]byte)
	defer p.runBufs.Put(bp)
	if int64(cap(*bp)) < size {
		*bp = make([]byte, size)
	}
	sealed := (*bp)[:size]
	if err := p.readAt(sealed, pgno); err != nil {
		return err
	}
	return fn(sealed)
}

// readAt reads whole pages starting at pgno; a short read is corruption
// (a pointer past the end of a truncated file).
func (p *Pager) readAt(buf []byte, pgno uint64) error {
	n, err := p.f.ReadAt(buf, int64(pgno)*int64(p.pageSize))
	if n == len(buf) {
		return nil
	}
	if p.closed.Load() {
		return errs.ErrClosed
	}
	if err == nil || errors.Is(err, io.EOF) {
		return errs.Corrupt(pgno, "page lies beyond the end of the file")
	}
	return fmt.Errorf("pager: read page %d: %w", pgno, err)
}

// WritePage seals payload as page pgno at generation gen and writes it to
// the file at once. The caller guarantees pgno is not reachable from the
// last committed state nor from any open snapshot.
func (p *Pager) WritePage(pgno, gen uint64, payload []byte) error {
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	if err := p.SealPage(*bp, pgno, gen, payload); err != nil {
		return err
	}
	return p.WriteSealed(pgno, *bp)
}

// SealPage seals payload as page pgno at generation gen into dst (PageSize
// bytes) for WriteSealed, and forgets any cached copy of the page: it is
// about to change. Together they let a writer send a run of pages to the
// file in one write.
func (p *Pager) SealPage(dst []byte, pgno, gen uint64, payload []byte) error {
	if err := p.writable(); err != nil {
		return err
	}
	if pgno < FirstDataPage || len(payload) != p.PayloadSize() || len(dst) != p.pageSize {
		return fmt.Errorf("pager: write of page %d with %d bytes", pgno, len(payload))
	}
	if err := p.cipher.Seal(dst, payload, pgno, gen); err != nil {
		return err
	}
	p.cache.forget(pgno)
	return nil
}

// WriteSealed writes pages sealed by SealPage, consecutive from pgno on, in
// one write. The caller guarantees they are not reachable from the last
// committed state nor from any open snapshot.
func (p *Pager) WriteSealed(pgno uint64, sealed []byte) error {
	if err := p.writable(); err != nil {
		return err
	}
	if pgno < FirstDataPage || len(sealed)%p.pageSize != 0 {
		return fmt.Errorf("pager: write of %d bytes at page %d", len(sealed), pgno)
	}
	off := int64(pgno) * int64(p.pageSize)
	if _, err := p.f.WriteAt(sealed, off); err != nil {
		return fmt.Errorf("pager: write pages %d..%d: %w", pgno, pgno+uint64(len(sealed)/p.pageSize)-1, err)
	}
	// Only the writer grows the file, so load-then-store does not race.
	if end := off + int64(len(sealed)); end > p.fileSize.Load() {
		p.fileSize.Store(end)
	}
	return nil
}

// Commit makes m the committed state: it syncs the pages written since the
// last commit, writes m to its meta page and syncs again. m.Gen must follow
// the current generation. After Commit returns nil, m survives any crash
// (unless NoSync). If it fails the pager refuses further writes: the file
// on disk holds either the old or the new state, and only reopening tells.
func (p *Pager) Commit(m Meta) error {
	if err := p.writable(); err != nil {
		return err
	}
	cur := p.Meta()
	if m.Gen != cur.Gen+1 {
		return fmt.Errorf("pager: commit of generation %d after %d", m.Gen, cur.Gen)
	}
	if err := p.checkMeta(m); err != nil {
		return err
	}
	// Pages allocated but never written (a streamed value's unused tail)
	// may end the state: the file must still reach its page count.
	if need := int64(m.PageCount) * int64(p.pageSize); p.fileSize.Load() < need {
		if err := p.f.Truncate(need); err != nil {
			return p.poison(fmt.Errorf("pager: extend file: %w", err))
		}
		p.fileSize.Store(need)
	}
	if err := p.sync(); err != nil {
		return p.poison(fmt.Errorf("pager: sync before commit: %w", err))
	}
	buf := make([]byte, p.pageSize)
	if err := p.sealMeta(buf, m); err != nil {
		return err
	}
	if _, err := p.f.WriteAt(buf, int64(metaPage(m.Gen))*int64(p.pageSize)); err != nil {
		return p.poison(fmt.Errorf("pager: write meta: %w", err))
	}
	if err := p.sync(); err != nil {
		return p.poison(fmt.Errorf("pager: sync meta: %w", err))
	}
	p.mu.Lock()
	p.meta = m
	p.mu.Unlock()
	// The commit is durable now. The file keeps the pages the previous
	// commit needs too, so that it stays readable should the new meta page
	// be damaged later (FORMAT.md §9.1). A failed trim only leaves
	// unreferenced bytes at the end, and the next commit tries again.
	_ = p.trim(int64(max(m.PageCount, cur.PageCount)) * int64(p.pageSize))
	return nil
}

// checkMeta refuses a meta that Open would reject: committing it would
// return nil and the next Open would fall back to the previous generation.
func (p *Pager) checkMeta(m Meta) error {
	payload := make([]byte, p.PayloadSize())
	m.encode(payload, p.hdr.pageShift)
	if _, err := decodeMeta(payload, metaPage(m.Gen), p.hdr.pageShift); err != nil {
		return fmt.Errorf("%w: pager: meta %+v would not open: %v", errs.ErrInvalid, m, err)
	}
	return nil
}

// trim cuts the file to size bytes if it is longer: pages past the page
// count are free or were never committed. It then lets the read map cover
// a file that grew.
func (p *Pager) trim(size int64) error {
	defer p.mm.grow(p.fileSize.Load())
	if p.fileSize.Load() <= size {
		return nil
	}
	return p.mm.exclusive(func() error {
		if err := p.f.Truncate(size); err != nil {
			return fmt.Errorf("pager: truncate: %w", err)
		}
		p.fileSize.Store(size)
		return nil
	})
}

func (p *Pager) sync() error {
	if p.opts.NoSync {
		return nil
	}
	return p.f.Sync()
}

func (p *Pager) poison(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.poisoned == nil {
		p.poisoned = err
	}
	return err
}

func (p *Pager) writable() error {
	if p.opts.ReadOnly {
		return errs.ErrReadOnly
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.poisoned != nil {
		return fmt.Errorf("pager: an earlier commit failed, reopen the file: %w", p.poisoned)
	}
	return nil
}

// Close zeroes the pager's copy of the data key and closes the file. It
// does not commit anything.
func (p *Pager) Close() error {
	p.closed.Store(true)
	p.mm.close()
	p.zeroKey()
	return p.f.Close()
}

func (p *Pager) zeroKey() { clear(p.dataKey) }

func pageShift(size int) (byte, bool) {
	for s := MinPageShift; s <= MaxPageShift; s++ {
		if size == 1<<s {
			return byte(s), true
		}
	}
	return 0, false
}
