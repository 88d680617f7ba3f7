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
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/errs"
)

// Defaults for Options' zero values.
//
// DefaultCacheSize is 64 MiB. Each hit saves authenticating and decrypting
// a page (about 2.6 us for 4 KiB) and copying its sealed bytes out of the
// file: the OS page cache, which serves unencrypted stores for free, does
// not help there. Only lookups fill it: branch pages, pages read by write
// transactions, and the leaves lookups read (all of them while it has room,
// then those missed twice); a scan's leaves and a value's chain pages
// bypass it, so streaming and huge values stay at a few MiB of heap
// whatever the size. Repeated random lookups over a large file grow it to
// the bound, and the Go heap to about twice that (the GC's headroom).
// Measured on issue 9's records (63,000 of 700 B, a 62 MB file, 400,000
// random db.Get), as a ratio to the gets/s of bbolt with per-value
// XChaCha20-Poly1305: 4 MiB 0.75x, 16 MiB 0.77x, 32 MiB 0.9x, 64 MiB 1.15x
// (peak heap 25, 50, 85 and 114 MB).
const (
	DefaultPageSize  = 4096
	DefaultCacheSize = 64 << 20
)

// Options configure Create and Open. Zero values mean the defaults.
type Options struct {
	PageSize  int             // Create only: a power of two from 1 KiB to 64 KiB; 0 means 4 KiB
	CacheSize int             // bytes of decrypted pages kept; 0 means DefaultCacheSize (64 MiB)
	ReadOnly  bool            // refuse every write
	NoSync    bool            // skip fsync on commit; see FORMAT.md, commit protocol
	KDF       crypt.KDFParams // Argon2id cost for new passphrase slots; zero means crypt.DefaultKDF
	Rand      io.Reader       // nonce and key source; nil means crypto/rand (set only for test vectors)
	FirstGen  uint64          // Create only: the generation of the initial empty state (a re-keyed copy continues its original's count)
	KDFLimit  crypt.KDFLimit  // Open: the most Argon2id work paid per passphrase slot; zero fields mean crypt.DefaultKDFLimit's
	// RequireNewestMeta makes Open fail with errs.ErrCorrupt when the meta
	// page it does not use fails to open or does not hold the generation
	// just before the one used: the newest commit may have been dropped by
	// damage to its meta page. A crash that tears a commit's meta write
	// looks the same, so such a file then needs opening without it.
	RequireNewestMeta bool
}

func (o *Options) rand() io.Reader {
	if o.Rand == nil {
		return rand.Reader
	}
	return o.Rand
}

func (o *Options) kdfLimit() crypt.KDFLimit {
	l := o.KDFLimit
	if l.MemoryKiB == 0 {
		l.MemoryKiB = crypt.DefaultKDFLimit.MemoryKiB
	}
	if l.Work == 0 {
		l.Work = crypt.DefaultKDFLimit.Work
	}
	return l
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
	mm       *mapping     // a map to copy sealed pages from, or nil (pread)

	metaSeenMu sync.Mutex // guards metaSeen
	// metaSeen holds the last sealed bytes of meta pages 1 and 2 that
	// opened, and the meta each held.
	metaSeen [2]struct {
		sealed []byte
		meta   Meta
	}
	snapMu sync.Mutex     // guards snaps
	snaps  map[uint64]int // read snapshots by generation, in a read-only pager

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
	if cred.Passphrase != nil {
		if err := opts.kdfLimit().Allows(opts.kdf()); err != nil {
			return nil, fmt.Errorf("%w: a slot this costly could not be opened with the same options: %v", errs.ErrInvalid, err)
		}
	}
	h := &header{major: FormatMajor, minor: FormatMinor, suite: crypt.SuiteXChaCha20Poly1305, pageShift: shift, epoch: 1}
	if _, err := io.ReadFull(opts.rand(), h.fileID[:]); err != nil {
		return nil, fmt.Errorf("pager: file id: %w", err)
	}
	if _, err := io.ReadFull(opts.rand(), h.keyID[:]); err != nil {
		return nil, fmt.Errorf("pager: key id: %w", err)
	}
	dataKey, err := crypt.NewDataKey(opts.rand())
	if err != nil {
		return nil, err
	}
	if h.slots[0], err = crypt.NewSlot(dataKey, cred, opts.kdf(), h.keyID, opts.rand()); err != nil {
		clear(dataKey)
		return nil, err
	}
	return createWith(f, h, dataKey, opts, opts.FirstGen)
}

