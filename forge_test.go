package scdb_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/internal/forge"
	"github.com/streamcrypt/scdb/internal/testhook"
)

// This file holds what the forged-page tests share: a small file built with
// a known key (hostileBase), a map of its pages, and hostileRun, which drives
// every entry point over a forged copy of it and judges the outcome.

var hostileKey = bytes.Repeat([]byte{0x4b}, 32)

const hostilePageSize = 1024

// hostileFile is the base file and what is known about it.
type hostileFile struct {
	image []byte
	pages []hostilePage       // by page number; page 0 is the header
	ids   map[string][]string // list -> ids it holds at the last commit
	gen   uint64              // last commit
	count uint64              // its page count
}

// hostilePage is one page of the base file as the forger sees it.
type hostilePage struct {
	typ byte   // payload byte 0; 0 for the header and for pages that open at no generation
	gen uint64 // generation it opens at
	ok  bool   // it opens
}

var (
	hostileOnce sync.Once
	hostileBase hostileFile
	hostileErr  error
)

// hostileFixture returns the base file, built once per test binary from a
// fixed random source, so its layout (and the page numbers the seed corpus
// names) is the same on every run: lists "a" (150 inline records, so its
// tree has branch nodes at 1 KiB pages), "b" (chained values, one streamed
// into two runs), "c", a kept Append sequence "s", and a freelist of several
// runs left by deletes.
func hostileFixture(tb testing.TB) *hostileFile {
	tb.Helper()
	hostileOnce.Do(func() { hostileErr = buildHostile(&hostileBase) })
	if hostileErr != nil {
		tb.Fatalf("building the forged-page base file: %v", hostileErr)
	}
	return &hostileBase
}

func buildHostile(h *hostileFile) error {
	testhook.Rand = mrand.NewChaCha8([32]byte{'h', 'o', 's', 't', 'i', 'l', 'e'})
	defer func() { testhook.Rand = nil }()
	f := faultfile.New(nil)
	db, err := scdb.CreateFile(f, scdb.Options{Key: hostileKey, PageSize: hostilePageSize})
	if err != nil {
		return err
	}
	defer db.Close()
	steps := []func(tx *scdb.Tx) error{
		func(tx *scdb.Tx) error {
			if err := putMany(tx.List("a"), "a", 150, 90); err != nil {
				return err
			}
			b := tx.List("b")
			for i, size := range []int{2000, 5000, 100, 2500} {
				if err := b.Put(fmt.Sprintf("b%d", i), fill(size, uint64(i))); err != nil {
					return err
				}
			}
			if err := b.PutReader("streamed", bytes.NewReader(fill(16*960+100, 9))); err != nil {
				return err
			}
			return putMany(tx.List("c"), "c", 5, 40)
		},
		func(tx *scdb.Tx) error {
			for i := 0; i < 150; i += 3 {
				if err := tx.List("a").Delete(fmt.Sprintf("a%04d", i)); err != nil {
					return err
				}
			}
			if err := tx.List("b").Delete("b0"); err != nil {
				return err
			}
			return tx.List("b").Put("b1", fill(10, 1))
		},
		func(tx *scdb.Tx) error {
			id, err := tx.List("s").Append([]byte("x"))
			if err != nil {
				return err
			}
			return tx.List("s").Delete(id)
		},
		func(tx *scdb.Tx) error { return tx.List("c").Put("last", []byte("commit")) },
	}
	for _, step := range steps {
		if err := db.Update(step); err != nil {
			return err
		}
	}
	if _, err := db.Check(); err != nil {
		return err
	}
	h.ids = map[string][]string{}
	for _, name := range []string{"a", "b", "c"} {
		for rec, err := range db.Records(name) {
			if err != nil {
				return err
			}
			h.ids[name] = append(h.ids[name], rec.ID())
		}
	}
	st, err := db.Stats()
	if err != nil {
		return err
	}
	if st.FreePages < 4 {
		return fmt.Errorf("base file has %d free pages, want a freelist with runs", st.FreePages)
	}
	h.gen, h.count = st.Generation, st.Pages
	if err := db.Close(); err != nil {
		return err
	}
	h.image = f.Bytes()
	fg, err := forge.Open(bytes.Clone(h.image), hostileKey)
	if err != nil {
		return err
	}
	h.pages = make([]hostilePage, fg.Pages())
	for pg := uint64(1); pg < fg.Pages(); pg++ {
		if p, gen, err := fg.Find(pg); err == nil {
			h.pages[pg] = hostilePage{typ: p[0], gen: gen, ok: true}
		}
	}
	return nil
}

// pagesOfType lists the pages of the base whose payload has type typ.
func (h *hostileFile) pagesOfType(typ byte) []uint64 {
	var out []uint64
	for pg, p := range h.pages {
		if p.ok && p.typ == typ {
			out = append(out, uint64(pg))
		}
	}
	return out
}

