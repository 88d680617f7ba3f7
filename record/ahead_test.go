package record

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// sharedStore makes a memstore safe for the read-ahead's goroutine and
// counts the pages read, from any goroutine.
type sharedStore struct {
	mu    sync.Mutex
	s     *memstore.Store
	pages atomic.Int64
}

func (l *sharedStore) PayloadSize() int { return l.s.PayloadSize() }

func (l *sharedStore) Page(ref pager.Ref) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pages.Add(1)
	return l.s.Page(ref)
}

func (l *sharedStore) ReadPages(first pager.Ref, dst []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pages.Add(int64(len(dst) / l.s.PayloadSize()))
	return l.s.ReadPages(first, dst)
}

// aheadLeaf stores values as cells of one leaf, in order.
type aheadLeaf struct {
	r      *sharedStore
	cells  [][]byte
	values [][]byte
}

func newAheadLeaf(t tb, sizes []int) *aheadLeaf {
	t.Helper()
	s := memstore.New(payload1K)
	l := &aheadLeaf{r: &sharedStore{s: s}}
	for i, n := range sizes {
		v := valueOf(n, byte(i))
		cell, err := Put(s, v, 100)
		if err != nil {
			t.Fatal(err)
		}
		l.cells, l.values = append(l.cells, cell), append(l.values, v)
	}
	return l
}

// rest is what a cursor at cell i offers a scan: the cells after it.
func (l *aheadLeaf) rest(i int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for _, c := range l.cells[i+1:] {
			if !yield(c) {
				return
			}
		}
	}
}

// read reads the value of cell i from what its slot holds, or from the
// pages when it holds nothing, and reports which.
func (l *aheadLeaf) read(t tb, i int, s *Slot) (ahead bool) {
	t.Helper()
	ahead, err := l.check(i, s)
	if err != nil {
		t.Fatal(err)
	}
	return ahead
}

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// check is read reporting a wrong value as an error, for goroutines.
func (l *aheadLeaf) check(i int, s *Slot) (ahead bool, err error) {
	var rd *Reader
	if v, ok := s.Take(); ok {
		var fits bool
		if rd, fits, err = NewReaderOver(l.r, l.cells[i], v); !fits && err == nil {
			return true, fmt.Errorf("value %d: read ahead as %d bytes, want %d", i, len(*v), len(l.values[i]))
		}
		ahead = true
	} else {
		rd, err = NewReader(l.r, l.cells[i])
	}
	if err != nil {
		return ahead, fmt.Errorf("value %d: %w", i, err)
	}
	got, err := io.ReadAll(rd)
	if err != nil || !bytes.Equal(got, l.values[i]) {
		return ahead, fmt.Errorf("value %d: %d bytes, equal %v, err %v", i, len(got), bytes.Equal(got, l.values[i]), err)
	}
	return ahead, nil
}

// settle waits until no value of a is being decrypted or waits to be.
func settle(t testing.TB, a *Ahead) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range a.queue {
		for st := s.state.Load(); st == slotWaiting || st == slotReading; st = s.state.Load() {
			if time.Now().After(deadline) {
				t.Fatal("the read-ahead goroutine never ran")
			}
			runtime.Gosched()
		}
	}
}

// TestAheadReadsLaterValuesOnceTheFirstIsTaken: nothing is read ahead
// before the reader takes a value; once it has, the values after it are
// decrypted by the goroutine, handed over whole, and no page is read twice.
func TestAheadReadsLaterValuesOnceTheFirstIsTaken(t *testing.T) {
	sizes := []int{5000, 50, 7000, 3000, 60, 9000, 4000}
	l := newAheadLeaf(t, sizes)
	a := NewAhead(l.r)
	defer a.Close()
	if s := a.Next(l.cells[1], l.rest(1)); s != nil {
		t.Fatalf("inline cell got a slot")
	}
	s0 := a.Next(l.cells[0], l.rest(0))
	if len(a.queue) != 0 || l.r.pages.Load() != 0 {
		t.Fatalf("read ahead before any value was taken: %d queued, %d pages", len(a.queue), l.r.pages.Load())
	}
	if l.read(t, 0, s0) {
		t.Fatal("the first value came from the read-ahead")
	}
	readAlone := l.r.pages.Load()
	var want int64
	for i, n := range sizes {
		if l.cells[i][0] != TagInline {
			want += pagesOf(n)
		}
	}
	for i := 2; i < len(sizes); i++ {
		s := a.Next(l.cells[i], l.rest(i))
		if l.cells[i][0] == TagInline {
			continue
		}
		if i == 2 {
			settle(t, a) // everything after value 2 is now read ahead
		}
		if ahead := l.read(t, i, s); !ahead && i > 2 {
			t.Errorf("value %d was not read ahead", i)
		}
	}
	if got := l.r.pages.Load(); got != want {
		t.Fatalf("read %d pages (%d for the first value), want each of the %d once", got, readAlone, want)
	}
}

