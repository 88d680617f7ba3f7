package scdb_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/streamcrypt/scdb"
)

// fragment fills db with records in three lists (values from a few bytes to
// three chain pages at 1 KiB pages), then deletes two thirds of them and
// rewrites some of the rest at other sizes, so that free pages are scattered
// through the file. It returns the records left.
func fragment(t *testing.T, db *scdb.DB, n int) map[string][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	want := map[string][]byte{}
	value := func() []byte {
		v := make([]byte, []int{20, 300, 900, 1500, 2900}[rng.IntN(5)]+rng.IntN(50))
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		return v
	}
	put := func(tx *scdb.Tx, list, id string) error {
		v := value()
		want[list+"/"+id] = v
		return tx.List(list).Put(id, v)
	}
	for lo := 0; lo < n; lo += 200 {
		err := db.Update(func(tx *scdb.Tx) error {
			for i := lo; i < min(lo+200, n); i++ {
				if err := put(tx, fmt.Sprint("list", i%3), fmt.Sprintf("id%06d", i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := db.Update(func(tx *scdb.Tx) error {
		for i := range n {
			list, id := fmt.Sprint("list", i%3), fmt.Sprintf("id%06d", i)
			switch i % 3 {
			case 0, 1:
				if err := tx.List(list).Delete(id); err != nil {
					return err
				}
				delete(want, list+"/"+id)
			default:
				if i%9 == 2 {
					if err := put(tx, list, id); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// checkShrunk reads every record of db and compares it with want, and runs
// Check: no problem, no page leaked.
func checkShrunk(t *testing.T, db *scdb.DB, want map[string][]byte) *scdb.CheckReport {
	t.Helper()
	got := 0
	err := db.View(func(tx *scdb.Tx) error {
		for name, err := range tx.Lists() {
			if err != nil {
				return err
			}
			for rec, err := range tx.List(name).All() {
				if err != nil {
					return err
				}
				v, err := rec.Value()
				if err != nil {
					return err
				}
				if w, ok := want[name+"/"+rec.ID()]; !ok || !bytes.Equal(v, w) {
					return fmt.Errorf("%s/%s: %d bytes, want %d (present %v)", name, rec.ID(), len(v), len(w), ok)
				}
				got++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Fatalf("%d records, want %d", got, len(want))
	}
	rep, err := db.Check()
	if err != nil || len(rep.Problems) > 0 || rep.LeakedPages != 0 {
		t.Fatalf("Check: %v, problems %v, %d pages leaked", err, rep.Problems, rep.LeakedPages)
	}
	return rep
}

func shrinkSize(t *testing.T, db *scdb.DB) int64 {
	t.Helper()
	fi, err := os.Stat(dbPath(t, db))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestShrink gives back the free pages of a fragmented file: the file ends
// up a few pages longer than what it holds, every record reads back the
// same, no page leaks, and a second Shrink finds nothing to do.
func TestShrink(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024})
	want := fragment(t, db, 3000)
	before := checkShrunk(t, db, want)
	size, gen := shrinkSize(t, db), db.Generation()
	if before.FreePages < before.PageCount/2 {
		t.Fatalf("only %d of %d pages free after deleting two thirds: the test does not fragment", before.FreePages, before.PageCount)
	}
	if err := db.Shrink(); err != nil {
		t.Fatal(err)
	}
	after := checkShrunk(t, db, want)
	if db.Generation() != gen+3 {
		t.Fatalf("generation %d after Shrink, want %d (three commits)", db.Generation(), gen+3)
	}
	used := before.PageCount - before.FreePages
	if after.PageCount > used+used/20 || shrinkSize(t, db) != int64(after.PageCount)*1024 {
		t.Fatalf("%d pages (%d bytes) after Shrink, %d in use; before %d pages, %d bytes",
			after.PageCount, shrinkSize(t, db), used, before.PageCount, size)
	}
	t.Logf("%d pages (%d free) -> %d pages (%d free)", before.PageCount, before.FreePages, after.PageCount, after.FreePages)
	gen = db.Generation()
	if err := db.Shrink(); err != nil {
		t.Fatal(err)
	}
	if g := db.Generation(); g != gen && g != gen+3 {
		t.Fatalf("generation %d after a second Shrink, want %d or %d", g, gen, gen+3)
	}
	reopen(t, &db)
	checkShrunk(t, db, want)
}

// TestShrinkWaitsForSnapshots: an open snapshot may read any page of the
// file as it was, so Shrink moves nothing while one is open.
func TestShrinkWaitsForSnapshots(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024})
	want := fragment(t, db, 1500)
	snap, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	size, gen := shrinkSize(t, db), db.Generation()
	if err := db.Shrink(); err != nil {
		t.Fatal(err)
	}
	if shrinkSize(t, db) != size || db.Generation() != gen {
		t.Fatalf("Shrink with a snapshot open: %d -> %d bytes, generation %d -> %d", size, shrinkSize(t, db), gen, db.Generation())
	}
	n := 0
	for _, err := range snap.List("list2").All() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	snap.Rollback()
	if err := db.Shrink(); err != nil {
		t.Fatal(err)
	}
	if shrinkSize(t, db) >= size {
		t.Fatalf("Shrink after the snapshot ended: %d -> %d bytes", size, shrinkSize(t, db))
	}
	checkShrunk(t, db, want)
}

// TestCloseShrinks: Close after a write gives back the free end of a file
// with at least 1/20 of it free, unless Options.KeepFreeSpace.
func TestCloseShrinks(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024, KeepFreeSpace: true})
	want := fragment(t, db, 3000)
	path, size := dbPath(t, db), shrinkSize(t, db)
	reopen(t, &db)
	if shrinkSize(t, db) != size {
		t.Fatalf("Close with KeepFreeSpace: %d -> %d bytes", size, shrinkSize(t, db))
	}
	mustClose(t, db)
	// Opened and closed without a write: the file is as it was.
	db = mustOpen(t, path, scdb.Options{Key: testKey})
	mustClose(t, db)
	if fi, err := os.Stat(path); err != nil || fi.Size() != size {
		t.Fatalf("Close without a write: %d -> %v bytes (%v)", size, fi.Size(), err)
	}
	db = mustOpen(t, path, scdb.Options{Key: testKey})
	mustPut(t, db, "list0", "one more", []byte("v"))
	want["list0/one more"] = []byte("v")
	mustClose(t, db)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > size/2 {
		t.Fatalf("Close of a file two thirds free: %d -> %d bytes", size, fi.Size())
	}
	db = mustOpen(t, path, scdb.Options{Key: testKey})
	defer mustClose(t, db)
	rep := checkShrunk(t, db, want)
	if int64(rep.PageCount)*1024 != fi.Size() {
		t.Fatalf("file of %d bytes holds %d pages of 1024", fi.Size(), rep.PageCount)
	}
}