// forged returns a copy of the base image with page pg's payload changed by
// edit and resealed at its generation.
func (h *hostileFile) forged(tb testing.TB, pg uint64, edit func(p []byte)) []byte {
	tb.Helper()
	fg, err := forge.Open(bytes.Clone(h.image), hostileKey)
	if err != nil {
		tb.Fatal(err)
	}
	if err := fg.Edit(pg, edit); err != nil {
		tb.Fatal(err)
	}
	return fg.Image
}

// hostileResult is what hostileRun saw.
type hostileResult struct {
	readErrs []error // errors from reads of the forged file (Open included)
	checkErr error   // Check's verdict on the forged file
	checkRep *scdb.CheckReport
	openErr  error // the writable Open
	writeErr error // Put/Delete/DeleteList then Commit
}

// namesPage reports whether an error or a problem Check found names a page.
func (r *hostileResult) namesPage() bool {
	var pe *scdb.CorruptPageError
	for _, err := range append(r.readErrs, r.checkErr, r.openErr, r.writeErr) {
		if errors.As(err, &pe) {
			return true
		}
	}
	return r.checkRep != nil && slices.ContainsFunc(r.checkRep.Problems, func(p scdb.Problem) bool { return p.Page != 0 })
}

// corrupt reports whether any step named the file corrupt.
func (r *hostileResult) corrupt() bool {
	for _, err := range append(r.readErrs, r.checkErr, r.openErr, r.writeErr) {
		if errors.Is(err, scdb.ErrCorrupt) {
			return true
		}
	}
	return false
}

// hostileBudget bounds what one run over a forged 60 KiB file may allocate
// in all: a lying count that sizes an allocation shows up as a failure here
// long before it exhausts the machine.
const hostileBudget = 256 << 20

// hostileRun drives every entry point over img and fails t on a panic, a
// hang, an untyped error, an allocation past hostileBudget, a Check that
// passes although a read failed, or a write on a file Check passed that
// does not read back.
func hostileRun(t *testing.T, img []byte) hostileResult {
	t.Helper()
	var res hostileResult
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	withDeadline(t, 10*time.Second, func() { res = hostileDrive(t, img) })
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > hostileBudget {
		t.Errorf("allocated %d MiB over a %d KiB file", d>>20, len(img)>>10)
	}
	return res
}

// hostileDrive is hostileRun's body; it reports with t.Errorf only (it runs
// on a goroutine of its own).
func hostileDrive(t *testing.T, img []byte) hostileResult {
	var res hostileResult
	defer func() {
		if p := recover(); p != nil {
			buf := make([]byte, 64<<10)
			t.Errorf("panic: %v\n%s", p, buf[:runtime.Stack(buf, false)])
		}
	}()
	typed := func(what string, err error) error {
		if err != nil && !typedErr(err) {
			t.Errorf("%s: an error that is none of scdb's sentinels: %v", what, err)
		}
		return err
	}
	read := func(what string, err error) {
		if typed(what, err) != nil && !errors.Is(err, scdb.ErrNotFound) {
			res.readErrs = append(res.readErrs, fmt.Errorf("%s: %w", what, err))
		}
	}
	ro, err := scdb.OpenFile(faultfile.New(img), scdb.Options{Key: hostileKey, ReadOnly: true, CacheSize: 1 << 16})
	if err != nil {
		read("Open", err)
		res.checkErr = err
	} else {
		hostileReads(ro, read)
		res.checkRep, res.checkErr = ro.Check()
		typed("Check", res.checkErr)
		if res.checkErr == nil && len(res.checkRep.Problems) > 0 {
			t.Errorf("Check returned nil with problems %v", res.checkRep.Problems)
		}
		read("CopyTo", hostileCopy(ro))
		path := filepath.Join(t.TempDir(), "compact.scdb")
		if err := ro.CompactTo(path); err == nil {
			// A compacted copy is written by the healthy writer: it opens.
			c, err := scdb.Open(path, scdb.Options{Key: hostileKey, ReadOnly: true})
			if err != nil {
				t.Errorf("CompactTo succeeded but the copy does not open: %v", err)
			} else {
				c.Close()
			}
		} else {
			read("CompactTo", err)
		}
		os.Remove(path)
		ro.Close()
	}
	if res.checkErr == nil && len(res.readErrs) > 0 {
		t.Errorf("Check found nothing, but reads failed: %v", res.readErrs)
	}
	res.openErr, res.writeErr = hostileWrite(t, img, res.checkErr == nil, typed, read)
	return res
}

