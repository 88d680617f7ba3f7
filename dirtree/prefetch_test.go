package dirtree

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// stallReader is a pager.Reader with ReadRefs whose first read on a prefetch
// goroutine (the one a batch starts) stalls until the cursor reads a later
// leaf itself, or until a deadline. It tells who reads by the call stack.
type stallReader struct {
	syncReader
	mu        sync.Mutex
	order     map[uint64]int // leaf page -> position in key order
	lastPage  uint64         // a stall on this page (the last leaf) cannot be released
	stalled   chan struct{}  // closed by the cursor's read of a later leaf; nil when nobody stalls
	stalledAt int            // the stalled leaf's position
	stalls    int            // reads that stalled (at most one)
	released  int            // stalls ended by the cursor reading a later leaf, before or during the stall
	cursorMax int            // the last position the cursor read
}

func (r *stallReader) ReadRefs(refs []pager.Ref, dst []byte, errv []error) {
	at := r.order[refs[0].Page]
	if onPrefetchGoroutine() {
		r.mu.Lock()
		var ch chan struct{}
		if r.stalls == 0 && refs[0].Page != r.lastPage {
			r.stalls = 1
			if r.cursorMax > at {
				r.released++ // the cursor already read a leaf after this one
			} else {
				ch = make(chan struct{})
				r.stalled, r.stalledAt = ch, at
			}
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
		r.cursorMax = max(r.cursorMax, at)
		if r.stalled != nil && at > r.stalledAt {
			close(r.stalled)
			r.stalled = nil
		}
		r.mu.Unlock()
	}
	readRefs(r, refs, dst, errv)
}

// syncReader serializes Page: memstore is not safe for concurrent use.
type syncReader struct {
	pager.Reader
	pageMu sync.Mutex
}

func (r *syncReader) Page(ref pager.Ref) ([]byte, error) {
	r.pageMu.Lock()
	defer r.pageMu.Unlock()
	return r.Reader.Page(ref)
}

// readRefs implements ReadRefs for the readers below with r.Page.
func readRefs(r pager.Reader, refs []pager.Ref, dst []byte, errv []error) {
	ps := r.PayloadSize()
	for i, ref := range refs {
		b, err := r.Page(ref)
		errv[i] = err
		copy(dst[i*ps:(i+1)*ps], b)
	}
}

// callStack is the calling goroutine's stack: the readers tell by it who
// reads, the cursor or a batch's goroutine.
func callStack() string {
	buf := make([]byte, 8192)
	return string(buf[:runtime.Stack(buf, false)])
}

func onPrefetchGoroutine() bool { return strings.Contains(callStack(), "(*fetchJob).run") }

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
	order := map[uint64]int{}
	for j := 0; j <= rp.n; j++ {
		c, _ := rp.child(j)
		order[c.Page] = j
	}
	for attempt := 0; attempt < 20; attempt++ {
		r := &stallReader{syncReader: syncReader{Reader: s}, lastPage: last.Page, order: order}
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
	syncReader
	cold atomic.Int64
}

func (r *coldReader) ReadRefs(refs []pager.Ref, dst []byte, errv []error) {
	if stack := callStack(); strings.Contains(stack, "(*prefetcher).leaf") && !strings.Contains(stack, "(*fetchJob)") {
		r.cold.Add(1)
	}
	readRefs(r, refs, dst, errv)
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
	r := &coldReader{syncReader: syncReader{Reader: s}}
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
	if n := r.cold.Load(); n != 1 {
		t.Fatalf("%d leaves read outside a read-ahead batch, want 1 (the first)", n)
	}
}

// twoFacedReader serves, for every read of page `of` after the first, the
// content of page alt: an attacker who swaps in another authentic version of
// a page between two reads of it (a cache eviction, then a changed file).
type twoFacedReader struct {
	pager.Reader
	of, alt uint64
	mu      sync.Mutex
	reads   int
}

func (r *twoFacedReader) Page(ref pager.Ref) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref.Page == r.of {
		if r.reads++; r.reads > 1 {
			ref.Page = r.alt
		}
	}
	return r.Reader.Page(ref)
}

func (r *twoFacedReader) ReadRefs(refs []pager.Ref, dst []byte, errv []error) {
	readRefs(r, refs, dst, errv)
}

