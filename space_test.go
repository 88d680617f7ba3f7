package scdb_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/streamcrypt/scdb"
)

// TestSpace loads 100,000 records of 100-byte values under 8-digit ids, in
// a random order, in Updates of 10,000: the file must stay under 3 times
// the raw bytes of ids and values. Then it rewrites every record five
// times with new values, in the same batches: replaced pages go back to
// the freelist and are reused, so the file must stay under 1.5 times its
// size after the first load.
func TestSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 600,000 records")
	}
	const (
		records   = 100_000
		valueSize = 100
		batch     = 10_000
		rewrites  = 5
		maxLoad   = 3.0 // file size / raw bytes after the load
		maxGrowth = 1.5 // file size after the rewrites / after the load
	)
	db := newDB(t)
	path := dbPath(t, db)
	rng := rand.New(rand.NewPCG(1, 2))
	order := rng.Perm(records)

	// load writes every record with values of the given version, in
	// batches, and returns the file size after the last commit.
	load := func(version int) int64 {
		t.Helper()
		for start := 0; start < records; start += batch {
			err := db.Update(func(tx *scdb.Tx) error {
				l := tx.List("space")
				for _, i := range order[start : start+batch] {
					if err := l.Put(fmt.Sprintf("%08d", i), fill(valueSize, uint64(version*records+i))); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		size := fileSize(t, path)
		rep, err := db.Check()
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if rep.LeakedPages != 0 {
			t.Errorf("version %d: %d pages leaked", version, rep.LeakedPages)
		}
		t.Logf("version %d: %d pages: %d in use, %d free", version, rep.PageCount, rep.Pages, rep.FreePages)
		return size
	}

	raw := int64(records * (8 + valueSize))
	loaded := load(0)
	ratio := float64(loaded) / float64(raw)
	t.Logf("after the load: file %d bytes for %d raw bytes of ids and values: %.2fx (bound %.1fx)", loaded, raw, ratio, maxLoad)
	loadOK := ratio < maxLoad

	largest := loaded
	for v := 1; v <= rewrites; v++ {
		order = rng.Perm(records)
		size := load(v)
		largest = max(largest, size)
		t.Logf("after rewrite %d: file %d bytes, %.2fx the loaded size", v, size, float64(size)/float64(loaded))
	}
	growth := float64(largest) / float64(loaded)
	t.Logf("largest file over %d rewrites: %.2fx the loaded size (bound %.1fx)", rewrites, growth, maxGrowth)
	if growth >= maxGrowth {
		t.Errorf("the file grew to %.2fx its size after the load over %d rewrites of every record, bound %.1fx: replaced pages are not reused",
			growth, rewrites, maxGrowth)
	}

	// Every record holds its last value.
	err := db.View(func(tx *scdb.Tx) error {
		l := tx.List("space")
		if n := l.Len(); n != records {
			return fmt.Errorf("Len %d, want %d", n, records)
		}
		i := 0
		for rec, err := range l.All() {
			if err != nil {
				return err
			}
			v, err := rec.Value()
			if err != nil {
				return err
			}
			if id := fmt.Sprintf("%08d", i); rec.ID() != id || !bytes.Equal(v, fill(valueSize, uint64(rewrites*records+i))) {
				return fmt.Errorf("record %d: id %q (want %q) or its value is not the last one written", i, rec.ID(), id)
			}
			i++
		}
		if i != records {
			return fmt.Errorf("All gave %d records, want %d", i, records)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !loadOK {
		t.Errorf("the file is %.2fx the raw bytes of ids and values after the load, bound %.1fx", ratio, maxLoad)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
