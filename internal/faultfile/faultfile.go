// Package faultfile is an in-memory file for crash and fault tests of the
// pager. A *File has the methods of pager.File (it does not import pager, so
// the pager's own internal tests may use it too).
//
// # Crash model
//
// The file keeps two things: the durable image, which is what a successful
// Sync made permanent, and the list of operations (writes and truncates)
// issued since the last Sync. Reads see the durable image with every one of
// those operations applied, as a running process does.
//
// A power cut is modelled by Crash: the new file's content is the durable
// image plus any subset of the unsynced operations, applied in the order
// they were issued, and optionally one unsynced write torn: only a prefix of
// its bytes reached the medium, the rest of the range keeps what it held
// before. This is deliberately harsher than most real disks and file
// systems (they rarely reorder or drop writes so freely), so code that
// survives it survives them. What the model does not cover: a Sync that
// returns success without being durable is only what LieSync asks for, and
// damage to synced bytes is only what FlipBit does.
//
// Faults: FailWrite and FailSync make the Nth write or sync return an error
// (the operation then does nothing), StopAfter makes every operation after
// the next n fail (the machine died: pair it with Crash), and LieSync makes
// Sync report success without making anything durable.
//
// Every WriteAt, Sync and Truncate is recorded in Log, failed ones included.
// A File is safe for concurrent use.
package faultfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// ErrInjected is returned by an operation that a fault made fail.
var ErrInjected = errors.New("faultfile: injected fault")

// Kind says what an operation was.
type Kind int

// Operation kinds.
const (
	Write Kind = iota + 1
	Sync
	Truncate
)

// String names the kind of operation.
func (k Kind) String() string {
	switch k {
	case Write:
		return "write"
	case Sync:
		return "sync"
	case Truncate:
		return "truncate"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Op is one recorded operation.
type Op struct {
	Kind   Kind   // write, sync, truncate, ...
	Off    int64  // Write: where it starts; Truncate: the new size
	Data   []byte // Write: the bytes written (a copy)
	Failed bool   // the operation returned an error and changed nothing
}

// String describes the operation for test logs.
func (o Op) String() string {
	s := ""
	switch o.Kind {
	case Write:
		s = fmt.Sprintf("write %d bytes at %d", len(o.Data), o.Off)
	case Truncate:
		s = fmt.Sprintf("truncate to %d", o.Off)
	default:
		s = o.Kind.String()
	}
	if o.Failed {
		s += " (failed)"
	}
	return s
}

// Tear says which unsynced write a crash tears and how much of it lands:
// bytes [0, Prefix) of the write are new, the rest of its range is old.
type Tear struct {
	Write  int // index into Unsynced(); must be a Write
	Prefix int // 0 <= Prefix <= len(data)
}

// File is an in-memory file that records and can fail every operation and
// simulate crashes. The zero value is an empty file.
type File struct {
	mu       sync.Mutex
	durable  []byte
	cur      []byte
	unsynced []Op
	log      []Op
	reads    int
	writes   int // WriteAt calls so far, failed ones included
	syncs    int // Sync calls so far, failed ones included
	ops      int // WriteAt, Sync and Truncate calls so far

	failWrite int // fail the write whose 1-based number this is; 0: none
	failSync  int
	stopAfter int // fail every op numbered above this; -1: never
	lieSync   bool
	closed    bool

	views map[*View]map[uint64]int // snapshot locks of attached readers
}

// New returns a file whose durable content is a copy of content.
func New(content []byte) *File {
	return &File{durable: clone(content), cur: clone(content), stopAfter: -1}
}

func clone(b []byte) []byte { return append([]byte{}, b...) }

// ReadAt reads from the current (not necessarily durable) content, like a
// running process sees it. A read past the end returns io.EOF.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, os.ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("faultfile: read at negative offset %d", off)
	}
	f.reads++
	if off >= int64(len(f.cur)) {
		return 0, io.EOF
	}
	n := copy(p, f.cur[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt records a write and applies it to the current content, growing
// the file with zeros if it starts past the end.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, os.ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("faultfile: write at negative offset %d", off)
	}
	f.writes++
	op := Op{Kind: Write, Off: off, Data: clone(p)}
	if f.fail(f.writes == f.failWrite) {
		op.Failed = true
		f.log = append(f.log, op)
		return 0, fmt.Errorf("write %d bytes at %d: %w", len(p), off, ErrInjected)
	}
	f.log = append(f.log, op)
	f.unsynced = append(f.unsynced, op)
	f.cur = apply(f.cur, op, len(op.Data))
	return len(p), nil
}

// Sync makes every operation since the last Sync durable, unless LieSync
// is on, in which case it only says so.
func (f *File) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return os.ErrClosed
	}
	f.syncs++
	if f.fail(f.syncs == f.failSync) {
		f.log = append(f.log, Op{Kind: Sync, Failed: true})
		return fmt.Errorf("sync: %w", ErrInjected)
	}
	f.log = append(f.log, Op{Kind: Sync})
	if !f.lieSync {
		f.durable = clone(f.cur)
		f.unsynced = nil
	}
	return nil
}

