package scdb_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamcrypt/scdb"
)

// TestShrinkForeignSnapshotAtCurrentGen: Shrink does nothing while another
// open of the file reads a snapshot of the current generation (the usual
// case: a reader that started after the last commit). It used to look for
// snapshot locks only below the current generation, moved the tail anyway
// (three commits) and gave nothing back: the moved pages stayed pending
// for that reader.
func TestShrinkForeignSnapshotAtCurrentGen(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024})
	want := fragment(t, db, 1500)
	r := mustOpen(t, dbPath(t, db), scdb.Options{Key: testKey, ReadOnly: true})
	defer mustClose(t, r)
	snap, err := r.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Generation() != db.Generation() {
		t.Fatalf("reader at %d, writer at %d", snap.Generation(), db.Generation())
	}
	size, gen := shrinkSize(t, db), db.Generation()
	if err := db.Shrink(); err != nil {
		t.Fatal(err)
	}
	gotSize, gotGen := shrinkSize(t, db), db.Generation()
	snap.Rollback()
	checkShrunk(t, db, want)
	if gotGen != gen {
		t.Fatalf("Shrink with another open's snapshot of the current generation: generation %d -> %d, file %d -> %d bytes "+
			"(doc: it does nothing while a snapshot is open in another process)", gen, gotGen, size, gotSize)
	}
}

