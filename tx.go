package scdb

import (
	"cmp"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/streamcrypt/scdb/dirtree"
	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/pager"
	"github.com/streamcrypt/scdb/record"
)

// spillBytes bounds the decoded dirty tree nodes a write transaction holds:
// past it they are written to their (uncommitted) pages and dropped, so a
// transaction of any size runs in bounded memory and still commits
// atomically.
var spillBytes = 16 << 20 // a variable for tests only

// Tx is a transaction: a read-only snapshot or the one read-write
// transaction. A Tx is used by one goroutine at a time. A change that fails
// part way (a damaged page met while the tree was being restructured, say)
// cannot be taken back on its own: later changes to that list and Commit
// return its error, and the transaction can only be rolled back. Errors
// found before anything changed (ErrTooLarge, ErrNotFound) leave the
// transaction usable.
type Tx struct {
	db    *DB
	meta  pager.Meta   // the committed state the transaction started from
	rd    pager.Reader // the pager, or w for a writable transaction
	w     *txWriter    // nil when read-only
	dir   *dirtree.Tree
	lists map[string]*listState // made at the first list used
	trees []*dirtree.Tree       // the lists' trees, for maybeSpill to count without a map walk
	done  bool
	// scratch holds the page buffers the transaction's trees decrypt
	// lookups into, given back to scratchBufs when it ends.
	scratch  [4]*[]byte
	nscratch int
	// shared, when set, is the one scratch buffer every tree of the
	// transaction decrypts lookups into (Get's transactions, which use
	// one lookup's result before the next: get.go).
	shared []byte
	// managed is set while Update, View or Batch runs fn with the
	// transaction: they end it, and Commit and Rollback refuse.
	managed bool
}

// listState is a list as this transaction sees it.
type listState struct {
	entry listEntry
	tree  *dirtree.Tree
	dirty bool // entry or tree changed: written back at commit
}

func newTx(db *DB, meta pager.Meta, writable bool) *Tx {
	tx := &Tx{db: db, meta: meta, rd: snapshotReader{db.p, meta.PageCount}}
	if writable {
		tx.w = &txWriter{p: db.p, fl: db.fl, gen: meta.Gen + 1}
		tx.rd = tx.w
		tx.dir = dirtree.OpenWritable(tx.w, meta.Tree)
	} else {
		tx.dir = dirtree.Open(tx.rd, meta.Tree)
	}
	tx.lend(tx.dir)
	return tx
}

// scratchBufs recycles the page buffers of transactions' tree lookups
// (dirtree.Tree.SetScratch): a get then allocates no page.
var scratchBufs sync.Pool // of *[]byte

// lend gives t a scratch buffer for its lookups, if the transaction has
// one left to lend; the buffer returns to the pool when tx ends.
func (tx *Tx) lend(t *dirtree.Tree) {
	if tx.shared != nil {
		t.SetScratch(tx.shared)
		return
	}
	if tx.nscratch == len(tx.scratch) {
		return
	}
	n := tx.rd.PayloadSize()
	bp, ok := scratchBufs.Get().(*[]byte)
	if !ok || cap(*bp) < n {
		b := make([]byte, n)
		bp = &b
	}
	tx.scratch[tx.nscratch] = bp
	tx.nscratch++
	t.SetScratch((*bp)[:n])
}

// giveBack returns the scratch buffers: no tree of tx is used again.
func (tx *Tx) giveBack() {
	for i := range tx.nscratch {
		scratchBufs.Put(tx.scratch[i])
		tx.scratch[i] = nil
	}
	tx.nscratch = 0
}

// Writable reports whether tx can write.
func (tx *Tx) Writable() bool { return tx.w != nil }

// Generation is the generation of the snapshot tx reads (for a writable
// transaction, the one it started from).
func (tx *Tx) Generation() uint64 { return tx.meta.Gen }