// Truncate records a change of size and applies it to the current content.
func (f *File) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return os.ErrClosed
	}
	if size < 0 {
		return fmt.Errorf("faultfile: truncate to negative size %d", size)
	}
	op := Op{Kind: Truncate, Off: size}
	if f.fail(false) {
		op.Failed = true
		f.log = append(f.log, op)
		return fmt.Errorf("truncate to %d: %w", size, ErrInjected)
	}
	f.log = append(f.log, op)
	f.unsynced = append(f.unsynced, op)
	f.cur = apply(f.cur, op, 0)
	return nil
}

// fail counts one operation and reports whether it must fail, either
// because the caller's own fault says so or because StopAfter's budget is
// spent.
func (f *File) fail(own bool) bool {
	f.ops++
	return own || (f.stopAfter >= 0 && f.ops > f.stopAfter)
}

// Size returns the current length of the file.
func (f *File) Size() (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, os.ErrClosed
	}
	return int64(len(f.cur)), nil
}

// Close marks the file closed; later operations fail with os.ErrClosed. The
// content stays available to Bytes, Durable and Crash.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return os.ErrClosed
	}
	f.closed = true
	return nil
}

// apply performs op on img, writing only the first prefix bytes of a write.
func apply(img []byte, op Op, prefix int) []byte {
	switch op.Kind {
	case Write:
		end := op.Off + int64(prefix)
		if end > int64(len(img)) {
			img = append(img, make([]byte, end-int64(len(img)))...)
		}
		copy(img[op.Off:end], op.Data[:prefix])
	case Truncate:
		if op.Off <= int64(len(img)) {
			img = img[:op.Off]
		} else {
			img = append(img, make([]byte, op.Off-int64(len(img)))...)
		}
	}
	return img
}

// Crash returns a new file as a power cut would leave this one: the durable
// image, then each unsynced operation i for which keep(i) is true, in
// order. keep nil keeps none. If tear is not nil, unsynced write
// tear.Write is applied in its place in the order with only its first
// tear.Prefix bytes, whatever keep says about it. The new file has no
// unsynced operations, no faults and an empty log. This file is unchanged.
func (f *File) Crash(keep func(i int) bool, tear *Tear) *File {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tear != nil {
		if tear.Write < 0 || tear.Write >= len(f.unsynced) || f.unsynced[tear.Write].Kind != Write {
			panic(fmt.Sprintf("faultfile: tear of operation %d, which is not an unsynced write", tear.Write))
		}
		if n := len(f.unsynced[tear.Write].Data); tear.Prefix < 0 || tear.Prefix > n {
			panic(fmt.Sprintf("faultfile: tear prefix %d of a %d-byte write", tear.Prefix, n))
		}
	}
	img := clone(f.durable)
	for i, op := range f.unsynced {
		switch {
		case tear != nil && i == tear.Write:
			img = apply(img, op, tear.Prefix)
		case keep != nil && keep(i):
			img = apply(img, op, len(op.Data))
		}
	}
	return New(img)
}

// KeepAll is a keep function for Crash that keeps every operation: the
// crash loses nothing that was issued.
func KeepAll(int) bool { return true }

// Clone returns an independent copy of the file in its present state:
// content, durable image, unsynced operations and log. Faults and counters
// start afresh.
func (f *File) Clone() *File {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := New(f.durable)
	g.cur = clone(f.cur)
	g.unsynced = append([]Op(nil), f.unsynced...)
	g.log = append([]Op(nil), f.log...)
	return g
}

// Unsynced returns the operations issued since the last Sync that really
// made things durable, in order. Crash's keep and tear index this list.
func (f *File) Unsynced() []Op {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Op(nil), f.unsynced...)
}

// Log returns every WriteAt, Sync and Truncate so far, failed ones included.
func (f *File) Log() []Op {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Op(nil), f.log...)
}

// Bytes returns a copy of the current content.
func (f *File) Bytes() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return clone(f.cur)
}

// Durable returns a copy of the durable image.
func (f *File) Durable() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return clone(f.durable)
}

