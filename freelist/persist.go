package freelist

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
)

// Freelist pages (FORMAT.md §8). A checkpoint page (type 2) lists runs of
// the whole free set:
//
//	0  1  type = pager.TypeFreelist
//	1  3  reserved, zero
//	4  4  entry count
//	8  8  next checkpoint page (0 = last); same generation as this page
//	16 .. entries: start page u64, run length u32
//
// A log page (type 6) lists what one commit changed:
//
//	0  1  type = TypeFreelistLog
//	1  3  reserved, zero
//	4  4  removed count r
//	8  4  added count a
//	12 4  reserved, zero
//	16 16 previous page: the log page before, or the checkpoint's first page
//	32 8  sequence number: 1 for the first log page after the checkpoint
//	40 8  free pages: the size of the set once this page is applied
//	48 .. r removed runs, then a added runs, each start u64, length u32
const (
	ckptHeaderSize = 16
	logHeaderSize  = 48
	entrySize      = 12
)

// TypeFreelistLog is the page type of a freelist log page (FORMAT.md §6.1).
const TypeFreelistLog byte = 6

func ckptEntries(payloadSize int) int { return (payloadSize - ckptHeaderSize) / entrySize }
func logEntries(payloadSize int) int  { return (payloadSize - logHeaderSize) / entrySize }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Save writes what the transaction changed in the free set into new
// freelist pages at the transaction's generation, calling write for each
// page, and returns the meta's new freelist head (zero when nothing is
// free). Usually that is one log page holding the runs the transaction took
// from the recorded set and the runs it added. When the log has grown as
// large as the checkpoint, or a checkpoint is no larger than the log page
// would be, or the free pages at the end of the file are worth trimming, it
// writes a new checkpoint of the whole set instead and frees every older
// freelist page. Afterwards PageCount is the page count to commit.
func (f *Freelist) Save(payloadSize int, write func(pgno uint64, payload []byte) error) (pager.Ref, error) {
	if f.loadErr != nil {
		return pager.Ref{}, f.loadErr
	}
	if f.err != nil {
		return pager.Ref{}, f.err
	}
	if err := f.noteFrees(); err != nil {
		f.fail(err)
		return pager.Ref{}, err
	}
	perLog, perCkpt := logEntries(payloadSize), ckptEntries(payloadSize)
	if perCkpt < 1 {
		return pager.Ref{}, fmt.Errorf("freelist: a payload of %d bytes holds no run", payloadSize)
	}
	if f.unsynced || perLog < 1 || f.limit != 0 || f.ckpt {
		return f.saveCheckpoint(payloadSize, write)
	}
	deltaRuns := f.taken.len() + f.added.len()
	logPages := ceilDiv(deltaRuns+2, perLog) // +2: taking the log pages themselves
	ckptRuns := f.free.len() + f.pending.len() + len(f.txFreed) + len(f.txOwn) + len(f.disk.ckpt) + len(f.disk.log) + 1
	ckptPages := ceilDiv(ckptRuns, perCkpt)
	trim := f.tailRun() >= uint64(ckptPages) // giving back the tail saves more than a checkpoint costs
	switch {
	case deltaRuns == 0 && !trim:
		f.saved = &persisted{head: f.disk.head, ckpt: f.disk.ckpt, log: f.disk.log, pages: f.disk.pages}
		return f.disk.head, nil // nothing changed: the last commit's pages say it all
	case trim || ckptPages <= logPages || len(f.disk.log)+logPages > len(f.disk.ckpt):
		return f.saveCheckpoint(payloadSize, write)
	}
	return f.saveLog(payloadSize, logPages, write)
}

// noteFrees checks the transaction's frees against the recorded set and
// adds them to the difference Save writes: a page freed twice, or one that
// is already free, is refused rather than handed out twice.
func (f *Freelist) noteFrees() error {
	for _, p := range f.txFreed {
		if p >= f.savedSize {
			return fmt.Errorf("freelist: page %d freed but the committed file has %d pages", p, f.savedSize)
		}
		if f.free.contains(p) || f.pending.contains(p) || f.taken.contains(p) {
			// The committed state reaches a page its free list calls free.
			return errs.Corrupt(p, "page is in use and recorded as free")
		}
		if err := f.added.add(run{p, 1}); err != nil {
			// Two references of the committed state to one page.
			return errs.Corrupt(p, "page is freed twice: the committed state reaches it twice")
		}
	}
	for _, p := range f.txOwn {
		if f.free.contains(p) || f.pending.contains(p) {
			return fmt.Errorf("freelist: page %d written by this transaction freed but it is free", p)
		}
		if f.taken.contains(p) {
			f.taken.remove(run{p, 1})
			continue
		}
		if err := f.added.add(run{p, 1}); err != nil {
			return fmt.Errorf("freelist: page %d freed twice", p)
		}
	}
	return nil
}

