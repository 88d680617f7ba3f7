package record

import (
	"bytes"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcrypt/scdb/pager"
)

// Read-ahead of chain values for a forward scan of a read-only snapshot.
// When the scan's reader has taken the value of the last chain record it
// was handed, the chain values after it in the same leaf are queued, and a
// worker goroutine (one per scan, ended by Close) decrypts them in order
// into buffers of their own while the reader works through the value in
// front of it: a stream of large values then uses two cores, as the
// directory tree's leaf read-ahead does for small ones.
//
// Each queued value is a Slot, claimed by whoever gets to it first: the
// goroutine, or the record's reader, which then reads the value itself the
// ordinary way. The reader therefore never waits for a goroutine that is not
// running yet (on a 2-vCPU VM one took 110-140 µs to reach the idle core);
// it waits only for a value being decrypted, and meanwhile decrypts the
// last waiting value of the same batch itself, so both cores stay busy
// even when the reader does nothing with the bytes.
//
// A loop body that ends the snapshot (Rollback, Close) leaves the
// goroutine reading its pages until the loop's next step closes the Ahead:
// harmless, since what it reads is dropped, and a read of a closed file
// fails instead of faulting (pager).
//
// Memory is bounded: values above aheadValueMax are never queued, a batch
// holds at most aheadBatchBytes of values (or one), a batch is added only
// when at most half that is queued, and a value whose record the scan passed
// without taking it is dropped at once. With the slot handed out last,
// that is at most 1.5·aheadBatchBytes+aheadValueMax bytes of values, in
// buffers of at most twice their size (valueBuf).

const (
	// aheadBatchBytes bounds the values of a batch (one goroutine each),
	// which takes as many as its leaf has up to that: at 64 KiB values,
	// eight values and about 300 µs of decryption, well past the
	// goroutine's start.
	aheadBatchBytes = 512 << 10
	// aheadValueMax (2^aheadValueLog) is the largest value read ahead; a
	// larger one is streamed by its reader page by page, as always.
	aheadValueLog = 18
	aheadValueMax = 1 << aheadValueLog
)

// Slot states.
const (
	slotIdle    uint32 = iota // not queued: the reader reads the value itself
	slotWaiting               // queued; nobody claimed it
	slotReading               // being decrypted by whoever claimed it
	slotDone                  // decrypted (val) or failed (failed)
	slotTaken                 // its record's reader claimed it
	slotDropped               // the scan gave it up; val went back to the pool
)

// A Slot is the read-ahead of one chain value, handed out with the record
// it belongs to. The zero Slot (as a nil *Slot) holds nothing.
type Slot struct {
	state  atomic.Uint32
	cell   []byte  // the chain cell, a private copy
	size   int64   // the value's size
	val    *[]byte // the value once done, from valueBufs
	failed bool    // done without a value: the reader meets the error itself
	handed bool    // Take handed val over
	batch  *aheadBatch
}

// Take claims the value read ahead for the slot's record. ok is false when
// there is none (not queued, failed, dropped, or taken before): the caller
// reads the value itself. The buffer is the caller's; Release gives it
// back for reuse.
func (s *Slot) Take() (val *[]byte, ok bool) {
	if s == nil {
		return nil, false
	}
	for {
		switch st := s.state.Load(); st {
		case slotIdle, slotWaiting:
			if s.state.CompareAndSwap(st, slotTaken) {
				return nil, false
			}
		case slotReading:
			if s.batch == nil || !s.batch.helpLast() {
				runtime.Gosched() // the other side is decrypting it
			}
		case slotDone:
			if s.state.CompareAndSwap(slotDone, slotTaken) {
				val, s.val = s.val, nil
				s.handed = val != nil
				return val, s.handed
			}
		default:
			return nil, false
		}
	}
}

// Handed reports whether Take handed over a value read ahead. Only the
// goroutine that called Take may ask.
func (s *Slot) Handed() bool { return s != nil && s.handed }

// Ready reports whether the slot holds its value, decrypted ahead and not
// taken yet.
func (s *Slot) Ready() bool { return s != nil && s.state.Load() == slotDone && !s.failed }

// taken reports whether the record's reader asked for its value.
func (s *Slot) taken() bool { return s.state.Load() == slotTaken }

