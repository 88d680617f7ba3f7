package scdb_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/streamcrypt/scdb"
)

// A forward scan over many leaves reads them ahead on another goroutine:
// every record comes back once, in order, with its own bytes, also when
// loops stop early, seek, or run concurrently in several snapshots (run
// with -race), and when a tiny cache holds no leaf.
func TestReadAheadScans(t *testing.T) {
	db := newDB(t, scdb.Options{CacheSize: 16 << 10})
	const n = 3000
	val := func(i int) []byte { return bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 100+i%400) }
	err := db.Update(func(tx *scdb.Tx) error {
		for i := range n {
			if err := tx.List("l").Put(fmt.Sprintf("%06d", i), val(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	scan := func(from, stop int) error {
		return db.View(func(tx *scdb.Tx) error {
			i := from
			for rec, err := range tx.List("l").From(fmt.Sprintf("%06d", from)) {
				if err != nil {
					return err
				}
				v, err := rec.Value()
				if err != nil {
					return err
				}
				if rec.ID() != fmt.Sprintf("%06d", i) || !bytes.Equal(v, val(i)) {
					return fmt.Errorf("record %d: got id %q, %d bytes", i, rec.ID(), len(v))
				}
				if i++; i == stop {
					break
				}
			}
			if i != stop {
				return fmt.Errorf("scan from %d ended at %d, want %d", from, i, stop)
			}
			return nil
		})
	}
	errc := make(chan error, 8)
	for g := range 4 {
		go func() {
			var err error
			for k := 0; k < 6 && err == nil; k++ {
				from := (g*701 + k*337) % n
				stop := n
				if k%2 == 1 {
					stop = min(n, from+50+k*100)
				}
				err = scan(from, stop)
			}
			errc <- err
		}()
	}
	for range 4 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}

// A scan's read-ahead copies the leaves lookups put in the cache and
// decrypts the others: every record comes back right, before and after a
// commit moves leaves to pages the cache held at an older generation.
func TestReadAheadUsesCachedLeaves(t *testing.T) {
	db := newDB(t, scdb.Options{})
	const n = 3000
	val := func(i, ver int) []byte { return bytes.Repeat([]byte{byte(i), byte(i >> 8), byte(ver)}, 50+i%300) }
	vers := make([]int, n)
	put := func(every, ver int) {
		t.Helper()
		err := db.Update(func(tx *scdb.Tx) error {
			for i := 0; i < n; i += every {
				vers[i] = ver
				if err := tx.List("l").Put(fmt.Sprintf("%06d", i), val(i, ver)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	get := func(every int) {
		t.Helper()
		for i := 0; i < n; i += every {
			if v, err := db.Get("l", fmt.Sprintf("%06d", i)); err != nil || !bytes.Equal(v, val(i, vers[i])) {
				t.Fatalf("get %d: %v", i, err)
			}
		}
	}
	scan := func() {
		t.Helper()
		i := 0
		err := db.View(func(tx *scdb.Tx) error {
			return tx.List("l").Each(func(id, v []byte) error {
				if string(id) != fmt.Sprintf("%06d", i) || !bytes.Equal(v, val(i, vers[i])) {
					return fmt.Errorf("record %d: got id %q, %d bytes", i, id, len(v))
				}
				i++
				return nil
			})
		})
		if err != nil || i != n {
			t.Fatalf("scan: %v after %d records", err, i)
		}
	}
	put(1, 1)
	get(7)
	scan()
	put(3, 2) // moves most leaves to new pages, some onto pages freed before
	put(5, 3)
	get(5)
	scan()
}