// createWith builds a pager over a new file with header h and writes its
// initial state at generation gen. It owns dataKey: on failure it zeroes it.
func createWith(f File, h *header, dataKey []byte, opts Options, gen uint64) (*Pager, error) {
	p, err := newPager(f, h, 0, dataKey, opts)
	if err != nil {
		clear(dataKey)
		return nil, err
	}
	if err := p.writeInitial(gen); err != nil {
		p.zeroKey()
		return nil, err
	}
	p.mm = newMapping(f, p.fileSize.Load())
	return p, nil
}

// CreateSuccessor writes to f a new, empty file that is src's successor: the
// same key id, key slots, data key and page size, a fresh file id, and a
// first generation past src's last. The fresh file id means no page of src
// opens in it, nor one of its pages in src, even if both go on being written;
// the continued generation means an application that pins the generation
// sees it grow. Compaction writes src's contents into it.
func CreateSuccessor(src *Pager, f File, opts Options) (*Pager, error) {
	if opts.ReadOnly {
		return nil, fmt.Errorf("%w: cannot create a read-only file", errs.ErrInvalid)
	}
	src.mu.Lock()
	h := *src.hdr
	src.mu.Unlock()
	h.epoch = 1
	if _, err := io.ReadFull(opts.rand(), h.fileID[:]); err != nil {
		return nil, fmt.Errorf("pager: file id: %w", err)
	}
	return createWith(f, &h, bytes.Clone(src.dataKey), opts, src.Meta().Gen+1)
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
	dataKey, err := unlock(h, cred, opts.kdfLimit())
	if err != nil {
		return nil, err
	}
	p, err := newPager(f, h, idx, dataKey, opts)
	if err != nil {
		clear(dataKey)
		return nil, err
	}
	p.fileSize.Store(size)
	if err := p.openMeta(); err != nil {
		p.zeroKey()
		return nil, err
	}
	// Mapped only once the open cannot fail: a map holds the file (and so
	// its lock) open until it is unmapped.
	p.mm = newMapping(f, p.fileSize.Load())
	return p, nil
}

// openMeta chooses the meta at Open and adopts it. A read-only open may
// have a writer beside it: see chooseMeta's restat, and a meta pair read
// while the writer writes one of its pages is not healthy for a moment, so
// a fault (MetaFault, or a refusal under RequireNewestMeta) counts only when
// three reads a millisecond apart give the same generation and fault.
func (p *Pager) openMeta() error {
	strict := p.opts.RequireNewestMeta
	if !p.opts.ReadOnly {
		m, fault, err := p.chooseMeta(false)
		if err == nil && fault != nil && strict {
			err = fmt.Errorf("the newest commit may have been dropped (RequireNewestMeta is set): %w", fault)
		}
		if err == nil {
			p.adopt(m, fault)
		}
		return err
	}
	var prev Meta
	var prevFault error
	agree := 0
	for try := 0; try < maxRefreshTries; try++ {
		m, fault, err := p.chooseRetrying()
		if err != nil {
			return err
		}
		if fault == nil {
			p.adopt(m, nil)
			return nil
		}
		if try > 0 && m == prev && fault.Error() == prevFault.Error() {
			agree++
		} else {
			agree = 0
		}
		if agree == 2 { // three reads a millisecond apart: damage, not a write in flight
			if strict {
				return fmt.Errorf("the newest commit may have been dropped (RequireNewestMeta is set): %w", fault)
			}
			p.adopt(m, fault)
			return nil
		}
		prev, prevFault = m, fault
		time.Sleep(time.Millisecond)
	}
	// The pair kept changing: a writer is committing, and its pages are whole.
	p.adopt(prev, nil)
	return nil
}