// drop gives the slot up: once it returns, nobody writes or hands out its
// value, and its buffer is back in the pool.
func (s *Slot) drop() {
	for {
		switch st := s.state.Load(); st {
		case slotIdle, slotWaiting:
			if s.state.CompareAndSwap(st, slotDropped) {
				return
			}
		case slotReading:
			runtime.Gosched()
		case slotDone:
			if s.state.CompareAndSwap(slotDone, slotDropped) {
				Release(s.val)
				s.val = nil
				return
			}
		default:
			return
		}
	}
}

// read decrypts the slot's value if nobody claimed it yet, and reports
// whether it did.
func (s *Slot) read(r pager.Reader) bool {
	if !s.state.CompareAndSwap(slotWaiting, slotReading) {
		return false
	}
	bp := valueBuf(s.size)
	v, err := AppendValue((*bp)[:0], r, s.cell)
	*bp = v
	s.val, s.failed = bp, err != nil
	if err != nil {
		Release(bp)
		s.val = nil
	}
	s.state.Store(slotDone)
	return true
}

// aheadBatch is the values one goroutine decrypts, in scan order.
type aheadBatch struct {
	r     pager.Reader
	slots []*Slot
}

func (b *aheadBatch) run() {
	for _, s := range b.slots {
		s.read(b.r)
	}
}

// helpLast decrypts the last value of the batch nobody claimed yet, and
// reports whether there was one.
func (b *aheadBatch) helpLast() bool {
	for i := len(b.slots) - 1; i >= 0; i-- {
		if b.slots[i].read(b.r) {
			return true
		}
	}
	return false
}

// valueBufs recycles the buffers values are decrypted into, by size:
// class k holds buffers of 2^k bytes, and a value takes one of the least
// class that holds it, so that a value kept (Record.Value gives its buffer
// away) holds at most twice its size.
var valueBufs [aheadValueLog + 1]sync.Pool // of *[]byte

func valueBuf(size int64) *[]byte {
	k := bits.Len64(uint64(max(size, 1) - 1))
	if bp, ok := valueBufs[k].Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, 1<<k)
	return &b
}

// Release gives a buffer Take returned back for reuse; nothing may use it
// afterwards. Release(nil) does nothing.
func Release(bp *[]byte) {
	if bp == nil {
		return
	}
	c := cap(*bp)
	if k := bits.Len(uint(c)) - 1; c > 0 && c == 1<<k && k < len(valueBufs) {
		*bp = (*bp)[:0]
		valueBufs[k].Put(bp)
	}
}

// Ahead is the chain read-ahead of one forward scan. It is used by the
// scan's goroutine only; the Slots it hands out may be taken from any.
type Ahead struct {
	r      pager.Reader
	queue  []*Slot // queued values the scan has not reached, in scan order
	queued int64   // their bytes
	last   *Slot   // the slot of the last chain value handed out
	// ended: the queue runs to the end of its leaf or to a value too large,
	// so there is nothing to add to it before it empties.
	ended bool

	// Slots and the cells they copy come from slabs, as the Records of a
	// loop do: a fraction of an allocation per value instead of two.
	slots []Slot
	cells []byte

	work chan *aheadBatch // to the worker goroutine, once started
}

// slot returns a new Slot for cell, queued in b (a copy of cell, waiting)
// or, with a nil b, not queued.
func (a *Ahead) slot(cell []byte, c chainCell, b *aheadBatch) *Slot {
	if len(a.slots) == 0 {
		a.slots = make([]Slot, 32)
	}
	s := &a.slots[0]
	a.slots = a.slots[1:]
	if b == nil {
		return s
	}
	if cap(a.cells)-len(a.cells) < len(cell) {
		a.cells = make([]byte, 0, max(4<<10, len(cell)))
	}
	at := len(a.cells)
	a.cells = append(a.cells, cell...)
	s.cell, s.size, s.batch = a.cells[at:len(a.cells):len(a.cells)], c.size, b
	s.state.Store(slotWaiting)
	return s
}

// NewAhead returns the read-ahead of a scan over pages r reads, which must
// be safe for concurrent use and unchanging while the scan lasts (a
// read-only snapshot).
func NewAhead(r pager.Reader) *Ahead { return &Ahead{r: r} }