// The read-ahead names the next parent's leaves from its own read of that
// parent, and the cursor reads the parent again when it gets there. If the
// two reads differ, the cursor returns the leaves its own frame names, not
// the ones the read-ahead decrypted.
func TestPrefetchFollowsTheCursorsOwnParent(t *testing.T) {
	s := memstore.New(1024)
	ref := func() pager.Ref {
		p, err := s.Alloc(1)
		if err != nil {
			t.Fatal(err)
		}
		return pager.Ref{Page: p, Gen: s.Gen()}
	}
	write := func(r pager.Ref, n *node) {
		b := make([]byte, s.PayloadSize())
		n.used = n.computeUsed()
		n.encode(b)
		if err := s.WritePage(r.Page, b); err != nil {
			t.Fatal(err)
		}
	}
	leaf := func(k, v string) pager.Ref {
		r := ref()
		write(r, &node{leaf: true, keys: [][]byte{[]byte(k)}, vals: [][]byte{[]byte(v)}})
		return r
	}
	l1, l2 := leaf("a", "1"), leaf("b", "2")
	l3, l4 := leaf("m", "old m"), leaf("p", "old p") // the first version of the second parent
	m3, m4 := leaf("n", "new n"), leaf("q", "new q") // the version the cursor reads
	p1, p2, p2b, root := ref(), ref(), ref(), ref()
	write(p1, &node{keys: [][]byte{[]byte("b")}, kids: []pager.Ref{l1, l2}})
	write(p2, &node{keys: [][]byte{[]byte("o")}, kids: []pager.Ref{l3, l4}})
	write(p2b, &node{keys: [][]byte{[]byte("o")}, kids: []pager.Ref{m3, m4}})
	write(root, &node{keys: [][]byte{[]byte("k")}, kids: []pager.Ref{p1, p2}})
	s.NextGen()

	r := &twoFacedReader{Reader: s, of: p2.Page, alt: p2b.Page}
	c := Open(r, root).Cursor()
	defer c.Close()
	var got []string
	for k, v, ok, err := c.First(); ok || err != nil; k, v, ok, err = c.Next() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(k)+"="+string(v))
	}
	if r.reads < 2 {
		t.Fatalf("the second parent was read %d times: the read-ahead did not read it ahead", r.reads)
	}
	if want := "[a=1 b=2 n=new n q=new q]"; fmt.Sprint(got) != want {
		t.Fatalf("scan returned %v, want %v: the leaves the cursor's own parent frame names", got, want)
	}
}

// slowReader makes every page read take a while.
type slowReader struct {
	pager.Reader
	mu    sync.Mutex
	reads int
}

func (r *slowReader) Page(ref pager.Ref) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads++

	return r.Reader.Page(ref)
}

func (r *slowReader) ReadRefs(refs []pager.Ref, dst []byte, errv []error) {
	time.Sleep(time.Duration(len(refs)) * 200 * time.Microsecond)
	readRefs(r, refs, dst, errv)
}

// Closing a cursor abandons the leaves nobody started to decrypt: it waits
// for the pages being read, not for the rest of the batch.
func TestPrefetchCloseAbandonsTheBatch(t *testing.T) {
	s, w := newStore(1024)
	for i := range 600 { // 200 leaves
		mustPut(t, w, []byte(fmt.Sprintf("key%04d", i)), make([]byte, 300))
	}
	root := commit(t, s, w).root
	r := &slowReader{Reader: s}
	c := Open(r, root).Cursor()
	_, _, ok, err := c.First()
	for i := 0; i < 8; i++ {
		if !ok || err != nil {
			t.Fatalf("step %d: ok %v, err %v", i, ok, err)
		}
		_, _, ok, err = c.Next()
	}
	r.mu.Lock()
	before := r.reads
	r.mu.Unlock()
	c.Close()
	// Each of the two batches' goroutines may finish the page it was reading
	// when we counted and one it claimed before Close abandoned the rest.
	if after := r.reads - before; after > 4 {
		t.Fatalf("Close waited for %d more pages to be decrypted, want at most 4", after)
	}
}

// batchReader is a syncReader with ReadRefs: trees on it read ahead.
type batchReader struct{ syncReader }

func (r *batchReader) ReadRefs(refs []pager.Ref, dst []byte, errv []error) {
	readRefs(r, refs, dst, errv)
}

func ownedValue(i int) []byte { return fmt.Appendf(make([]byte, 0, 1000), "value %04d%990d", i, 0) }

// TestCursorOwned: values in leaves the read-ahead decrypted are the
// cursor's own (a caller may change them, and nothing else sees it); a leaf
// read through the reader's Page (the first, or any in a writable tree) is
// not.
func TestCursorOwned(t *testing.T) {
	s, w := newStore(4056)
	for i := range 120 { // about 40 leaves
		mustPut(t, w, []byte(fmt.Sprintf("key%04d", i)), ownedValue(i))
	}
	owned := func(tr *Tree, change bool) (n int, firstOwned int) {
		c := tr.Cursor()
		defer c.Close()
		firstOwned = -1
		i := 0
		for k, v, ok, err := c.First(); ; k, v, ok, err = c.Next() {
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return n, firstOwned
			}
			if !bytes.Equal(v, ownedValue(i)) || string(k) != fmt.Sprintf("key%04d", i) {
				t.Fatalf("record %d: %q = %.20q..., want %.20q...", i, k, v, ownedValue(i))
			}
			if c.Owned() {
				if firstOwned < 0 {
					firstOwned = i
				}
				n++
				if change {
					copy(v, "XXXXXXXXXX")
				}
			} else if firstOwned >= 0 {
				t.Fatalf("record %d not owned after record %d was: a read-ahead leaf given up mid-scan", i, firstOwned)
			}
			i++
		}
	}
	if n, _ := owned(w, false); n != 0 {
		t.Fatalf("a writable tree's cursor owned %d values: its leaves are the tree's own", n)
	}
	root, err := w.Flush()
	if err != nil {
		t.Fatal(err)
	}
	s.NextGen()
	if n, _ := owned(Open(&syncReader{Reader: s}, root), false); n != 0 {
		t.Fatalf("a cursor without read-ahead owned %d values", n)
	}
	tr := Open(&batchReader{syncReader{Reader: s}}, root)
	n, first := owned(tr, true)
	if n == 0 || first == 0 || n != 120-first {
		t.Fatalf("owned %d values from record %d on; want every one after the first leaf", n, first)
	}
	owned(tr, false) // the change above reached no page a later scan reads
}
