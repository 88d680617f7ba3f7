// Package scdb is an encrypted, embedded, single-file record store.
//
// A file holds named lists of records. Each record has an id, unique within
// its list, and a value of any size: writing an id that exists replaces the
// record. Lists are read back one record at a time, in id order, with memory
// that stays flat however long the list or large the value:
//
//	db, err := scdb.Open("my_database.scdb", scdb.Options{Passphrase: pass})
//	if err != nil {
//		return err
//	}
//	defer db.Close()
//	for rec, err := range db.Records("my list1") {
//		if err != nil {
//			return err // a damaged page, a closed database
//		}
//		value, err := rec.Value()
//		if err != nil {
//			return err
//		}
//		fmt.Println(rec.ID(), string(value))
//	}
//
// Always take both loop variables: written with one, for rec := range
// db.Records(l), the loop drops the error that ends it, and a damaged or
// tampered file then reads as a shorter list.
//
// Everything but a small plaintext header is encrypted with
// XChaCha20-Poly1305 in fixed-size pages, each bound to its position and to
// the commit that wrote it, so damage and tampering are detected rather than
// returned as data. Commits are atomic and durable: a crash at any instant
// leaves the last committed state. FORMAT.md specifies every byte.
//
// One process at a time may open a file for writing; within it, one
// read-write transaction runs at a time beside any number of read-only
// snapshots.
package scdb

import (
	"errors"
	"fmt"
	"iter"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/internal/testhook"
	"github.com/streamcrypt/scdb/pager"
)

// Options configure Create and Open. The zero value of each field is the
// sensible default; exactly one of Key and Passphrase must be set.
type Options struct {
	Key        []byte // a 32-byte raw key, or
	Passphrase []byte // a passphrase, stretched with Argon2id (t=3, m=64 MiB, p=4)
	PageSize   int    // Create only: a power of two from 1024 to 65536; 0 means 4096
	ReadOnly   bool   // Open only: no writes; the file is shared-locked
	NoSync     bool   // skip fsync at commit: an application crash loses nothing committed, but a power loss or OS crash may lose recent commits or corrupt the file
	CacheSize  int    // bytes of decrypted pages kept in memory; 0 means 64 MiB, filled by lookups and the pages write transactions read, not by scans (pager.DefaultCacheSize)

	// MaxKDFMemoryKiB and MaxKDFWork cap the Argon2id work Open pays for
	// each passphrase slot: at most MaxKDFMemoryKiB of memory, and passes ×
	// memory at most MaxKDFWork (KiB-passes). A slot's cost is stored in the
	// plaintext header, where anyone who can write the file can raise it, so
	// a slot above the caps is not tried (ErrKDFLimit names them). Zero means
	// twice the cost of a default slot: 131072 KiB (128 MiB) and 393216.
	// Raise them only to open files whose slots you created with more.
	MaxKDFMemoryKiB uint32
	// MaxKDFWork: see MaxKDFMemoryKiB.
	MaxKDFWork uint64

	// RequireNewestMeta makes Open fail with ErrCorrupt instead of falling
	// back to the previous commit when the newest commit's meta page is
	// damaged (see DB.MetaFault). A crash that tears a commit's meta write
	// looks the same, so after such a crash the file opens only without it.
	RequireNewestMeta bool

	// LockTimeout is how long Open waits for a conflicting lock to go away
	// before failing with ErrLocked; 0 means fail at once. On Linux only a
	// writer conflicts with a writer; elsewhere readers and a writer also
	// exclude each other.
	LockTimeout time.Duration

	// KeepFreeSpace stops Close from shrinking the file (DB.Shrink), which
	// it does after a write transaction when at least 1/20 of the file is
	// free and 1 MiB can be given back: Close then never writes.
	KeepFreeSpace bool
}

func (o *Options) pagerOptions() pager.Options {
	po := pager.Options{PageSize: o.PageSize, CacheSize: o.CacheSize, ReadOnly: o.ReadOnly, NoSync: o.NoSync,
		KDFLimit:          crypt.KDFLimit{MemoryKiB: o.MaxKDFMemoryKiB, Work: o.MaxKDFWork},
		RequireNewestMeta: o.RequireNewestMeta,
		Rand:              testhook.Rand}
	if testhook.KDF != nil {
		po.KDF = *testhook.KDF
	}
	return po
}