// Next returns the slot for the value of cell, the cell the scan has just
// reached (nil if it is not a chain cell). rest calls its argument with the
// cells after it in its leaf, in scan order, until that returns false.
// On a nil Ahead it returns nil.
func (a *Ahead) Next(cell []byte, rest func(yield func(cell []byte) bool)) *Slot {
	if a == nil {
		return nil
	}
	_, c, inline, err := decodeCell(cell)
	if err != nil || inline {
		return nil
	}
	reading := a.last != nil && a.last.taken()
	if a.last != nil && !reading {
		a.last.drop() // the reader passed it by: it will not want the rest
		a.dropQueue()
	}
	var s *Slot
	if len(a.queue) > 0 && bytes.Equal(a.queue[0].cell, cell) {
		s = a.queue[0]
		a.queue[0] = nil
		a.queue = a.queue[1:]
		a.queued -= s.size
		a.ended = a.ended && len(a.queue) > 0
	} else {
		a.dropQueue()
		s = a.slot(cell, c, nil)
	}
	a.last = s
	// Batches start at half the budget, so that each is worth a
	// goroutine, and not again at every value once the leaf is queued.
	if reading && !a.ended && c.size <= aheadValueMax && a.queued <= aheadBatchBytes/2 {
		a.enqueue(rest)
	}
	return s
}

// enqueue starts a batch of the chain values after those queued in rest:
// as many as fit in aheadBatchBytes (at least one), stopping before a
// value too large.
func (a *Ahead) enqueue(rest func(yield func(cell []byte) bool)) {
	var b *aheadBatch
	var bytesIn int64
	seen, full := 0, false
	rest(func(cell []byte) bool {
		_, c, inline, err := decodeCell(cell)
		switch {
		case err != nil:
			return false
		case inline:
			return true
		case seen < len(a.queue):
			if !bytes.Equal(a.queue[seen].cell, cell) {
				return false // the queue is not this leaf's: leave it be
			}
			seen++
			return true
		case c.size > aheadValueMax:
			return false
		}
		if b == nil {
			b = &aheadBatch{r: a.r}
		} else if bytesIn+c.size > aheadBatchBytes {
			full = true
			return false
		}
		b.slots = append(b.slots, a.slot(cell, c, b))
		bytesIn += c.size
		return true
	})
	a.ended = !full
	if b == nil || seen < len(a.queue) {
		return
	}
	a.queue = append(a.queue, b.slots...)
	a.queued += bytesIn
	a.start(b)
}

// start hands b to the scan's worker goroutine, starting it if need be.
func (a *Ahead) start(b *aheadBatch) {
	if a.work == nil {
		a.work = make(chan *aheadBatch, 8)
		go work(a.work)
	}
	select {
	case a.work <- b:
	default:
		go b.run()
	}
}

// work runs the batches of one scan. After each it polls for the next for
// a while before it blocks: a goroutine that blocked takes 110-140 µs to
// run again, which at a leaf's end is the time of dozens of small values.
func work(batches chan *aheadBatch) {
	for {
		var b *aheadBatch
		var ok bool
		for deadline := time.Now().Add(workSpin); b == nil && time.Now().Before(deadline); {
			select {
			case b, ok = <-batches:
				if !ok {
					return
				}
			default:
				runtime.Gosched()
			}
		}
		if b == nil {
			if b, ok = <-batches; !ok {
				return
			}
		}
		b.run()
	}
}

const workSpin = 100 * time.Microsecond

// dropQueue gives up every queued value.
func (a *Ahead) dropQueue() {
	for i, s := range a.queue {
		s.drop()
		a.queue[i] = nil
	}
	a.queue, a.queued, a.ended = a.queue[:0], 0, false
}

// Close ends the read-ahead: once it returns, no goroutine reads a page
// for it, and its worker goroutine ends (a scan never closed, such as an
// iter.Pull never stopped, leaves the worker waiting). Values already
// taken stay with their readers; a slot handed out but not taken yet is
// dropped, and its reader reads the value itself. Closing a nil Ahead does
// nothing.
func (a *Ahead) Close() {
	if a == nil {
		return
	}
	a.dropQueue()
	if a.last != nil && !a.last.taken() {
		a.last.drop()
	}
	a.last = nil
	if a.work != nil {
		close(a.work)
		a.work = nil
	}
}