// TestShrinkNeedsContiguousRuns: the free pages below the end are
// plentiful but single holes, and the live pages at the end are 4-page
// value chains, which must stay in one run (FORMAT.md §10.4.2.2) and so
// cannot move into single holes. Shrink used to fail with ErrNoRoom three
// times (a full scan each) and give nothing back; now a chain that finds
// no room stays, the file is cut after the last one, and what lies past it
// is given back.
func TestShrinkNeedsContiguousRuns(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024})
	one := make([]byte, 900)   // one chain page at 1 KiB pages
	four := make([]byte, 3500) // four chain pages
	for i := range one {
		one[i] = byte(i)
	}
	for i := range four {
		four[i] = byte(i * 7)
	}
	// 3000 one-page values, then 100 four-page values at the end.
	if err := db.Update(func(tx *scdb.Tx) error {
		for i := range 3000 {
			if err := tx.List("a").Put(fmt.Sprintf("%06d", i), one); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *scdb.Tx) error {
		for i := range 100 {
			if err := tx.List("b").Put(fmt.Sprintf("%06d", i), four); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Free every other one-page value: 1500 single-page holes below.
	if err := db.Update(func(tx *scdb.Tx) error {
		for i := 0; i < 3000; i += 2 {
			if err := tx.List("a").Delete(fmt.Sprintf("%06d", i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Let the frees become reusable, then look.
	if err := db.Update(func(*scdb.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	size := shrinkSize(t, db)
	if err := db.Shrink(); err != nil {
		t.Fatal(err)
	}
	after := shrinkSize(t, db)
	t.Logf("%d pages, %d free; file %d -> %d bytes", st.Pages, st.FreePages, size, after)
	// 400 pages of chains at the end, 1,500 free single pages below: the
	// chains stay, the free pages past them go.
	if after >= size {
		t.Fatalf("Shrink gave nothing back (%d bytes)", size)
	}
	want := map[string][]byte{}
	for i := 1; i < 3000; i += 2 {
		want[fmt.Sprintf("a/%06d", i)] = one
	}
	for i := range 100 {
		want[fmt.Sprintf("b/%06d", i)] = four
	}
	checkShrunk(t, db, want)
}

// countingFile is a pager.File over an OS file that counts bytes written.
type countingFile struct {
	*os.File
	written atomic.Int64
}

func (f *countingFile) WriteAt(p []byte, off int64) (int, error) {
	f.written.Add(int64(len(p)))
	return f.File.WriteAt(p, off)
}

func (f *countingFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// bigAtEnd makes a file (4 KiB pages) whose end is a 40 MiB value chain,
// with a 40 MiB free hole below it (a deleted value of the same size).
func bigAtEnd(t *testing.T, keepFree bool) (*scdb.DB, *countingFile, []byte) {
	t.Helper()
	if testing.Short() {
		t.Skip("writes and reads some 200 MiB (slow under an emulated CPU)")
	}
	osf, err := os.Create(filepath.Join(t.TempDir(), "db.scdb"))
	if err != nil {
		t.Fatal(err)
	}
	f := &countingFile{File: osf}
	db, err := scdb.CreateFile(f, scdb.Options{Key: testKey, NoSync: true, KeepFreeSpace: keepFree})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 40<<20)
	for i := range big {
		big[i] = byte(i >> 12)
	}
	// x becomes the hole below, with room for the pages rewritten beside
	// the value; y is the value at the end of the file.
	mustPut(t, db, "l", "x", append(big, make([]byte, 64<<10)...))
	mustPut(t, db, "l", "y", big)
	if err := db.Delete("l", "x"); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(*scdb.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	f.written.Store(0)
	return db, f, big
}

// TestShrinkMoveBound: a 40 MiB value at the end of the file, a hole a
// little larger below it. One Shrink copies the value into the hole (within
// its 64 MiB of values) and gives the end back. It used to copy the value
// three times, fail for want of room each time (it had kept room only for
// the value's pages past the limit) and give nothing back.
func TestShrinkMoveBound(t *testing.T) {
	db, f, big := bigAtEnd(t, true)
	defer db.Close()
	size, _ := f.Size()
	if err := db.Shrink(); err != nil {
		t.Fatal(err)
	}
	mustGetValue(t, db, "l", "y", big)
	after, _ := f.Size()
	if w := f.written.Load(); w > 42<<20 || after > size-39<<20 {
		t.Fatalf("one Shrink wrote %d MiB and gave back %d of %d MiB", w>>20, (size-after)>>20, size>>20)
	}
}

// TestCloseRewritesBigValue: the same file at Close (half of it free, so
// Close shrinks): one copy of the value, and the end given back. It used to
// write three copies, give nothing back and do it again at every Close.
func TestCloseRewritesBigValue(t *testing.T) {
	db, f, _ := bigAtEnd(t, false)
	size, _ := f.Size()
	path := f.Name()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if w := f.written.Load(); w > 42<<20 || fi.Size() > size-39<<20 {
		t.Fatalf("Close wrote %d MiB and the file went from %d to %d MiB", w>>20, size>>20, fi.Size()>>20)
	}
}

// TestCloseConcurrentAndInsideView: two Closes racing on a file that
// Close shrinks, and a Close called inside View (the goroutine holds a
// read snapshot, so Close must not shrink and must not deadlock): no
// deadlock, one Close returns nil and the other ErrClosed, and the file
// reopens whole.
func TestCloseConcurrentAndInsideView(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024})
	want := fragment(t, db, 3000)
	path := dbPath(t, db)
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- db.Close() }()
	}
	var nils, closed int
	for range 2 {
		select {
		case err := <-errs:
			switch {
			case err == nil:
				nils++
			case errors.Is(err, scdb.ErrClosed):
				closed++
			default:
				t.Fatalf("Close: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("concurrent Closes deadlocked")
		}
	}
	if nils != 1 || closed != 1 {
		t.Fatalf("%d Closes returned nil, %d ErrClosed", nils, closed)
	}
	db = mustOpen(t, path, scdb.Options{Key: testKey})
	checkShrunk(t, db, want)
	gen := db.Generation()
	done := make(chan error, 1)
	go func() {
		done <- db.View(func(*scdb.Tx) error { return db.Close() })
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close inside View: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close inside View deadlocked")
	}
	db = mustOpen(t, path, scdb.Options{Key: testKey, KeepFreeSpace: true})
	defer mustClose(t, db)
	if db.Generation() != gen {
		t.Fatalf("Close inside View committed: generation %d -> %d", gen, db.Generation())
	}
	checkShrunk(t, db, want)
}

// TestShrinkKeptSequence: directory entries kept only for their
// Append sequence (zero root) survive a Shrink that rewrites the directory
// leaves around them, and Append goes on from where it was.
func TestShrinkKeptSequence(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024})
	want := fragment(t, db, 1500)
	var last []string
	if err := db.Update(func(tx *scdb.Tx) error {
		for i := range 50 {
			l := tx.List(fmt.Sprintf("seq%03d", i))
			id, err := l.Append(make([]byte, 700))
			if err != nil {
				return err
			}
			last = append(last, id)
			if err := l.Delete(id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Shrink(); err != nil {
		t.Fatal(err)
	}
	checkShrunk(t, db, want)
	if err := db.Update(func(tx *scdb.Tx) error {
		for i := range 50 {
			id, err := tx.List(fmt.Sprintf("seq%03d", i)).Append([]byte("x"))
			if err != nil {
				return err
			}
			if id <= last[i] {
				return fmt.Errorf("seq%03d: Append gave %s after %s", i, id, last[i])
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestShrinkWriteBehind: Shrink with write-behind on (no NoSync:
// newDB's files have it off), many lists, so that list trees' relocations
// push the directory leaves Relocate changed out of the write-behind window
// (written early, then changed again: own must move them). Check must find
// nothing and every record must read back.
func TestShrinkWriteBehind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wb.scdb")
	db, err := scdb.Create(path, scdb.Options{Key: testKey, PageSize: 1024, KeepFreeSpace: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string][]byte{}
	val := func(i, n int) []byte {
		v := make([]byte, n)
		for j := range v {
			v[j] = byte(i*31 + j)
		}
		return v
	}
	lists, per := 300, 40
	if testing.Short() {
		lists = 100 // still more leaves than the write-behind window
	}
	if err := db.Update(func(tx *scdb.Tx) error {
		for i := range lists * per {
			name, id := fmt.Sprintf("list%04d", i%lists), fmt.Sprintf("id%06d", i)
			v := val(i, []int{30, 200, 1500}[i%3])
			if err := tx.List(name).Put(id, v); err != nil {
				return err
			}
			want[name+"/"+id] = v
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *scdb.Tx) error {
		for i := range lists * per {
			if i%4 == 3 {
				continue
			}
			name, id := fmt.Sprintf("list%04d", i%lists), fmt.Sprintf("id%06d", i)
			if err := tx.List(name).Delete(id); err != nil {
				return err
			}
			delete(want, name+"/"+id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Shrink(); err != nil {
		t.Fatal(err)
	}
	after, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pages (%d free) -> %d pages (%d free)", before.Pages, before.FreePages, after.Pages, after.FreePages)
	if after.Pages >= before.Pages {
		t.Fatalf("nothing given back")
	}
	checkShrunk(t, db, want)
}

// TestShrinkNeverGrowsTheFile: Shrink leaves the file no longer than it
// found it, and a Shrink with nothing to give back commits nothing. The
// file: 1 KiB pages, some 1,400 single free holes, a 21-page value no hole
// can take, and a 16-page freelist checkpoint at the end (an ordinary
// commit grows one there when no free run holds it). Shrink's first commit
// moves the checkpoint into holes; its second gives the free end back and
// used to allocate its own checkpoint, one page longer, as a block grown at
// the new end: 3447 -> 3448 pages, and every later Shrink moved that
// checkpoint down and back, three commits for nothing. A commit that gives
// the end back now puts its checkpoint in single holes
// (freelist.allocCheckpoint).
func TestShrinkNeverGrowsTheFile(t *testing.T) {
	const h = 3200
	db := newDB(t, scdb.Options{PageSize: 1024, KeepFreeSpace: true})
	update := func(fn func(tx *scdb.Tx) error) {
		t.Helper()
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]byte{}
	one := make([]byte, 900) // one chain page at 1 KiB pages
	update(func(tx *scdb.Tx) error {
		for i := range h {
			if err := tx.List("a").Put(fmt.Sprintf("%06d", i), one); err != nil {
				return err
			}
			want[fmt.Sprintf("a/%06d", i)] = one
		}
		return nil
	})
	del := func(tx *scdb.Tx, i int) error {
		delete(want, fmt.Sprintf("a/%06d", i))
		return tx.List("a").Delete(fmt.Sprintf("%06d", i))
	}
	// Single-page holes in the first half.
	update(func(tx *scdb.Tx) error {
		for i := 0; i < h/2; i += 2 {
			if err := del(tx, i); err != nil {
				return err
			}
		}
		return nil
	})
	update(func(*scdb.Tx) error { return nil })
	update(func(*scdb.Tx) error { return nil })
	// A 21-page value that finds no run below, and a 4-page one after it.
	x := make([]byte, 20000)
	for i := range x {
		x[i] = byte(i)
	}
	update(func(tx *scdb.Tx) error {
		if err := tx.List("0").Put("x", x); err != nil {
			return err
		}
		return tx.List("0").Put("y", make([]byte, 3500))
	})
	want["0/x"] = x
	// More holes, a commit at a time; the last drops y.
	for lo := h / 2; lo < h/2+140*8; lo += 140 {
		update(func(tx *scdb.Tx) error {
			for i := lo; i < lo+140; i += 2 {
				if err := del(tx, i); err != nil {
					return err
				}
			}
			if lo+140 >= h/2+140*8 {
				return tx.List("0").Delete("y")
			}
			return nil
		})
	}
	checkShrunk(t, db, want)
	before, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	size := shrinkSize(t, db)
	if err := db.Shrink(); err != nil {
		t.Fatal(err)
	}
	after, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	checkShrunk(t, db, want)
	t.Logf("Shrink: %d pages (%d free, %d bytes) -> %d pages (%d free, %d bytes), generation %d -> %d",
		before.Pages, before.FreePages, size, after.Pages, after.FreePages, shrinkSize(t, db), before.Generation, after.Generation)
	if after.Pages > before.Pages || shrinkSize(t, db) > size {
		t.Errorf("Shrink made the file bigger: %d -> %d pages, %d -> %d bytes", before.Pages, after.Pages, size, shrinkSize(t, db))
	}
	// Shrink again: it gives nothing back, yet commits three times, every time.
	for range 3 {
		gen, pages := db.Generation(), after.Pages
		if err := db.Shrink(); err != nil {
			t.Fatal(err)
		}
		if after, err = db.Stats(); err != nil {
			t.Fatal(err)
		}
		if after.Pages >= pages && db.Generation() != gen {
			t.Errorf("a later Shrink committed %d times (generation %d -> %d) and gave nothing back (%d -> %d pages)",
				db.Generation()-gen, gen, db.Generation(), pages, after.Pages)
		}
	}
	checkShrunk(t, db, want)
}