// Reads returns the number of ReadAt calls so far.
func (f *File) Reads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// FlipBit flips bit (0..7) of the byte at off, in the current content and
// in the durable image alike: damage to the medium, not a write.
func (f *File) FlipBit(off int64, bit uint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off < 0 || off >= int64(len(f.cur)) || bit > 7 {
		panic(fmt.Sprintf("faultfile: flip of bit %d at %d in a %d-byte file", bit, off, len(f.cur)))
	}
	f.cur[off] ^= 1 << bit
	if off < int64(len(f.durable)) {
		f.durable[off] ^= 1 << bit
	}
}

// FailWrite makes the nth WriteAt from now (1-based) fail with ErrInjected
// without writing anything. n <= 0 cancels the fault.
func (f *File) FailWrite(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWrite = 0
	if n > 0 {
		f.failWrite = f.writes + n
	}
}

// FailSync makes the nth Sync from now (1-based) fail with ErrInjected
// without making anything durable. n <= 0 cancels the fault.
func (f *File) FailSync(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failSync = 0
	if n > 0 {
		f.failSync = f.syncs + n
	}
}

// StopAfter lets the next n operations (writes, syncs, truncates) through
// and fails every one after them with ErrInjected, as a machine that lost
// power would. n < 0 cancels the fault.
func (f *File) StopAfter(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopAfter = -1
	if n >= 0 {
		f.stopAfter = f.ops + n
	}
}

// LieSync makes Sync report success without making anything durable (on),
// or behave again (off).
func (f *File) LieSync(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lieSync = on
}

// View is a second, read-only open of a File, as another process reading it
// would have: it sees the File's current content (unsynced writes included,
// as a page cache shows them) and announces its snapshots to the File's
// writer through snapshot locks (pager.SnapshotLocker). It does not fail or
// record operations; closing it releases its locks but not the File.
type View struct {
	f      *File
	closed bool // guarded by f.mu
}

// Attach opens a View of f.
func (f *File) Attach() *View {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := &View{f: f}
	if f.views == nil {
		f.views = map[*View]map[uint64]int{}
	}
	f.views[v] = map[uint64]int{}
	return v
}

// ReadAt reads the File's current content.
func (v *View) ReadAt(p []byte, off int64) (int, error) {
	if v.isClosed() {
		return 0, os.ErrClosed
	}
	return v.f.ReadAt(p, off)
}

// Size is the File's current length.
func (v *View) Size() (int64, error) {
	if v.isClosed() {
		return 0, os.ErrClosed
	}
	return v.f.Size()
}

// WriteAt, Sync and Truncate are refused: a View only reads.
func (v *View) WriteAt([]byte, int64) (int, error) { return 0, errReadOnlyView }

// Sync is refused: a View only reads.
func (v *View) Sync() error { return errReadOnlyView }

// Truncate is refused: a View only reads.
func (v *View) Truncate(int64) error { return errReadOnlyView }

var errReadOnlyView = errors.New("faultfile: a View is read-only")

// Close releases the View's snapshot locks.
func (v *View) Close() error {
	v.f.mu.Lock()
	defer v.f.mu.Unlock()
	if v.closed {
		return os.ErrClosed
	}
	v.closed = true
	delete(v.f.views, v)
	return nil
}

func (v *View) isClosed() bool {
	v.f.mu.Lock()
	defer v.f.mu.Unlock()
	return v.closed
}

// LockSnapshot announces that the View reads generation gen.
func (v *View) LockSnapshot(gen uint64) error {
	v.f.mu.Lock()
	defer v.f.mu.Unlock()
	if v.closed {
		return os.ErrClosed
	}
	v.f.views[v][gen]++
	return nil
}

// UnlockSnapshot withdraws LockSnapshot(gen).
func (v *View) UnlockSnapshot(gen uint64) error {
	v.f.mu.Lock()
	defer v.f.mu.Unlock()
	if locks := v.f.views[v]; locks != nil {
		if locks[gen]--; locks[gen] <= 0 {
			delete(locks, gen)
		}
	}
	return nil
}

// OldestForeignSnapshot is the File's: a View has no writer to ask.
func (v *View) OldestForeignSnapshot(below uint64) (uint64, bool, error) {
	return v.f.OldestForeignSnapshot(below)
}

// LockSnapshot and UnlockSnapshot do nothing on the File itself: its own
// opener's snapshots are its own business, as an open file's are.
func (f *File) LockSnapshot(uint64) error { return nil }

// UnlockSnapshot does nothing; see LockSnapshot.
func (f *File) UnlockSnapshot(uint64) error { return nil }

// OldestForeignSnapshot returns the lowest generation below `below` that an
// attached View reads.
func (f *File) OldestForeignSnapshot(below uint64) (uint64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var oldest uint64
	found := false
	for _, locks := range f.views {
		for gen := range locks {
			if gen < below && (!found || gen < oldest) {
				oldest, found = gen, true
			}
		}
	}
	return oldest, found, nil
}
