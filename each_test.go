package scdb_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/streamcrypt/scdb"
)

// eachValue is record i's value in TestEach: some empty, most inline, every
// 50th a chain of several pages.
func eachValue(i int) []byte {
	switch {
	case i%97 == 0:
		return []byte{}
	case i%50 == 0:
		return bytes.Repeat([]byte{byte(i), 0xc4}, 3000+i)
	}
	return bytes.Repeat([]byte{byte(i)}, 10+i%700)
}

// eachFill puts records 0..n-1 of list "l" (ids "%05d") in one transaction.
func eachFill(t *testing.T, db *scdb.DB, n int, value func(i int) []byte) {
	t.Helper()
	err := db.Update(func(tx *scdb.Tx) error {
		for i := range n {
			if err := tx.List("l").Put(fmt.Sprintf("%05d", i), value(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEach: Each hands every record in id order, inline and chained, in a
// read snapshot and in a write transaction (seeing its own writes); fn's
// error ends it and comes back as it is; a list that does not exist has no
// records.
func TestEach(t *testing.T) {
	db := newDB(t)
	const n = 2000
	eachFill(t, db, n, eachValue)
	check := func(tx *scdb.Tx, want int) error {
		i := 0
		err := tx.List("l").Each(func(id, value []byte) error {
			if string(id) != fmt.Sprintf("%05d", i) || !bytes.Equal(value, eachValue(i)) {
				return fmt.Errorf("record %d: id %q, %d bytes", i, id, len(value))
			}
			if len(value) > 0 {
				value[0] ^= 0xff // fn may change what it is handed: no page, no later record sees it
			}
			_ = append(value, 0xee, 0xee, 0xee, 0xee) // nor what follows the value where it lies
			i++
			return nil
		})
		if err == nil && i != want {
			err = fmt.Errorf("Each handed %d records, want %d", i, want)
		}
		return err
	}
	for range 2 {
		if err := db.View(func(tx *scdb.Tx) error { return check(tx, n) }); err != nil {
			t.Fatal(err)
		}
	}
	err := db.Update(func(tx *scdb.Tx) error {
		if err := tx.List("l").Put(fmt.Sprintf("%05d", n), eachValue(n)); err != nil {
			return err
		}
		return check(tx, n+1)
	})
	if err != nil {
		t.Fatal(err)
	}

	stop := errors.New("stop")
	calls := 0
	err = db.View(func(tx *scdb.Tx) error {
		return tx.List("l").Each(func(id, value []byte) error {
			if calls++; calls == 10 {
				return stop
			}
			return nil
		})
	})
	if err != stop || calls != 10 {
		t.Fatalf("Each returned %v after %d calls, want fn's own error after 10", err, calls)
	}
	err = db.View(func(tx *scdb.Tx) error {
		return tx.List("nope").Each(func(id, value []byte) error { return errors.New("called") })
	})
	if err != nil {
		t.Fatalf("Each over a missing list: %v", err)
	}
}

// TestEachAllocatesNothingPerRecord: a pass over 2,000 inline records (about
// 160 leaves) allocates per page at most (the AEAD's, the read-ahead's), not
// per record as a loop of Records with Value does (two or more each).
func TestEachAllocatesNothingPerRecord(t *testing.T) {
	db := newDB(t)
	const n = 2000
	eachFill(t, db, n, func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 300) })
	tx, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	pass := func() {
		if err := tx.List("l").Each(func(id, value []byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	pass() // warm the pools
	if allocs := testing.AllocsPerRun(5, pass); allocs > n/5 {
		t.Fatalf("a pass over %d records made %.0f allocations, want at most %d", n, allocs, n/5)
	}
}