// hostileReads calls every read entry point of db.
func hostileReads(db *scdb.DB, read func(string, error)) {
	names, err := db.Lists()
	read("Lists", err)
	names = append(names, "a", "b", "c", "s")
	for _, name := range names {
		var ids []string
		for rec, err := range db.Records(name) {
			if err != nil {
				read("All", err)
				break
			}
			ids = append(ids, rec.ID())
			v, err := rec.Value()
			read("Value", err)
			n, err := io.Copy(io.Discard, rec.Reader())
			read("Reader", err)
			if err == nil && v != nil && n != int64(len(v)) {
				read("Reader", fmt.Errorf("%w: Reader gave %d bytes, Value %d", scdb.ErrCorrupt, n, len(v)))
			}
		}
		read("View", db.View(func(tx *scdb.Tx) error {
			l := tx.List(name)
			_, _ = l.Len(), l.Bytes()
			from := "a0100"
			if len(ids) > 0 {
				from = ids[len(ids)/2]
			}
			for rec, err := range l.From(from) {
				if err != nil {
					return err
				}
				if _, err := io.Copy(io.Discard, rec.Reader()); err != nil {
					return err
				}
			}
			for _, id := range append(ids[:min(len(ids), 3)], "a0100", "b1", "streamed", "zz") {
				if _, err := l.Get(id); err != nil && !errors.Is(err, scdb.ErrNotFound) {
					return err
				}
			}
			return nil
		}))
	}
	_, err = db.Stats()
	read("Stats", err)
}

// hostileCopy copies db into a new in-memory file.
func hostileCopy(db *scdb.DB) error {
	dst, err := scdb.CreateFile(faultfile.New(nil), scdb.Options{Key: hostileKey, PageSize: hostilePageSize})
	if err != nil {
		return err
	}
	defer dst.Close()
	return db.CopyTo(dst)
}

// hostileWrite opens img writable and changes it on top. When Check passed
// (healthy), the change must succeed and read back, and the result must
// pass Check; otherwise every error must be typed, and the result, reopened,
// must still give typed errors only.
func hostileWrite(t *testing.T, img []byte, healthy bool, typed func(string, error) error, read func(string, error)) (openErr, writeErr error) {
	f := faultfile.New(img)
	db, err := scdb.OpenFile(f, scdb.Options{Key: hostileKey, CacheSize: 1 << 16})
	if typed("Open writable", err) != nil {
		if healthy {
			t.Errorf("Check passed, but a writable Open fails: %v", err)
		}
		return err, nil
	}
	big := fill(3000, 77)
	writeErr = db.Update(func(tx *scdb.Tx) error {
		if err := tx.List("a").Put("new", []byte("inline")); err != nil {
			return err
		}
		if err := tx.List("b").Put("newbig", big); err != nil {
			return err
		}
		if err := tx.List("a").Delete("a0001"); err != nil && !errors.Is(err, scdb.ErrNotFound) {
			return err
		}
		if err := tx.List("b").Delete("streamed"); err != nil && !errors.Is(err, scdb.ErrNotFound) {
			return err
		}
		if err := tx.DeleteList("c"); err != nil && !errors.Is(err, scdb.ErrNotFound) {
			return err
		}
		return nil
	})
	typed("Update", writeErr)
	db.Close()
	if healthy && writeErr != nil {
		t.Errorf("Check passed, but a write on top fails: %v", writeErr)
	}
	if writeErr != nil {
		return nil, writeErr
	}
	after, err := scdb.OpenFile(faultfile.New(f.Bytes()), scdb.Options{Key: hostileKey, ReadOnly: true, CacheSize: 1 << 16})
	if typed("reopen after write", err) != nil {
		if healthy {
			t.Errorf("a write on a healthy file left it unopenable: %v", err)
		}
		return nil, nil
	}
	defer after.Close()
	if !healthy {
		hostileReads(after, func(what string, err error) { typed("after write: "+what, err) })
		_, err := after.Check()
		typed("after write: Check", err)
		return nil, nil
	}
	if v, err := after.Get("b", "newbig"); err != nil || !bytes.Equal(v, big) {
		t.Errorf("a write on a healthy file does not read back: %v", err)
	}
	if _, err := after.Check(); err != nil {
		t.Errorf("a write on a healthy file left it damaged: %v", err)
	}
	return nil, nil
}

func TestForgeRoundTrip(t *testing.T) {
	h := hostileFixture(t)
	if len(h.pagesOfType(2)) == 0 || len(h.pagesOfType(3)) == 0 || len(h.pagesOfType(5)) == 0 {
		t.Fatalf("base file lacks freelist, branch or chain pages: %+v", h.pages)
	}
	// Resealing a page unchanged keeps the file healthy; the forger's seal is
	// the real one.
	for _, pg := range []uint64{1, 2, h.pagesOfType(3)[0], h.pagesOfType(5)[0]} {
		img := h.forged(t, pg, func([]byte) {})
		if bytes.Equal(img, h.image) {
			t.Fatalf("page %d: reseal drew no fresh nonce", pg)
		}
		res := hostileRun(t, img)
		if res.corrupt() {
			t.Errorf("page %d resealed unchanged: %+v", pg, res)
		}
	}
}