// Commit makes every change of a writable transaction durable atomically,
// and ends it. For a read-only transaction it returns ErrReadOnly and ends
// it. Inside Update, View or Batch it does nothing and returns ErrTxManaged:
// return nil from fn to commit.
func (tx *Tx) Commit() error {
	if tx.managed {
		return ErrTxManaged
	}
	return tx.commitEnd()
}

func (tx *Tx) commitEnd() error {
	if err := tx.check(); err != nil {
		return err
	}
	if tx.w == nil {
		tx.end()
		return ErrReadOnly
	}
	err := tx.commit()
	tx.end()
	return err
}

func (tx *Tx) commit() error {
	if err := tx.syncDir(true); err != nil {
		return err
	}
	dirRoot, err := tx.dir.Flush()
	if err != nil {
		return err
	}
	fl := tx.db.fl
	flRoot, err := fl.Save(tx.w.PayloadSize(), tx.w.WritePage)
	if err != nil {
		return err
	}
	if err := tx.w.flush(); err != nil {
		return err
	}
	if err := tx.w.stopBehind(); err != nil {
		return err
	}
	m := pager.Meta{Gen: tx.w.gen, PageCount: fl.PageCount(), Tree: dirRoot, Freelist: flRoot}
	if err := tx.db.p.Commit(m); err != nil {
		return err
	}
	fl.Commit()
	tx.w.committed = true
	tx.db.commits.broadcast()
	return nil
}

// Rollback ends the transaction, discarding every change of a writable one.
// It returns ErrTxDone if the transaction had already ended. Inside Update,
// View or Batch it does nothing and returns ErrTxManaged: return an error
// from fn to discard the transaction.
func (tx *Tx) Rollback() error {
	if tx.managed {
		return ErrTxManaged
	}
	if tx.done {
		return ErrTxDone
	}
	tx.end()
	return nil
}

// release ends a managed transaction that fn left open (fn failed or
// panicked).
func (tx *Tx) release() {
	if !tx.done {
		tx.end()
	}
}

func (tx *Tx) end() {
	tx.done = true
	tx.lists = nil
	tx.trees = nil
	tx.giveBack()
	if tx.w == nil {
		tx.db.endRead(tx.meta.Gen)
		return
	}
	// No queued write may land once the pages are free to reuse.
	_ = tx.w.stopBehind()
	if !tx.w.committed {
		tx.db.fl.Rollback()
	}
	tx.db.writer.Unlock()
}

func (tx *Tx) check() error {
	if tx.done {
		return ErrTxDone
	}
	return closedErr(tx.db)
}

func (tx *Tx) checkWrite() error {
	if err := tx.check(); err != nil {
		return err
	}
	if tx.w == nil {
		return ErrReadOnly
	}
	return nil
}

// List returns a handle on the list called name. A list exists once it
// holds a record and stops existing when its last record is deleted.
func (tx *Tx) List(name string) *List { return &List{tx: tx, name: name} }

// Lists yields the names of the lists that exist, in byte order.
func (tx *Tx) Lists() iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if err := tx.check(); err != nil {
			yield("", err)
			return
		}
		if tx.w != nil {
			// Lists changed in this transaction are recorded in the
			// directory tree only at commit; write them back first.
			if err := tx.syncDir(false); err != nil {
				yield("", err)
				return
			}
		}
		c := tx.dir.Cursor()
		defer c.Close()
		k, v, ok, err := c.First()
		for ; ok && err == nil; k, v, ok, err = c.Next() {
			var count uint64
			if count, err = tx.recordCount(k, v); err != nil {
				break
			}
			if count == 0 {
				continue // kept only for its Append sequence
			}
			if !yield(string(k), nil) {
				return
			}
		}
		if err != nil {
			yield("", err)
		}
	}
}

// recordCount is the number of records of list name, whose directory entry
// holds raw: from the transaction's own state if it changed the list (the
// entry's root is then written only at commit), else from the entry.
func (tx *Tx) recordCount(name, raw []byte) (uint64, error) {
	if ls, ok := tx.lists[string(name)]; ok {
		return ls.entry.count, nil
	}
	e, err := decodeListEntry(raw)
	if err != nil {
		return 0, fmt.Errorf("list %q: %w", name, err)
	}
	return e.count, nil
}