func (o *Options) credential() crypt.Credential {
	return crypt.Credential{Key: o.Key, Passphrase: o.Passphrase}
}

// DB is an open scdb file. Its methods are safe for concurrent use.
type DB struct {
	name   string
	p      *pager.Pager
	fl     *freelist.Freelist // nil when read-only
	closed atomic.Bool

	writer     sync.Mutex // held by the one open read-write transaction
	superseded string     // set by CompactTo: the file that replaces this one; guarded by writer

	mu      sync.Mutex     // guards readers and newest
	readers map[uint64]int // open read snapshots by generation (a count may be 0 at newest)
	newest  uint64         // the newest generation a snapshot was taken at

	gets sync.Pool // of *Tx: Get's private snapshots, recycled (get.go)

	keepFree bool // Options.KeepFreeSpace

	batch   batcher  // the Batch callers waiting for a commit (batch.go)
	commits notifier // wakes Follow loops at every commit and at Close (follow.go)
}

// Create makes a new scdb file at path, which must not exist, protected by
// opts.Key or opts.Passphrase.
func Create(path string, opts Options) (*DB, error) {
	if opts.ReadOnly {
		return nil, fmt.Errorf("create %s: %w: a new file cannot be read-only", path, ErrInvalid)
	}
	f, err := pager.OpenFile(path, true, false)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	db, err := CreateFile(f, opts)
	if err != nil {
		f.Close()
		removeFile(path)
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	db.name = path
	return db, nil
}

// Open opens the existing scdb file at path.
func Open(path string, opts Options) (*DB, error) {
	f, err := pager.OpenFileWait(path, false, opts.ReadOnly, opts.LockTimeout)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db, err := OpenFile(f, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.name = path
	return db, nil
}

// CreateFile is Create over any pager.File (an in-memory file, a file with
// faults injected for tests). The DB closes f when it is closed.
func CreateFile(f pager.File, opts Options) (*DB, error) {
	p, err := pager.Create(f, opts.credential(), opts.pagerOptions())
	if err != nil {
		return nil, err
	}
	return newDB(p, freelist.New(), opts), nil
}

// OpenFile is Open over any pager.File. The DB closes f when it is closed.
func OpenFile(f pager.File, opts Options) (*DB, error) {
	p, err := pager.Open(f, opts.credential(), opts.pagerOptions())
	if err != nil {
		return nil, err
	}
	var fl *freelist.Freelist
	if !opts.ReadOnly {
		if fl, err = openFreelist(p); err != nil {
			p.Close()
			return nil, err
		}
	}
	return newDB(p, fl, opts), nil
}

// openFreelist opens the free set of a writable open. When readers in other
// processes hold snapshots older than the last commit, no page the file
// records as free may be reused until they end: this writer cannot know
// which commit freed each page (FORMAT.md §9.5), and a snapshot may reach it.
func openFreelist(p *pager.Pager) (*freelist.Freelist, error) {
	meta := p.Meta()
	fl, err := freelist.Open(p, meta)
	if err != nil {
		return nil, err
	}
	_, older, err := p.OldestForeignSnapshot(meta.Gen)
	if err != nil {
		return nil, err
	}
	if older {
		fl.HoldLoaded(meta.Gen)
	}
	return fl, nil
}

func newDB(p *pager.Pager, fl *freelist.Freelist, opts Options) *DB {
	return &DB{p: p, fl: fl, readers: map[uint64]int{}, keepFree: opts.KeepFreeSpace}
}

// Close waits for the open read-write transaction, if any, to end, then
// closes the file and forgets the key. Read snapshots still open fail with
// ErrClosed from then on. Calling Close inside Update or Batch, or while
// the same goroutine holds a writable transaction from Begin, deadlocks.
//
// A writable DB that ran a write transaction first shrinks the file
// (Shrink) when at least 1/20 of it is free and at least 1 MiB can be given
// back (one Shrink's worth: a large file may need several Closes, or
// Shrink), unless Options.KeepFreeSpace is set. If that fails, Close still
// closes the file and returns the error; nothing committed is lost either
// way.
func (db *DB) Close() error {
	var shrinkErr error
	if db.shrinkAtClose() {
		// A DB that cannot write (closed, or compacted into a successor)
		// has nothing to shrink.
		if _, err := db.shrink(db.closeShrinkGain()); err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrReadOnly) {
			shrinkErr = fmt.Errorf("shrinking at close: %w", err)
		}
	}
	db.writer.Lock()
	defer db.writer.Unlock()
	if db.closed.Swap(true) {
		return ErrClosed
	}
	defer db.commits.broadcast() // Follow loops end with ErrClosed
	return errors.Join(shrinkErr, db.p.Close())
}

// shrinkAtClose says whether Close should try to shrink the file: a
// writable DB, without KeepFreeSpace, that wrote since it opened (else the
// free set, read lazily, is not even loaded, and the file is as the last
// Close left it), with at least 1/closeShrinkShare of its pages free.
func (db *DB) shrinkAtClose() bool {
	if db.fl == nil || db.keepFree || db.closed.Load() {
		return false
	}
	db.writer.Lock()
	defer db.writer.Unlock()
	return db.fl.Loaded() && db.fl.FreeCount() >= db.fl.PageCount()/closeShrinkShare
}

// closeShrinkGain is the fewest pages worth shrinking the file for at Close.
func (db *DB) closeShrinkGain() uint64 {
	return max(uint64(closeShrinkMin/db.p.PageSize()), 1)
}

// MetaFault reports, when the file was opened, that its meta page other
// than the one in use was damaged or did not hold the generation just before
// it: the newest commit may have been dropped (by damage, or by a crash that
// tore its meta write; the two look alike). It is nil for a healthy file.
// Options.RequireNewestMeta makes Open refuse such a file instead.
func (db *DB) MetaFault() error { return db.p.MetaFault() }

// Generation returns the number of the last commit. It grows by one with
// every commit; an application that stores it elsewhere can notice a file
// rolled back to an older copy, which nothing inside the file can detect.
// A read-only DB sees commits made by a writer in another process as its
// snapshots begin; Generation is the newest it has seen.
func (db *DB) Generation() uint64 { return db.p.Meta().Gen }

// Update runs fn in a read-write transaction and commits it if fn returns
// nil; if fn returns an error or panics, nothing it did is kept. fn must not
// call Commit or Rollback (they return ErrTxManaged), and must not start
// another writable transaction or call Update, Batch or Close: each waits
// for this transaction to end, so the goroutine deadlocks.
func (db *DB) Update(fn func(tx *Tx) error) error {
	tx, err := db.Begin(true)
	if err != nil {
		return err
	}
	tx.managed = true
	defer tx.release()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.commitEnd()
}

// View runs fn in a read-only snapshot. Commit and Rollback inside fn return
// ErrTxManaged; the snapshot ends when fn returns.
func (db *DB) View(fn func(tx *Tx) error) error {
	tx, err := db.Begin(false)
	if err != nil {
		return err
	}
	tx.managed = true
	defer tx.release()
	return fn(tx)
}

// Begin starts a transaction. A writable one waits for the previous
// writable one to end; read-only ones never wait. Every transaction must end
// with Commit or Rollback (defer tx.Rollback() right after Begin; it is
// harmless after Commit). A forgotten writable transaction blocks every
// later writer and Close for ever; Begin(true) inside Update, or twice in
// one goroutine, deadlocks. A forgotten snapshot keeps the pages it can
// reach from being reused, so the file grows: Stats.OpenSnapshots shows it.
func (db *DB) Begin(writable bool) (*Tx, error) {
	if db.closed.Load() {
		return nil, ErrClosed
	}
	if !writable {
		return db.beginRead()
	}
	if err := db.lockWriter(); err != nil {
		return nil, err
	}
	meta := db.p.Meta()
	oldest, err := db.oldestAnywhere(meta.Gen)
	if err != nil {
		db.writer.Unlock()
		return nil, err
	}
	db.fl.Begin(meta.Gen+1, oldest)
	if err := db.fl.Err(); err != nil { // a free list read at the first write, found damaged
		db.writer.Unlock()
		return nil, err
	}
	return newTx(db, meta, true), nil
}

// beginRead starts a snapshot of the last commit. In a writable DB the
// commit is this DB's own, and it is registered under the same lock the
// writer's Begin reads, so no transaction starting after it reuses a page
// it reaches. A read-only DB reads the newest commit on disk (another
// process may be writing) and announces it to that writer (pager
// BeginSnapshot).
func (db *DB) beginRead() (*Tx, error) {
	meta, err := db.snapshot()
	if err != nil {
		return nil, err
	}
	return newTx(db, meta, false), nil
}

// snapshot registers a read snapshot of the last commit (see beginRead) and
// returns its state; endRead withdraws it.
func (db *DB) snapshot() (pager.Meta, error) {
	if db.fl != nil {
		db.mu.Lock()
		defer db.mu.Unlock()
		meta := db.p.Meta()
		db.register(meta.Gen)
		return meta, nil
	}
	if db.p.ReplacedAt(db.name) {
		return pager.Meta{}, fmt.Errorf("%s: %w", db.name, ErrReplaced)
	}
	meta, err := db.p.BeginSnapshot()
	if err != nil {
		return pager.Meta{}, closedOr(db, err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.register(meta.Gen)
	return meta, nil
}

// register counts a snapshot at gen; the caller holds mu. The entry of the
// newest generation stays in the map at count 0 (endRead), so that a run
// of short snapshots (db.Get) does not delete and insert it every time.
func (db *DB) register(gen uint64) {
	if gen > db.newest {
		if db.readers[db.newest] == 0 {
			delete(db.readers, db.newest)
		}
		db.newest = gen
	}
	db.readers[gen]++
}

func (db *DB) endRead(gen uint64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.readers[gen]--; db.readers[gen] == 0 && gen != db.newest {
		delete(db.readers, gen)
	}
	db.p.EndSnapshot(gen)
}

// oldestAnywhere is the generation of the oldest read snapshot open in this
// DB or in any other open of the file (another process's read-only DB), or
// committed when there is none: pages freed by commits after it may still
// be read.
func (db *DB) oldestAnywhere(committed uint64) (uint64, error) {
	oldest := db.oldestSnapshot(committed)
	foreign, found, err := db.p.OldestForeignSnapshot(committed)
	if err != nil {
		return 0, err
	}
	if found {
		oldest = min(oldest, foreign)
	}
	return oldest, nil
}

// oldestSnapshot is the generation of the oldest open read snapshot, or
// committed when there is none.
func (db *DB) oldestSnapshot(committed uint64) uint64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	oldest := committed
	for g, n := range db.readers {
		if n > 0 {
			oldest = min(oldest, g)
		}
	}
	return oldest
}

// Put stores value under id in list, in its own transaction.
func (db *DB) Put(list, id string, value []byte) error {
	return db.Update(func(tx *Tx) error { return tx.List(list).Put(id, value) })
}

// Get returns the value of id in list, from a snapshot of its own.
func (db *DB) Get(list, id string) ([]byte, error) {
	if db.closed.Load() {
		return nil, ErrClosed
	}
	tx, err := db.beginGet()
	if err != nil {
		return nil, err
	}
	defer db.endGet(tx)
	return (&List{tx: tx, name: list}).Get(id)
}

// Delete removes id from list, in its own transaction.
func (db *DB) Delete(list, id string) error {
	return db.Update(func(tx *Tx) error { return tx.List(list).Delete(id) })
}

// Lists returns the names of all lists, in byte order.
func (db *DB) Lists() ([]string, error) {
	var names []string
	err := db.View(func(tx *Tx) error {
		for name, err := range tx.Lists() {
			if err != nil {
				return err
			}
			names = append(names, name)
		}
		return nil
	})
	return names, err
}

// Records streams the records of list in id order from a snapshot taken when
// the loop starts and released when it ends. Each *Record is valid for its
// loop step only: used later it fails with an error saying so. A list that
// does not exist yields nothing. Take both loop variables: the error ends
// the loop when a page is damaged.
func (db *DB) Records(list string) iter.Seq2[*Record, error] {
	return db.loop(func(tx *Tx) iter.Seq2[*Record, error] { return tx.List(list).All() })
}

// closedOr is ErrClosed if db was closed (whatever err says), else err.
func closedOr(db *DB, err error) error {
	if db.closed.Load() {
		return ErrClosed
	}
	return err
}

func closedErr(db *DB) error {
	if db.closed.Load() {
		return ErrClosed
	}
	return nil
}

// removeFile deletes a file Create made but could not finish.
func removeFile(path string) { _ = os.Remove(path) }