func pagesOf(n int) int64 {
	return geometry{payload: payload1K, data: payload1K - headerSize}.pagesFor(int64(n))
}

// TestAheadIdleWhenValuesAreNotRead: a scan that does not read values
// (ids only) reads no page ahead, and one that stops reading them stops
// the read-ahead and drops what was queued.
func TestAheadIdleWhenValuesAreNotRead(t *testing.T) {
	sizes := []int{5000, 5000, 5000, 5000, 5000, 5000}
	l := newAheadLeaf(t, sizes)
	a := NewAhead(l.r)
	for i := range sizes {
		a.Next(l.cells[i], l.rest(i))
	}
	a.Close()
	if n := l.r.pages.Load(); n != 0 {
		t.Fatalf("a scan that read no value read %d pages", n)
	}

	a = NewAhead(l.r)
	defer a.Close()
	l.read(t, 0, a.Next(l.cells[0], l.rest(0)))
	s1 := a.Next(l.cells[1], l.rest(1)) // queues 2..5
	if len(a.queue) != 4 {
		t.Fatalf("%d values queued after the first was read, want 4", len(a.queue))
	}
	queued := append([]*Slot(nil), a.queue...)
	a.Next(l.cells[2], l.rest(2)) // value 1 passed by unread
	if len(a.queue) != 0 {
		t.Fatalf("%d values still queued after the reader passed one by", len(a.queue))
	}
	for i, s := range append(queued, s1) {
		if st := s.state.Load(); st != slotDropped {
			t.Errorf("slot %d in state %d, want dropped", i, st)
		}
	}
	if l.read(t, 1, s1) {
		t.Fatal("a dropped value was handed out")
	}
}

// TestAheadCloseStopsTheGoroutine: once Close returns, no page is read
// for the scan, a slot handed out before reads its value itself, and the
// scan's worker goroutine ends.
func TestAheadCloseStopsTheGoroutine(t *testing.T) {
	sizes := make([]int, 40)
	for i := range sizes {
		sizes[i] = 12000
	}
	l := newAheadLeaf(t, sizes)
	before := runtime.NumGoroutine()
	for range 20 {
		a := NewAhead(l.r)
		l.read(t, 0, a.Next(l.cells[0], l.rest(0)))
		s1 := a.Next(l.cells[1], l.rest(1))
		a.Close()
		before := l.r.pages.Load()
		time.Sleep(time.Millisecond)
		if after := l.r.pages.Load(); after != before {
			t.Fatalf("%d pages read after Close", after-before)
		}
		l.read(t, 1, s1)
	}
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still running after 20 closed scans, %d before", runtime.NumGoroutine(), before)
		}
	}
}

// TestAheadDamagedValueFailsAsWithout: a value whose page is damaged is
// not handed out from the read-ahead; its reader meets the damage itself,
// as it would without read-ahead.
func TestAheadDamagedValueFailsAsWithout(t *testing.T) {
	l := newAheadLeaf(t, []int{5000, 5000, 5000})
	_, c, _, _ := decodeCell(l.cells[2])
	rewritePage(t, l.r.s, c.first+2, func(p []byte) { p[headerSize+7] ^= 1; p[0] = 0xee })
	a := NewAhead(l.r)
	defer a.Close()
	l.read(t, 0, a.Next(l.cells[0], l.rest(0)))
	l.read(t, 1, a.Next(l.cells[1], l.rest(1)))
	s2 := a.Next(l.cells[2], l.rest(2))
	if v, ok := s2.Take(); ok {
		t.Fatalf("damaged value handed out (%d bytes)", len(*v))
	}
	rd, err := NewReader(l.r, l.cells[2])
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rd)
	wantPageError(t, "reading the damaged value", err, c.first+2)
}

