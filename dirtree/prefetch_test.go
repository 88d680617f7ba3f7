package dirtree

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamcrypt/scdb/pager"
)

// stallReader is a pager.Reader with ReadRefs whose first read on a prefetch
// goroutine (the one a batch starts) stalls until the cursor reads a page of
// its own, or until a deadline. It tells who reads by the call stack.
type stallReader struct {
	pager.Reader
	pageMu   sync.Mutex
	mu       sync.Mutex
	stalled  chan struct{} // closed by the cursor's next read; nil when nobody stalls
	stalls   int           // reads that stalled
	released int           // stalled reads released by a cursor read
	lastPage uint64        // a stall on this page (the last leaf) cannot be released
}

func (r *stallReader) ReadRefs(refs []pager.Ref, dst []byte, errv []error) {
	if onPrefetchGoroutine() {
		r.mu.Lock()
		var ch chan struct{}
		if r.stalls == 0 && refs[0].Page != r.lastPage {
			ch = make(chan struct{})
			r.stalled, r.stalls = ch, 1
		}
		r.mu.Unlock()
		if ch != nil {
			select {
			case <-ch:
				r.mu.Lock()
				r.released++
				r.mu.Unlock()
			case <-time.After(2 * time.Second):
			}
		}
	} else {
		r.mu.Lock()
		if r.stalled != nil {
			close(r.stalled)
			r.stalled = nil
		}
		r.mu.Unlock()
	}
	ps := r.PayloadSize()
	for i, ref := range refs {
		b, err := r.Page(ref)
		errv[i] = err
		copy(dst[i*ps:(i+1)*ps], b)
	}
}

// Page serializes reads: memstore is not safe for concurrent use.
func (r *stallReader) Page(ref pager.Ref) ([]byte, error) {
	r.pageMu.Lock()
	defer r.pageMu.Unlock()
	return r.Reader.Page(ref)
}

func onPrefetchGoroutine() bool {
	buf := make([]byte, 4096)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), "(*fetchJob).run")
}

// A cursor that reaches a leaf its prefetch goroutine is still decrypting
// decrypts the leaves after it meanwhile, instead of waiting for the
// goroutine: here the goroutine's first read stalls until the cursor reads a
// page, which a cursor that only waits never does (the stall then ends at its
// 2 s deadline and the test fails).
func TestPrefetchCursorDecryptsWhileGoroutineDoes(t *testing.T) {
	s, w := newStore(4056)
	var want []string
	for i := range 120 { // about 40 leaves: one batch after the first leaf
		k := fmt.Sprintf("key%04d", i)
		mustPut(t, w, []byte(k), make([]byte, 1000))
		want = append(want, k)
	}
	root, err := w.Flush()
	if err != nil {
		t.Fatal(err)
	}
	s.NextGen()
	if d := depth(Open(s, root)); d != 2 {
		t.Fatalf("tree of depth %d, want a root over leaves", d)
	}
	b, err := s.Page(root)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := openRaw(root, b)
	if err != nil {
		t.Fatal(err)
	}
	last, err := rp.child(rp.n)
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 20; attempt++ {
		r := &stallReader{Reader: s, lastPage: last.Page}
		keys, _ := scan(t, Open(r, root))
		if len(keys) != len(want) {
			t.Fatalf("scan read %d keys, want %d", len(keys), len(want))
		}
		if r.stalls == 0 {
			continue // the cursor read every leaf before the goroutine ran
		}
		if r.released != 1 {
			t.Fatalf("the goroutine's stalled read was not released by a read of the cursor: it waited for the goroutine")
		}
		return
	}
	t.Skip("the prefetch goroutine never read a leaf in 20 scans")
}

// coldReader counts the leaves a cursor reads outside any read-ahead batch.
type coldReader struct {
	pager.Reader
	mu   sync.Mutex
	cold int
}

func (r *coldReader) ReadRefs(refs []pager.Ref, dst []byte, errv []error) {
	buf := make([]byte, 8192)
	stack := string(buf[:runtime.Stack(buf, false)])
	r.mu.Lock()
	defer r.mu.Unlock()
	if strings.Contains(stack, "(*prefetcher).leaf") && !strings.Contains(stack, "(*fetchJob)") {
		r.cold++
	}
	ps := r.PayloadSize()
	for i, ref := range refs {
		b, err := r.Reader.Page(ref)
		errv[i] = err
		copy(dst[i*ps:(i+1)*ps], b)
	}
}

func (r *coldReader) Page(ref pager.Ref) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Reader.Page(ref)
}

// The read-ahead names the leaves of the next parents before the cursor
// leaves the current one: a scan of a tree with many parents reads only
// its first leaf outside a batch.
func TestPrefetchCrossesParents(t *testing.T) {
	s, w := newStore(1024)
	for i := range 600 {
		mustPut(t, w, []byte(fmt.Sprintf("key%04d", i)), make([]byte, 300))
	}
	root, err := w.Flush()
	if err != nil {
		t.Fatal(err)
	}
	s.NextGen()
	if d := depth(Open(s, root)); d != 3 {
		t.Fatalf("tree of depth %d, want a root over parents of leaves", d)
	}
	r := &coldReader{Reader: s}
	c := Open(r, root).Cursor()
	defer c.Close()
	n := 0
	for _, _, ok, err := c.First(); ok || err != nil; _, _, ok, err = c.Next() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 600 {
		t.Fatalf("scan read %d keys, want 600", n)
	}
	if r.cold != 1 {
		t.Fatalf("%d leaves read outside a read-ahead batch, want 1 (the first)", r.cold)
	}
}