// DeleteList removes list name and every record in it, and resets its
// Append sequence, also of a list emptied by Delete. It returns ErrNotFound
// if the list has neither records nor an Append sequence.
func (tx *Tx) DeleteList(name string) error {
	if err := tx.checkWrite(); err != nil {
		return err
	}
	ls, err := tx.list(name)
	if err != nil {
		return err
	}
	if !ls.entry.kept() {
		return fmt.Errorf("list %q: %w", name, ErrNotFound)
	}
	err = ls.tree.Drop(func(cell []byte) error { return record.Free(tx.w, cell) })
	if err != nil {
		return err
	}
	ls.entry = listEntry{}
	ls.dirty = true
	return nil
}

// list returns the state of list name in this transaction, loading its
// directory entry the first time.
func (tx *Tx) list(name string) (*listState, error) {
	if ls, ok := tx.lists[name]; ok {
		return ls, nil
	}
	if err := checkName(tx.rd.PayloadSize(), name); err != nil {
		return nil, err
	}
	ls := &listState{}
	v, ok, err := tx.dir.Get([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", name, err)
	}
	if ok {
		if ls.entry, err = decodeListEntry(v); err != nil {
			return nil, fmt.Errorf("list %q: %w", name, err)
		}
	}
	if tx.w != nil {
		ls.tree = dirtree.OpenWritable(tx.w, ls.entry.root)
	} else {
		ls.tree = dirtree.Open(tx.rd, ls.entry.root)
	}
	tx.lend(ls.tree)
	if tx.lists == nil {
		tx.lists = map[string]*listState{}
	}
	tx.lists[name] = ls
	tx.trees = append(tx.trees, ls.tree)
	return ls, nil
}

// syncDir writes the entries of lists changed in this transaction into the
// directory tree, in name order so that a commit is reproducible. With
// flush it first writes each list's tree to get its final root; without,
// the entry's root may be stale: only its presence matters to a caller
// iterating the directory, and commit writes it again.
func (tx *Tx) syncDir(flush bool) error {
	names := make([]string, 0, len(tx.lists))
	for name, ls := range tx.lists {
		if ls.dirty {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		ls := tx.lists[name]
		if flush {
			root, err := ls.tree.Flush()
			if err != nil {
				return fmt.Errorf("commit list %q: %w", name, err)
			}
			ls.entry.root = root
		}
		if !ls.entry.kept() {
			if _, _, err := tx.dir.Delete([]byte(name)); err != nil {
				return err
			}
			continue
		}
		if _, _, err := tx.dir.Put([]byte(name), ls.entry.encode()); err != nil {
			return err
		}
	}
	return nil
}

// maybeSpill writes dirty tree nodes out when they pass spillBytes.
func (tx *Tx) maybeSpill() error {
	dirty := tx.dir.Dirty()
	for _, t := range tx.trees {
		dirty += t.Dirty()
	}
	if dirty*tx.rd.PayloadSize() < spillBytes {
		return nil
	}
	if err := tx.dir.Spill(); err != nil {
		return err
	}
	for _, t := range tx.trees {
		if err := t.Spill(); err != nil {
			return err
		}
	}
	return nil
}

// snapshotReader reads the pages of one committed state: a pointer at or
// past its page count is corruption (FORMAT.md §6.2), even where the file
// holds bytes there (an interrupted transaction's pages).
type snapshotReader struct {
	p         *pager.Pager
	pageCount uint64
}

func (r snapshotReader) Page(ref pager.Ref) ([]byte, error) {
	if ref.Page >= r.pageCount {
		return nil, outside(ref.Page, 1, r.pageCount)
	}
	return r.p.Page(ref)
}

func (r snapshotReader) ReadPages(first pager.Ref, dst []byte) error {
	n := uint64(len(dst) / r.p.PayloadSize())
	if first.Page >= r.pageCount || n > r.pageCount-first.Page {
		return outside(first.Page, n, r.pageCount)
	}
	return r.p.ReadPages(first, dst)
}

// PageInto is Page decrypting a missed page into dst (pager.Pager.PageInto).
func (r snapshotReader) PageInto(ref pager.Ref, dst []byte) ([]byte, error) {
	if ref.Page >= r.pageCount {
		return nil, outside(ref.Page, 1, r.pageCount)
	}
	return r.p.PageInto(ref, dst)
}

// ReadRefs decrypts the pages refs name into dst (pager.Pager.ReadRefs).
func (r snapshotReader) ReadRefs(refs []pager.Ref, dst []byte, errv []error) {
	for i, ref := range refs {
		if ref.Page >= r.pageCount {
			// Read only the pages before it; report it and try the rest.
			r.ReadRefs(refs[:i], dst, errv)
			errv[i] = outside(ref.Page, 1, r.pageCount)
			ps := r.p.PayloadSize()
			r.ReadRefs(refs[i+1:], dst[(i+1)*ps:], errv[i+1:])
			return
		}
	}
	r.p.ReadRefs(refs, dst, errv)
}

func (r snapshotReader) PayloadSize() int { return r.p.PayloadSize() }

func outside(pgno, n, pageCount uint64) error {
	return errs.Corrupt(pgno, "pointer to %d pages from page %d, past the state's %d pages", n, pgno, pageCount)
}

// txWriter is the pager.Writer of a write transaction: reads go to the
// pager, allocation to the free list, writes are sealed at the
// transaction's generation. Pages written to consecutive page numbers (a
// value chain's run, tree nodes allocated together) are gathered and sent
// to the file in one write; any read first sends what is gathered, so the
// transaction always reads what it wrote.
type txWriter struct {
	p         *pager.Pager
	fl        *freelist.Freelist
	gen       uint64
	committed bool
	run       []byte // sealed pages not yet written, consecutive from runFirst
	runFirst  uint64
	sealed    []byte // WritePages' sealed pages
	bh        bgWriter
}

// bgWriter writes the pages dirtree queues (write-behind) on a goroutine of
// its own, in the order queued, while the transaction goes on. A leaf
// written early that changes again moves to a new page (dirtree), so each
// page is still sealed once at the transaction's generation. It runs only
// with NoSync off: NoSync files keep the write path they had (its gain is
// partly the commit's sync waiting less, which NoSync does not pay).
type bgWriter struct {
	decided bool
	behind  *dirtree.Behind // nil: write-behind is off
	inline  bool            // write at once (behindInline)
	jobs    chan bgJob      // nil until the first page is queued
	pending sync.WaitGroup
	mu      sync.Mutex
	err     error // the first failed write
}

type bgJob struct {
	pgno   uint64
	buf    *[]byte // a payload, or a sealed page
	sealed bool
}

// Write-behind: the leaves a transaction keeps unwritten (the window), the
// pages queued at most before QueuePage waits, and the most the writer
// seals at a time.
const (
	behindWindow = 64
	behindQueue  = 256
	behindBatch  = 32
	// behindWriteback is how many pages the background writer writes
	// between two calls of Pager.StartWriteback.
	behindWriteback = 32
)

// payloadBufs and sealedBufs recycle the buffers of queued pages.
var payloadBufs, sealedBufs sync.Pool // of *[]byte

func (j bgJob) recycle() {
	if j.sealed {
		sealedBufs.Put(j.buf)
	} else {
		payloadBufs.Put(j.buf)
	}
}

// behindInline makes write-behind write each queued page at once, on the
// caller's goroutine. Tests that count, fail or replay the file's writes
// (faultfile) need them in an order that repeats from run to run;
// export_test.go sets it, and a test of its own runs the background writer.
var behindInline atomic.Bool

// Behind implements dirtree's write-behind. It is off under NoSync (see
// bgWriter), with a nonce source of the caller's (Options.Rand: test
// vectors must come out byte for byte the same, which needs one order of
// seals), and with one core, where a second goroutine has nothing to
// overlap with.
func (w *txWriter) Behind() *dirtree.Behind {
	if !w.bh.decided {
		w.bh.decided = true
		o := w.p.Options()
		if !o.NoSync && o.Rand == nil && (runtime.GOMAXPROCS(0) > 1 || behindInline.Load()) {
			w.bh.behind = dirtree.NewBehind(behindWindow)
			w.bh.inline = behindInline.Load()
		}
	}
	return w.bh.behind
}

// PageBuf returns a payload buffer for QueuePage.
func (w *txWriter) PageBuf() []byte {
	n := w.p.PayloadSize()
	if bp, ok := payloadBufs.Get().(*[]byte); ok && cap(*bp) >= n {
		return (*bp)[:n]
	}
	return make([]byte, n)
}

// QueuePage queues payload to be sealed and written as page pgno by the
// background writer.
func (w *txWriter) QueuePage(pgno uint64, payload []byte) error {
	if err := w.bh.failed(); err != nil {
		return err
	}
	if w.bh.inline {
		err := w.writeBatch([]bgJob{{pgno: pgno, buf: &payload}}, make([]byte, w.p.PageSize()))
		payloadBufs.Put(&payload)
		return w.bh.fail(err)
	}
	return w.queue(bgJob{pgno: pgno, buf: &payload})
}

// QueueSealed seals payload as page pgno now, on the caller's goroutine,
// and queues the sealed page for the background writer: at commit the
// caller seals while the writer writes. payload is not retained.
func (w *txWriter) QueueSealed(pgno uint64, payload []byte) error {
	if err := w.bh.failed(); err != nil {
		return err
	}
	size := w.p.PageSize()
	var buf []byte
	if bp, ok := sealedBufs.Get().(*[]byte); ok && cap(*bp) >= size {
		buf = (*bp)[:size]
	} else {
		buf = make([]byte, size)
	}
	if err := w.p.SealPage(buf, pgno, w.gen, payload); err != nil {
		return w.bh.fail(err)
	}
	job := bgJob{pgno: pgno, buf: &buf, sealed: true}
	if w.bh.inline {
		err := w.p.WriteSealed(pgno, buf)
		job.recycle()
		return w.bh.fail(err)
	}
	return w.queue(job)
}

// queue hands job to the background writer, starting it first if needed.
func (w *txWriter) queue(job bgJob) error {
	if w.bh.jobs == nil {
		// Pages WritePage gathered go first: the writer may write one of
		// them again.
		if err := w.flush(); err != nil {
			job.recycle()
			return w.bh.fail(err)
		}
		w.bh.jobs = make(chan bgJob, behindQueue)
		go w.bgLoop(w.bh.jobs)
	}
	w.bh.pending.Add(1)
	w.bh.jobs <- job
	return nil
}

// Writing reports whether the background writer runs: then every page of a
// tree goes through its queue.
func (w *txWriter) Writing() bool { return w.bh.jobs != nil }

// WaitQueued returns once every queued page is written.
func (w *txWriter) WaitQueued() error {
	w.bh.pending.Wait()
	return w.bh.failed()
}

// stopBehind waits for the queued pages and ends the background writer:
// no write of this transaction may land after it ends.
func (w *txWriter) stopBehind() error {
	if w.bh.jobs != nil {
		close(w.bh.jobs)
		w.bh.jobs = nil
	}
	return w.WaitQueued()
}

// fail records err, if not nil, as the writer's error: every later queue
// call and the commit fail with it (a queued page that was not written
// must not be committed). It returns err.
func (b *bgWriter) fail(err error) error {
	if err != nil {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return err
}

func (b *bgWriter) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// bgLoop seals (unless sealed) and writes queued pages, a batch of what is waiting at a
// time: in page order, each page number once (the last payload queued for
// it), consecutive pages in one write.
func (w *txWriter) bgLoop(jobs <-chan bgJob) {
	size := w.p.PageSize()
	var batch []bgJob
	var sealed []byte
	unflushed := 0
	for job := range jobs {
		batch = append(batch[:0], job)
	more:
		for len(batch) < behindBatch {
			select {
			case j, ok := <-jobs:
				if !ok {
					break more
				}
				batch = append(batch, j)
			default:
				break more
			}
		}
		if w.bh.failed() == nil {
			// Stable: of two payloads for one page, the later stays last.
			slices.SortStableFunc(batch, func(a, b bgJob) int { return cmp.Compare(a.pgno, b.pgno) })
			keep := batch[:0:0]
			for i, j := range batch {
				if i+1 < len(batch) && batch[i+1].pgno == j.pgno {
					continue
				}
				keep = append(keep, j)
			}
			sealed = slices.Grow(sealed[:0], len(keep)*size)[:len(keep)*size]
			w.bh.fail(w.writeBatch(keep, sealed))
		}
		for _, j := range batch {
			j.recycle()
		}
		// Start the disk on what is written so far: the commit's sync
		// then waits for less.
		if unflushed += len(batch); unflushed >= behindWriteback {
			w.p.StartWriteback()
			unflushed = 0
		}
		w.bh.pending.Add(-len(batch))
	}
}

// writeBatch seals batch (ascending, distinct pages) into sealed and writes
// it, a run of consecutive pages at a time.
func (w *txWriter) writeBatch(batch []bgJob, sealed []byte) error {
	size := w.p.PageSize()
	for i, j := range batch {
		if j.sealed {
			copy(sealed[i*size:(i+1)*size], *j.buf)
		} else if err := w.p.SealPage(sealed[i*size:(i+1)*size], j.pgno, w.gen, *j.buf); err != nil {
			return err
		}
	}
	for lo := 0; lo < len(batch); {
		hi := lo + 1
		for hi < len(batch) && batch[hi].pgno == batch[hi-1].pgno+1 {
			hi++
		}
		if err := w.p.WriteSealed(batch[lo].pgno, sealed[lo*size:hi*size]); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// maxRunBytes bounds the sealed pages a transaction holds before writing.
const maxRunBytes = 256 << 10

func (w *txWriter) Page(ref pager.Ref) ([]byte, error) {
	if err := w.flush(); err != nil {
		return nil, err
	}
	if err := w.waitOwn(ref.Gen); err != nil {
		return nil, err
	}
	return snapshotReader{w.p, w.fl.PageCount()}.Page(ref)
}

func (w *txWriter) ReadPages(first pager.Ref, dst []byte) error {
	if err := w.flush(); err != nil {
		return err
	}
	if err := w.waitOwn(first.Gen); err != nil {
		return err
	}
	return snapshotReader{w.p, w.fl.PageCount()}.ReadPages(first, dst)
}

func (w *txWriter) PageInto(ref pager.Ref, dst []byte) ([]byte, error) {
	if err := w.flush(); err != nil {
		return nil, err
	}
	if err := w.waitOwn(ref.Gen); err != nil {
		return nil, err
	}
	return snapshotReader{w.p, w.fl.PageCount()}.PageInto(ref, dst)
}

// ReadCommitted decrypts the committed pages refs name — of generations
// before the transaction's — into dst, without caching them (dirtree's
// Relocate reads the leaves under a branch with it). A ref of the
// transaction's own generation is not read (errv says so): its last
// write may still be queued.
func (w *txWriter) ReadCommitted(refs []pager.Ref, dst []byte, errv []error) {
	committed := make([]pager.Ref, len(refs))
	for i, r := range refs {
		if r.Gen < w.gen {
			committed[i] = r
		}
	}
	snapshotReader{w.p, w.fl.PageCount()}.ReadRefs(committed, dst, errv)
	for i, r := range refs {
		if r.Gen >= w.gen {
			errv[i] = fmt.Errorf("scdb: page %d of generation %d is not committed", r.Page, r.Gen)
		}
	}
}

// waitOwn waits for queued writes before a read of a page this
// transaction wrote (gen): the read must see the last write.
func (w *txWriter) waitOwn(gen uint64) error {
	if gen != w.gen {
		return nil
	}
	if w.bh.jobs == nil {
		// A page whose write failed is not in the file: reading it would
		// report the old bytes there as damage.
		return w.bh.failed()
	}
	return w.WaitQueued()
}

func (w *txWriter) PayloadSize() int            { return w.p.PayloadSize() }
func (w *txWriter) Gen() uint64                 { return w.gen }
func (w *txWriter) Alloc(n int) (uint64, error) { return w.fl.Alloc(n) }
func (w *txWriter) Free(ref pager.Ref)          { w.fl.Free(ref) }
func (w *txWriter) Unalloc(first uint64, n int) { w.fl.Unalloc(first, n) }

func (w *txWriter) WritePage(pgno uint64, payload []byte) error {
	size := w.p.PageSize()
	if len(w.run) > 0 && (pgno != w.runFirst+uint64(len(w.run)/size) || len(w.run) >= maxRunBytes) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if len(w.run) == 0 {
		w.runFirst = pgno
	}
	w.run = slices.Grow(w.run, size)[:len(w.run)+size]
	if err := w.p.SealPage(w.run[len(w.run)-size:], pgno, w.gen, payload); err != nil {
		w.run = w.run[:len(w.run)-size]
		return err
	}
	return nil
}

// WritePages writes pages pgnos (ascending) with payloads like WritePage,
// sealing them on every core first: a commit's tree pages are sealed in
// parallel, then written a run of consecutive pages at a time.
func (w *txWriter) WritePages(pgnos []uint64, payloads [][]byte) error {
	if err := w.flush(); err != nil {
		return err
	}
	size := w.p.PageSize()
	w.sealed = slices.Grow(w.sealed[:0], len(pgnos)*size)[:len(pgnos)*size]
	if err := w.sealAll(pgnos, payloads); err != nil {
		return err
	}
	for lo := 0; lo < len(pgnos); {
		hi := lo + 1
		for hi < len(pgnos) && pgnos[hi] == pgnos[hi-1]+1 && (hi-lo)*size < maxRunBytes {
			hi++
		}
		if err := w.p.WriteSealed(pgnos[lo], w.sealed[lo*size:hi*size]); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// sealChunk is how many pages a sealer claims at a time.
const sealChunk = 8

// sealAll seals pages pgnos into w.sealed. Helper goroutines (one per extra
// core, at most 3) and the caller claim chunks of pages until none is left;
// a helper that starts after the work is gone touches nothing, so the
// caller never waits for a goroutine that has not run (both cores busy):
// at worst it seals everything itself.
func (w *txWriter) sealAll(pgnos []uint64, payloads [][]byte) error {
	if len(pgnos) == 0 {
		return nil
	}
	size := w.p.PageSize()
	chunks := (len(pgnos) + sealChunk - 1) / sealChunk
	var next, done atomic.Int32
	var firstErr atomic.Pointer[error]
	finished := make(chan struct{})
	work := func() {
		for {
			c := int(next.Add(1)) - 1
			if c >= chunks {
				return
			}
			for i := c * sealChunk; i < min((c+1)*sealChunk, len(pgnos)); i++ {
				if err := w.p.SealPage(w.sealed[i*size:(i+1)*size], pgnos[i], w.gen, payloads[i]); err != nil {
					firstErr.CompareAndSwap(nil, &err)
				}
			}
			if int(done.Add(1)) == chunks {
				close(finished)
			}
		}
	}
	for range min(runtime.GOMAXPROCS(0)-1, 3, chunks-1) {
		go work()
	}
	work()
	<-finished
	if err := firstErr.Load(); err != nil {
		return *err
	}
	return nil
}

// flush writes the gathered pages.
func (w *txWriter) flush() error {
	if len(w.run) == 0 {
		return nil
	}
	err := w.p.WriteSealed(w.runFirst, w.run)
	w.run = w.run[:0]
	return w.bh.fail(err) // remembered: the pages are gone from memory, not in the file
}