// TestRapidAhead scans random leaves of inline, chain and too-large
// values, reading each value (or not) at its step, after the scan, or on
// another goroutine, through Take with Read, ReadAt and Seek: every value
// read is right, and once Close returns no page is read for the scan.
func TestRapidAhead(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sizes := rapid.SliceOfN(rapid.OneOf(
			rapid.IntRange(0, 150),
			rapid.IntRange(101, 20000),
			rapid.IntRange(aheadValueMax-2000, aheadValueMax+2000),
		), 1, 30).Draw(t, "sizes")
		l := newAheadLeaf(t, sizes)
		a := NewAhead(l.r)
		var later []int
		slots := make([]*Slot, len(sizes))
		var wg sync.WaitGroup
		errc := make(chan error, len(sizes))
		for i := range sizes {
			slots[i] = a.Next(l.cells[i], l.rest(i))
			switch rapid.IntRange(0, 5).Draw(t, "how") {
			case 0: // skip it
			case 1:
				later = append(later, i)
			case 2:
				wg.Go(func() {
					if _, err := l.check(i, slots[i]); err != nil {
						errc <- err
					}
				})
			case 3:
				l.readMoving(t, i, slots[i], rapid.Int64Range(0, int64(sizes[i])).Draw(t, "at"))
			default:
				l.read(t, i, slots[i])
			}
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		a.Close()
		before := l.r.pages.Load()
		var want int64
		for _, i := range later {
			if l.read(t, i, slots[i]) {
				t.Fatalf("value %d, read after Close, came from the read-ahead", i)
			}
			if l.cells[i][0] != TagInline {
				want += pagesOf(sizes[i])
			}
		}
		if got := l.r.pages.Load() - before; got != want {
			t.Fatalf("%d pages read after Close, want the %d of the values read then", got, want)
		}
	})
}

// readMoving reads value i from its slot in three moves: the part before
// at with ReadAt, then Read from at after a Seek, then the whole value
// again from the start.
func (l *aheadLeaf) readMoving(t tb, i int, s *Slot, at int64) {
	t.Helper()
	var rd *Reader
	var err error
	if v, ok := s.Take(); ok {
		rd, _, err = NewReaderOver(l.r, l.cells[i], v)
	} else {
		rd, err = NewReader(l.r, l.cells[i])
	}
	if err != nil {
		t.Fatal(err)
	}
	want := l.values[i]
	head := make([]byte, at)
	if n, err := rd.ReadAt(head, 0); int64(n) != at || (err != nil && err != io.EOF) || !bytes.Equal(head, want[:at]) {
		t.Fatalf("value %d: ReadAt of %d bytes: %d, %v", i, at, n, err)
	}
	if _, err := rd.Seek(at, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(rd)
	if err != nil || !bytes.Equal(tail, want[at:]) {
		t.Fatalf("value %d: read from %d: %d bytes, %v", i, at, len(tail), err)
	}
	if _, err := rd.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if all, err := io.ReadAll(rd); err != nil || !bytes.Equal(all, want) {
		t.Fatalf("value %d: read again: %d bytes, %v", i, len(all), err)
	}
}

// TestAheadMemoryBound: with values just under aheadValueMax, where a
// batch that took one value too many would overshoot most, an Ahead holds
// no more than ahead.go says: 1.5·aheadBatchBytes+aheadValueMax bytes of
// values, the slot handed out last included, in buffers at most twice
// their size.
func TestAheadMemoryBound(t *testing.T) {
	sizes := make([]int, 10)
	for i := range sizes {
		sizes[i] = aheadValueMax - 1000
	}
	l := newAheadLeaf(t, sizes)
	a := NewAhead(l.r)
	defer a.Close()
	l.read(t, 0, a.Next(l.cells[0], l.rest(0)))
	l.read(t, 1, a.Next(l.cells[1], l.rest(1))) // queues 2, 3, 4
	settle(t, a)
	s2 := a.Next(l.cells[2], l.rest(2)) // dequeues 2, queues 5, 6, 7
	settle(t, a)
	var queued, held int
	for _, s := range a.queue {
		if s.Ready() {
			queued += len(*s.val)
			if c := cap(*s.val); c > 2*len(*s.val) {
				t.Errorf("a value of %d bytes read ahead into %d", len(*s.val), c)
			}
		}
	}
	held = queued
	if s2.Ready() {
		held += len(*s2.val)
	}
	if queued > 3*aheadBatchBytes/2 {
		t.Errorf("%d bytes of queued values decrypted, want at most 1.5·aheadBatchBytes = %d", queued, 3*aheadBatchBytes/2)
	}
	if held > 3*aheadBatchBytes/2+aheadValueMax {
		t.Errorf("the Ahead holds %d bytes decrypted ahead, want at most 1.5·aheadBatchBytes+aheadValueMax = %d", held, 3*aheadBatchBytes/2+aheadValueMax)
	}
}