// saveLog writes the difference into npages new log pages.
func (f *Freelist) saveLog(payloadSize, npages int, write func(uint64, []byte) error) (pager.Ref, error) {
	first, err := f.Alloc(npages)
	if err != nil {
		return pager.Ref{}, err
	}
	removed, added := splitLong(&f.taken), splitLong(&f.added)
	per := logEntries(payloadSize)
	if len(removed)+len(added) > npages*per {
		return pager.Ref{}, fmt.Errorf("freelist: %d changed runs do not fit %d log pages", len(removed)+len(added), npages)
	}
	next := &persisted{ckpt: f.disk.ckpt, log: slices.Clip(f.disk.log), pages: f.disk.pages}
	prev := f.disk.head
	payload := make([]byte, payloadSize)
	for i := range npages {
		// Removals first, then additions, filling pages in order.
		lo, hi := min(i*per, len(removed)+len(added)), min((i+1)*per, len(removed)+len(added))
		var rem, add []run
		if lo < len(removed) {
			rem = removed[lo:min(hi, len(removed))]
		}
		if hi > len(removed) {
			add = added[max(lo, len(removed))-len(removed) : hi-len(removed)]
		}
		next.pages = next.pages - runPages(rem) + runPages(add)
		ref := pager.Ref{Page: first + uint64(i), Gen: f.txGen}
		encodeLog(payload, prev, uint64(len(next.log)+1), next.pages, rem, add)
		if err := write(ref.Page, payload); err != nil {
			return pager.Ref{}, err
		}
		next.log = append(next.log, ref)
		prev = ref
	}
	next.head = prev
	f.saved = next
	return prev, nil
}

func runPages(runs []run) uint64 {
	var n uint64
	for _, r := range runs {
		n += r.n
	}
	return n
}

// splitLong lists the runs of s, cutting any longer than a u32 can say.
func splitLong(s *runSet) []run {
	out := make([]run, 0, s.len())
	s.each(func(r run) bool {
		for r.n > math.MaxUint32 {
			out = append(out, run{r.start, math.MaxUint32})
			r = run{r.start + math.MaxUint32, r.n - math.MaxUint32}
		}
		out = append(out, r)
		return true
	})
	return out
}

// saveCheckpoint writes the whole set into new checkpoint pages and frees
// the last commit's freelist pages.
func (f *Freelist) saveCheckpoint(payloadSize int, write func(uint64, []byte) error) (pager.Ref, error) {
	for _, ref := range f.disk.log {
		f.Free(ref)
	}
	for _, ref := range f.disk.ckpt {
		f.Free(ref)
	}
	if f.err != nil {
		return pager.Ref{}, f.err
	}
	trimmed := f.trimTail()
	set, err := f.persistSet()
	if err != nil || len(set) == 0 {
		f.saved = &persisted{}
		return pager.Ref{}, err
	}
	per := ckptEntries(payloadSize)
	pages, set, err := f.allocCheckpoint(set, per, trimmed)
	if err != nil {
		return pager.Ref{}, err
	}
	next := &persisted{head: pager.Ref{Page: pages[0], Gen: f.txGen}, pages: runPages(set)}
	payload := make([]byte, payloadSize)
	for i, pgno := range pages {
		nextPage := uint64(0)
		if i < len(pages)-1 {
			nextPage = pages[i+1]
		}
		encodeCheckpoint(payload, set[min(i*per, len(set)):min((i+1)*per, len(set))], nextPage)
		if err := write(pgno, payload); err != nil {
			return pager.Ref{}, err
		}
		next.ckpt = append(next.ckpt, pager.Ref{Page: pgno, Gen: f.txGen})
	}
	f.saved = next
	return next.head, nil
}

// allocCheckpoint allocates the pages of a checkpoint of set, per runs a
// page, and returns them in chain order with set less the pages taken from
// it. Usually that is one contiguous block (allocating it can split one run
// of the set in two, hence the +1), grown at the end of the file when no
// free run holds it: the next checkpoint frees it, and the end gives it
// back, or it becomes a run long enough for a value chain. But under Limit,
// or when this commit gave the free end of the file back (trimmed), the
// pages are taken one by one, each the best fit (single holes first), and
// only from the end when no hole is left: the chain's next pointers need no
// block, and a block grown at the end then would take the end back (a
// Shrink made the file a page longer that way, and every later one moved
// that checkpoint down and back for nothing). Each page can split a run,
// so more pages may be needed than first counted.
func (f *Freelist) allocCheckpoint(set []run, per int, trimmed bool) ([]uint64, []run, error) {
	size := f.pageCount
	npages := ceilDiv(len(set)+1, per)
	block := f.limit == 0
	if block && trimmed {
		_, block = f.free.bestFit(uint64(npages))
	}
	var pages []uint64
	if block {
		first, err := f.Alloc(npages)
		if err != nil {
			return nil, nil, err
		}
		if first < size { // the pages came from the set
			set = cutRuns(set, run{first, min(first+uint64(npages), size) - first})
		}
		for i := range npages {
			pages = append(pages, first+uint64(i))
		}
	} else {
		for len(pages) == 0 || len(set) > len(pages)*per {
			pgno, err := f.Alloc(1)
			if err != nil {
				return nil, nil, err
			}
			set = cutRuns(set, run{pgno, 1})
			pages = append(pages, pgno)
		}
	}
	if len(set) > len(pages)*per {
		return nil, nil, fmt.Errorf("freelist: %d runs do not fit %d pages", len(set), len(pages))
	}
	return pages, set, nil
}

