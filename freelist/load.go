package freelist

import (
	"encoding/binary"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Load reads and checks the free list that meta m records (FORMAT.md §8):
// its checkpoint and every log page after it. After a reopen no snapshot is
// open, so every page the commit recorded as free is reusable at once
// (HoldLoaded changes that).
//
// A freelist that authenticates can still lie: one that calls live pages
// free makes the next commit overwrite them, which the pages' referrers then
// detect as corruption. Load refuses the cheap cases, runs over the pages
// the meta itself points at (the freelist's own pages and the directory
// root); finding every live page a run covers takes a walk of the whole
// file, which is Check's job, not Open's.
func Load(r pager.Reader, m pager.Meta) (*Freelist, error) {
	f := New()
	f.pageCount = m.PageCount
	if err := f.loadFrom(r, m); err != nil {
		return nil, err
	}
	return f, nil
}

// Open is Load for a writer that wants its open to cost O(1) pages: it
// reads the freelist head now and, when the whole free set is that one
// checkpoint page, loads it; otherwise the checkpoint and log are read and
// checked at the first Begin (or FreeCount), whose transaction fails with
// Err if they are damaged.
func Open(r pager.Reader, m pager.Meta) (*Freelist, error) {
	if m.Freelist.IsZero() {
		return Load(r, m)
	}
	b, err := readPage(r, m, m.Freelist)
	if err != nil {
		return nil, err
	}
	if b[0] == pager.TypeFreelist && binary.LittleEndian.Uint64(b[8:]) == 0 {
		return Load(r, m)
	}
	if err := checkHead(m, b); err != nil {
		return nil, err
	}
	f := New()
	f.pageCount = m.PageCount
	f.src, f.srcMeta = r, m
	return f, nil
}

// ensureLoaded loads a free list opened lazily. A failure is kept in
// loadErr and retried at the next call.
func (f *Freelist) ensureLoaded() {
	if f.src == nil {
		return
	}
	g := New()
	if err := g.loadFrom(f.src, f.srcMeta); err != nil {
		f.loadErr = err
		return
	}
	f.free, f.disk, f.loadErr, f.src = g.free, g.disk, nil, nil
	if f.holdSet {
		f.holdFree(f.hold)
	}
}

// loadFrom fills the empty free list f with the state of meta m.
func (f *Freelist) loadFrom(r pager.Reader, m pager.Meta) error {
	disk, err := readState(r, m, &f.free)
	if err != nil {
		return err
	}
	f.disk = disk
	return nil
}

// Walk visits the freelist pages of meta m (page: the log pages newest
// first, then the checkpoint pages) and the runs of the free set they
// record (run), in ascending order, after checking every rule of FORMAT.md
// §8. A run callback error stops the walk and is reported as corruption of
// the freelist head.
func Walk(r pager.Reader, m pager.Meta, page func(ref pager.Ref), runFn func(start, n uint64) error) error {
	set := newRunSet(false)
	disk, err := readState(r, m, &set)
	if err != nil {
		return err
	}
	for _, ref := range slicesBackward(disk.log) {
		page(ref)
	}
	for _, ref := range disk.ckpt {
		page(ref)
	}
	set.each(func(x run) bool {
		err = runFn(x.start, x.n)
		return err == nil
	})
	if err != nil {
		return errs.Corrupt(m.Freelist.Page, "%v", err)
	}
	return nil
}

func slicesBackward(refs []pager.Ref) []pager.Ref {
	out := make([]pager.Ref, len(refs))
	for i, ref := range refs {
		out[len(refs)-1-i] = ref
	}
	return out
}

// reader reads freelist pages for readState, refusing a page outside the
// file or one reached twice: loops are caught at the first repeat, however
// many pages the meta claims.
type reader struct {
	r    pager.Reader
	m    pager.Meta
	seen map[uint64]struct{}
}

func readPage(r pager.Reader, m pager.Meta, ref pager.Ref) ([]byte, error) {
	if ref.Page < pager.FirstDataPage || ref.Page >= m.PageCount {
		return nil, errs.Corrupt(ref.Page, "freelist page outside the file of %d pages", m.PageCount)
	}
	return r.Page(ref)
}

func (rd *reader) visit(ref pager.Ref) ([]byte, error) {
	if _, dup := rd.seen[ref.Page]; dup {
		return nil, errs.Corrupt(ref.Page, "freelist pages return to page %d (a loop)", ref.Page)
	}
	rd.seen[ref.Page] = struct{}{}
	return readPage(rd.r, rd.m, ref)
}

// logHeader is the header of a log page.
type logHeader struct {
	removed, added int
	prev           pager.Ref
	seq, freePages uint64
}

func decodeLogHeader(ref pager.Ref, b []byte) (logHeader, error) {
	var h logHeader
	if b[0] != TypeFreelistLog || b[1]|b[2]|b[3] != 0 || binary.LittleEndian.Uint32(b[12:]) != 0 {
		return h, errs.Corrupt(ref.Page, "not a freelist page (type %d)", b[0])
	}
	rem, add := binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
	if per := uint64(logEntries(len(b))); uint64(rem)+uint64(add) > per {
		return h, errs.Corrupt(ref.Page, "freelist log page claims %d+%d entries, room for %d", rem, add, per)
	}
	h = logHeader{removed: int(rem), added: int(add), prev: pager.GetRef(b[16:]),
		seq: binary.LittleEndian.Uint64(b[32:]), freePages: binary.LittleEndian.Uint64(b[40:])}
	if h.seq == 0 {
		return h, errs.Corrupt(ref.Page, "freelist log page with sequence number 0")
	}
	if !h.prev.IsZero() && h.prev.Gen > ref.Gen {
		return h, errs.Corrupt(ref.Page, "freelist log page of generation %d points at generation %d", ref.Gen, h.prev.Gen)
	}
	return h, nil
}

// readState reads the freelist of meta m into the empty set, checking every
// rule of FORMAT.md §8, and returns its pages.
func readState(r pager.Reader, m pager.Meta, set *runSet) (persisted, error) {
	rd := &reader{r: r, m: m, seen: map[uint64]struct{}{}}
	var disk persisted
	disk.head = m.Freelist
	// The log, newest page first, back to the checkpoint.
	ref := m.Freelist
	var ckptFirst []byte
	var seq uint64 // the sequence number of the page read last
	for !ref.IsZero() {
		b, err := rd.visit(ref)
		if err != nil {
			return disk, err
		}
		if b[0] == pager.TypeFreelist {
			ckptFirst = b
			break
		}
		h, err := decodeLogHeader(ref, b)
		if err != nil {
			return disk, err
		}
		if seq != 0 && h.seq != seq-1 {
			return disk, errs.Corrupt(ref.Page, "freelist log page has sequence number %d, the page after it %d", h.seq, seq)
		}
		seq = h.seq
		disk.log = append(disk.log, ref)
		ref = h.prev
	}
	if seq > 1 {
		return disk, errs.Corrupt(disk.log[len(disk.log)-1].Page, "freelist log page %d of its log points at no log page", seq)
	}
	slicesReverse(disk.log)
	if err := readCheckpoint(rd, ref, ckptFirst, set, &disk); err != nil {
		return disk, err
	}
	for _, ref := range disk.log {
		if err := applyLog(rd, ref, set); err != nil {
			return disk, err
		}
	}
	disk.pages = set.pages
	for _, own := range append(disk.log, disk.ckpt...) {
		if set.contains(own.Page) {
			return disk, errs.Corrupt(own.Page, "freelist page is itself recorded as free")
		}
	}
	if !m.Tree.IsZero() && set.contains(m.Tree.Page) {
		return disk, errs.Corrupt(m.Freelist.Page, "freelist records the directory root, page %d, as free", m.Tree.Page)
	}
	return disk, nil
}

func slicesReverse(refs []pager.Ref) {
	for i, j := 0, len(refs)-1; i < j; i, j = i+1, j-1 {
		refs[i], refs[j] = refs[j], refs[i]
	}
}

// checkRun checks the bounds of one run read from page pgno.
func checkRun(pgno uint64, x run, pageCount uint64) error {
	if x.n == 0 || x.start < pager.FirstDataPage || x.start >= pageCount || x.n > pageCount-x.start {
		return errs.Corrupt(pgno, "free run %d+%d outside pages %d..%d", x.start, x.n, pager.FirstDataPage, pageCount)
	}
	return nil
}

// eachRun checks count runs stored from b on, read from page pgno: each
// inside [FirstDataPage, pageCount), in ascending order from *end on
// without overlap. It calls fn with each and leaves *end at the last one's
// end.
func eachRun(pgno uint64, b []byte, count int, pageCount uint64, end *uint64, fn func(run) error) error {
	for i := range count {
		x := getRun(b[i*entrySize:])
		if err := checkRun(pgno, x, pageCount); err != nil {
			return err
		}
		if x.start < *end {
			return errs.Corrupt(pgno, "free run at page %d overlaps or is out of order", x.start)
		}
		*end = x.end()
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}

// checkHead checks the freelist head page b on its own: what Open refuses
// without reading further.
func checkHead(m pager.Meta, b []byte) error {
	ref := m.Freelist
	none := func(run) error { return nil }
	var next uint64
	if b[0] == pager.TypeFreelist {
		if b[1]|b[2]|b[3] != 0 {
			return errs.Corrupt(ref.Page, "not a freelist checkpoint page (type %d)", b[0])
		}
		count := binary.LittleEndian.Uint32(b[4:])
		if per := ckptEntries(len(b)); int64(count) > int64(per) {
			return errs.Corrupt(ref.Page, "freelist page claims %d entries, room for %d", count, per)
		}
		var end uint64
		if err := eachRun(ref.Page, b[ckptHeaderSize:], int(count), m.PageCount, &end, none); err != nil {
			return err
		}
		next = binary.LittleEndian.Uint64(b[8:])
	} else {
		h, err := decodeLogHeader(ref, b)
		if err != nil {
			return err
		}
		var end uint64
		if err := eachRun(ref.Page, b[logHeaderSize:], h.removed, m.PageCount, &end, none); err != nil {
			return err
		}
		end = 0
		if err := eachRun(ref.Page, b[logHeaderSize+h.removed*entrySize:], h.added, m.PageCount, &end, none); err != nil {
			return err
		}
		next = h.prev.Page
	}
	if next == ref.Page {
		return errs.Corrupt(ref.Page, "freelist pages return to page %d (a loop)", ref.Page)
	}
	if next != 0 && (next < pager.FirstDataPage || next >= m.PageCount) {
		return errs.Corrupt(next, "freelist page outside the file of %d pages", m.PageCount)
	}
	return nil
}

// readCheckpoint reads the checkpoint chain from ref (first is its first
// page, already read) into set: runs in ascending order, without overlap.
func readCheckpoint(rd *reader, ref pager.Ref, first []byte, set *runSet, disk *persisted) error {
	var end uint64 // end of the previous run
	var runs []run // merged, in order
	for !ref.IsZero() {
		b := first
		if b == nil {
			var err error
			if b, err = rd.visit(ref); err != nil {
				return err
			}
		}
		first = nil
		if b[0] != pager.TypeFreelist || b[1]|b[2]|b[3] != 0 {
			return errs.Corrupt(ref.Page, "not a freelist checkpoint page (type %d)", b[0])
		}
		count := binary.LittleEndian.Uint32(b[4:])
		if per := ckptEntries(len(b)); int64(count) > int64(per) {
			return errs.Corrupt(ref.Page, "freelist page claims %d entries, room for %d", count, per)
		}
		disk.ckpt = append(disk.ckpt, ref)
		err := eachRun(ref.Page, b[ckptHeaderSize:], int(count), rd.m.PageCount, &end, func(x run) error {
			if k := len(runs); k > 0 && runs[k-1].end() == x.start {
				runs[k-1].n += x.n // touching runs are the same pages as one
				return nil
			}
			runs = append(runs, x)
			return nil
		})
		if err != nil {
			return err
		}
		ref = pager.Ref{Page: binary.LittleEndian.Uint64(b[8:]), Gen: ref.Gen}
	}
	set.build(runs)
	return nil
}

// applyLog applies log page ref to set: its removals, then its additions.
// The page is read again (it was read on the way back to the checkpoint)
// and checked whole, so no byte is trusted from an earlier read.
func applyLog(rd *reader, ref pager.Ref, set *runSet) error {
	b, err := rd.r.Page(ref)
	if err != nil {
		return err
	}
	h, err := decodeLogHeader(ref, b)
	if err != nil {
		return err
	}
	var end uint64
	err = eachRun(ref.Page, b[logHeaderSize:], h.removed, rd.m.PageCount, &end, func(x run) error {
		if set.remove(x) != nil {
			return errs.Corrupt(ref.Page, "freelist log removes pages %d+%d, which are not all free", x.start, x.n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	end = 0 // the additions ascend on their own
	err = eachRun(ref.Page, b[logHeaderSize+h.removed*entrySize:], h.added, rd.m.PageCount, &end, func(x run) error {
		if set.add(x) != nil {
			return errs.Corrupt(ref.Page, "freelist log adds pages %d+%d, of which page %d is free already", x.start, x.n, set.firstCommon(x))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if set.pages != h.freePages {
		return errs.Corrupt(ref.Page, "freelist log page says %d pages are free, its runs make %d", h.freePages, set.pages)
	}
	return nil
}