// chooseRetrying is chooseMeta beside a possible writer: a file shorter
// than the meta chosen can be a later commit's trim, so it looks again.
func (p *Pager) chooseRetrying() (Meta, error, error) {
	var (
		m     Meta
		fault error
		err   error
	)
	for try := 0; try < maxRefreshTries; try++ {
		var te *truncatedError
		if m, fault, err = p.chooseMeta(true); !errors.As(err, &te) {
			break
		}
	}
	return m, fault, err
}

// unlock tries cred on every slot of its kind and returns the data key of
// the first that opens. A passphrase slot above limit is skipped; if no slot
// opens, that is the error reported, since the passphrase may be right.
func unlock(h *header, cred crypt.Credential, limit crypt.KDFLimit) ([]byte, error) {
	var skipped error
	tried := false
	for i := range h.slots {
		s := &h.slots[i]
		if s.Kind() == crypt.SlotEmpty {
			continue
		}
		if tried && s.Kind() == crypt.SlotPassphrase {
			// Let the last attempt's Argon2id buffer go before the next
			// is allocated: a hostile header must not get two at once.
			runtime.GC()
		}
		key, err := s.Unwrap(cred, h.keyID, limit)
		switch {
		case err == nil:
			return key, nil
		case errors.Is(err, errs.ErrKDFLimit):
			if skipped == nil {
				skipped = fmt.Errorf("key slot %d: %w", i, err)
			}
		case errors.Is(err, errs.ErrWrongKey):
			tried = tried || s.Kind() == crypt.SlotPassphrase
		default:
			return nil, err
		}
	}
	if skipped != nil {
		return nil, skipped
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
		cache: newCache(opts.CacheSize), hdr: h, hdrCopy: hdrCopy, snaps: map[uint64]int{}}
	p.bufs.New = func() any { b := make([]byte, p.pageSize); return &b }
	p.runBufs.New = func() any { var b []byte; return &b }
	return p, nil
}

// adopt makes m the pager's state and fault what MetaFault reports.
func (p *Pager) adopt(m Meta, fault error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.meta, p.metaFault = m, fault
}

// chooseMeta opens both meta pages and returns the valid one with the
// highest generation, and why the pair is not healthy (nil if it is). A meta
// page that fails to open is what a torn meta write leaves; only when
// neither opens is the file corrupt. With restat the file's size is read
// after the meta pages: another process writes the file, and a commit grows
// it before it writes its meta.
func (p *Pager) chooseMeta(restat bool) (Meta, error, error) {
	size := p.fileSize.Load()
	if size < int64(FirstDataPage*p.pageSize) && !restat {
		return Meta{}, nil, errs.Corrupt(1, "file is %d bytes, shorter than its header and meta pages", size)
	}
	var best *Meta
	var faults []error
	otherGen := map[uint64]uint64{} // meta page -> generation it holds
	for pgno := uint64(1); pgno <= 2; pgno++ {
		m, err := p.readMeta(pgno)
		if err != nil {
			if !p.neverWritten(pgno) {
				faults = append(faults, err)
			}
			continue
		}
		otherGen[pgno] = m.Gen
		if best == nil || m.Gen > best.Gen {
			best = &m
		}
	}
	if best == nil {
		if len(faults) == 0 {
			return Meta{}, nil, errs.Corrupt(1, "both meta pages are all zero")
		}
		return Meta{}, nil, fmt.Errorf("no usable meta page: %w", errors.Join(faults...))
	}
	if restat {
		var err error
		if size, err = p.f.Size(); err != nil {
			return Meta{}, nil, fmt.Errorf("pager: size: %w", err)
		}
		p.fileSize.Store(size)
		p.mm.grow(size)
	}
	if best.PageCount > uint64(size)/uint64(p.pageSize) {
		return Meta{}, nil, &truncatedError{errs.Corrupt(best.PageCount-1, "file is %d bytes but generation %d needs %d pages of %d (truncated)",
			size, best.Gen, best.PageCount, p.pageSize)}
	}
	if other, ok := otherGen[metaPage(best.Gen+1)]; ok && other+1 != best.Gen {
		faults = append(faults, errs.Corrupt(metaPage(other), "meta page holds generation %d, not %d", other, best.Gen-1))
	}
	return *best, errors.Join(faults...), nil
}

