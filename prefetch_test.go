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