// persistSet is what a checkpoint records as free: free, pending and freed
// by the transaction, in order, merged into runs no longer than a u32 can
// say. The sets are in order already; only the transaction's frees are
// sorted, and free, the largest, is read in place.
func (f *Freelist) persistSet() ([]run, error) {
	tx := make([]run, 0, len(f.txFreed)+len(f.txOwn))
	for _, p := range f.txFreed {
		tx = append(tx, run{p, 1})
	}
	for _, p := range f.txOwn {
		tx = append(tx, run{p, 1})
	}
	slices.SortFunc(tx, byStart)
	pending := make([]run, 0, f.pending.len())
	f.pending.each(func(r run) bool { pending = append(pending, r); return true })
	small := mergeRuns(pending, tx)
	out := make([]run, 0, f.free.len()+len(small))
	var err error
	push := func(r run) {
		if k := len(out); k > 0 {
			last := &out[k-1]
			if r.start < last.end() {
				if err == nil {
					err = fmt.Errorf("freelist: page %d is free twice", r.start)
				}
				return
			}
			if r.start == last.end() && last.n+r.n <= math.MaxUint32 {
				last.n += r.n
				return
			}
		}
		for r.n > math.MaxUint32 {
			out = append(out, run{r.start, math.MaxUint32})
			r = run{r.start + math.MaxUint32, r.n - math.MaxUint32}
		}
		out = append(out, r)
	}
	f.free.each(func(r run) bool {
		for len(small) > 0 && small[0].start <= r.start {
			push(small[0])
			small = small[1:]
		}
		push(r)
		return true
	})
	for _, r := range small {
		push(r)
	}
	return out, err
}

// cutRuns takes the pages of c out of the ordered runs of set.
func cutRuns(set []run, c run) []run {
	i := sort.Search(len(set), func(i int) bool { return set[i].end() > c.start })
	j := i
	var parts []run
	for ; j < len(set) && set[j].start < c.end(); j++ {
		x := set[j]
		if x.start < c.start {
			parts = append(parts, run{x.start, c.start - x.start})
		}
		if x.end() > c.end() {
			parts = append(parts, run{c.end(), x.end() - c.end()})
		}
	}
	return slices.Replace(set, i, j, parts...)
}

// mergeRuns merges two slices ordered by start.
func mergeRuns(a, b []run) []run {
	out := make([]run, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j == len(b) || (i < len(a) && a[i].start <= b[j].start) {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return out
}

func putRun(e []byte, r run) {
	binary.LittleEndian.PutUint64(e, r.start)
	binary.LittleEndian.PutUint32(e[8:], uint32(r.n))
}

func getRun(e []byte) run {
	return run{binary.LittleEndian.Uint64(e), uint64(binary.LittleEndian.Uint32(e[8:]))}
}

func encodeCheckpoint(payload []byte, runs []run, next uint64) {
	clear(payload)
	payload[0] = pager.TypeFreelist
	binary.LittleEndian.PutUint32(payload[4:], uint32(len(runs)))
	binary.LittleEndian.PutUint64(payload[8:], next)
	for i, r := range runs {
		putRun(payload[ckptHeaderSize+i*entrySize:], r)
	}
}

func encodeLog(payload []byte, prev pager.Ref, seq, freePages uint64, removed, added []run) {
	clear(payload)
	payload[0] = TypeFreelistLog
	binary.LittleEndian.PutUint32(payload[4:], uint32(len(removed)))
	binary.LittleEndian.PutUint32(payload[8:], uint32(len(added)))
	pager.PutRef(payload[16:], prev)
	binary.LittleEndian.PutUint64(payload[32:], seq)
	binary.LittleEndian.PutUint64(payload[40:], freePages)
	for i, r := range slices.Concat(removed, added) {
		putRun(payload[logHeaderSize+i*entrySize:], r)
	}
}