// neverWritten reports whether meta page pgno is all zero, as a new file's
// second meta page is until its first commit. Zeroing a meta page on purpose
// is no stronger than putting back an older copy of it, which opens: both
// are the rollback only a pinned generation detects (FORMAT.md §12).
func (p *Pager) neverWritten(pgno uint64) bool {
	buf := make([]byte, p.pageSize)
	if err := p.readAt(buf, pgno); err != nil {
		return false
	}
	return allZero(buf)
}

// truncatedError is a file shorter than its chosen meta needs. Read beside
// a live writer it can also mean a commit trimmed the file after the meta
// was read: the reader looks again.
type truncatedError struct{ error }

func (e *truncatedError) Unwrap() error { return e.error }

// readMeta opens meta page pgno. A read-only pager beside a writer reads
// the meta pages at every snapshot; when a page's sealed bytes are the ones
// it last opened, the meta it decoded then is the answer, and the page is
// not decrypted again (a rewrite always draws a fresh nonce).
func (p *Pager) readMeta(pgno uint64) (Meta, error) {
	var m Meta
	err := p.withSealed(pgno, 1, func(sealed []byte) error {
		seen := &p.metaSeen[pgno-1]
		p.metaSeenMu.Lock()
		hit := seen.sealed != nil && bytes.Equal(seen.sealed, sealed)
		m = seen.meta
		p.metaSeenMu.Unlock()
		if hit {
			return nil
		}
		payload := make([]byte, p.PayloadSize())
		if err := p.cipher.Open(payload, sealed, pgno, metaGenAD); err != nil {
			return err
		}
		var err error
		if m, err = decodeMeta(payload, pgno, p.hdr.pageShift); err != nil {
			return err
		}
		p.metaSeenMu.Lock()
		seen.sealed, seen.meta = bytes.Clone(sealed), m
		p.metaSeenMu.Unlock()
		return nil
	})
	return m, err
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

// maxPages is MaxPageCount at this pager's page size.
func (p *Pager) maxPages() uint64 { return 1 << 63 / uint64(p.pageSize) }

// PayloadSize is the plaintext bytes of a page: PageSize minus nonce and tag.
func (p *Pager) PayloadSize() int { return p.pageSize - crypt.Overhead }

// Meta returns the last committed state.
func (p *Pager) Meta() Meta {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.meta
}

// MetaFault says why the meta page other than the current one was not what
// a healthy file holds when the file was opened: it failed to open, or it
// does not hold the generation just before the current one (nil if it
// does). A torn final commit and a damaged newest meta look alike here: the
// newest commit may have been dropped.
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

// PageInto is Page without the allocation: a page the cache holds is
// returned from it; a missed page is decrypted into dst (PayloadSize bytes,
// which the caller owns and may reuse once it is done with the result), and
// a copy is cached only if the cache admits it (a branch page, a page that
// fits without evicting, or a page missed recently already). The result is
// either dst or a shared cached slice, never to be modified.
func (p *Pager) PageInto(ref Ref, dst []byte) ([]byte, error) {
	if b := p.cache.get(ref); b != nil {
		return b, nil
	}
	if ref.Page < FirstDataPage {
		return nil, errs.Corrupt(ref.Page, "pointer to a reserved page")
	}
	dst = dst[:p.PayloadSize()]
	if err := p.readSealed(ref.Page, ref.Gen, dst); err != nil {
		return nil, err
	}
	if p.cache.admit(ref.Page, dst[0], len(dst)) {
		p.cache.put(ref, bytes.Clone(dst))
	}
	return dst, nil
}

// ReadRefs decrypts the pages refs name into dst, page i into
// dst[i*PayloadSize:], without caching them (a page the cache holds is
// copied from it): for pages about to be read once, such as the leaves
// ahead of an iterator. Pages with consecutive numbers are read in one
// call. errs[i] receives page i's error; the pages after a failed read
// are still tried.
func (p *Pager) ReadRefs(refs []Ref, dst []byte, errv []error) {
	ps := p.PayloadSize()
	for i := 0; i < len(refs); {
		ref := refs[i]
		if b := p.cache.get(ref); b != nil {
			copy(dst[i*ps:(i+1)*ps], b)
			errv[i] = nil
			i++
			continue
		}
		if ref.Page < FirstDataPage {
			errv[i] = errs.Corrupt(ref.Page, "pointer to a reserved page")
			i++
			continue
		}
		n := 1
		for i+n < len(refs) && refs[i+n].Page == ref.Page+uint64(n) {
			n++
		}
		err := p.withSealed(ref.Page, n, func(sealed []byte) error {
			for j := range n {
				r := refs[i+j]
				errv[i+j] = p.cipher.Open(dst[(i+j)*ps:(i+j+1)*ps], sealed[j*p.pageSize:(j+1)*p.pageSize], r.Page, r.Gen)
			}
			return nil
		})
		if err != nil {
			if n > 1 {
				n = 1 // retry page by page: only the pages past the end fail
				errv[i] = p.readSealed(ref.Page, ref.Gen, dst[i*ps:(i+1)*ps])
			} else {
				errv[i] = err
			}
		}
		i += n
	}
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

// withSealed reads the sealed bytes of n pages from pgno on into a private
// buffer and calls fn with them; fn must not keep the slice. The copy is the
// point: bytes another process can change under us (a shared map, a file
// rewritten in place) would let the tag verify over one version while the
// plaintext came from another, and a map of a file truncated by someone
// else faults the whole process. pread into our own memory does neither.
func (p *Pager) withSealed(pgno uint64, n int, fn func(sealed []byte) error) error {
	if pgno > p.maxPages()-uint64(n) {
		return errs.Corrupt(pgno, "page number beyond any file")
	}
	size := n * p.pageSize
	bp := p.runBufs.Get().(*[]byte)
	defer p.runBufs.Put(bp)
	if cap(*bp) < size {
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
	off := int64(pgno) * int64(p.pageSize)
	if off+int64(len(buf)) <= p.fileSize.Load() && p.mm.copyOut(buf, off) {
		return nil
	}
	n, err := p.f.ReadAt(buf, off)
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
	if pgno < FirstDataPage || pgno >= p.maxPages() || len(payload) != p.PayloadSize() || len(dst) != p.pageSize {
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
	n := uint64(len(sealed) / p.pageSize)
	if pgno < FirstDataPage || len(sealed)%p.pageSize != 0 || pgno > p.maxPages()-n {
		return fmt.Errorf("pager: write of %d bytes at page %d", len(sealed), pgno)
	}
	off := int64(pgno) * int64(p.pageSize)
	if _, err := p.f.WriteAt(sealed, off); err != nil {
		return fmt.Errorf("pager: write pages %d..%d: %w", pgno, pgno+n-1, err)
	}
	// The writer may write from two goroutines (write-behind): grow the
	// size only, never back.
	end := off + int64(len(sealed))
	for {
		cur := p.fileSize.Load()
		if end <= cur || p.fileSize.CompareAndSwap(cur, end) {
			break
		}
	}
	return nil
}

// StartWriteback asks the operating system to start writing the pages
// written so far to disk, without waiting (Linux: sync_file_range(2);
// elsewhere, and for a File that is not an OSFile, nothing). It changes
// nothing a reader or a crash can observe: pages become durable at the
// commit's sync, as before. A writer that calls it while its transaction
// goes on leaves the commit's sync less to wait for.
func (p *Pager) StartWriteback() {
	if p.opts.NoSync {
		return
	}
	if of, ok := p.f.(OSFile); ok {
		startWriteback(of.File)
	}
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
	p.mm.grow(p.fileSize.Load())
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
// count are free or were never committed.
func (p *Pager) trim(size int64) error {
	if p.fileSize.Load() <= size {
		return nil
	}
	if err := p.f.Truncate(size); err != nil {
		return fmt.Errorf("pager: truncate: %w", err)
	}
	p.fileSize.Store(size)
	return nil
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
	p.snapMu.Lock() // no snapshot lock is released on a descriptor number reused after Close
	defer p.snapMu.Unlock()
	p.closed.Store(true)
	p.zeroKey()
	p.mm.close()
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
