package scdb_test

import (
	"errors"
	"testing"

	"github.com/streamcrypt/scdb"
)

// TestAppendSurvivesEmptiedList: a queue drained by Delete and filled again
// keeps giving increasing ids, across commits and a reopen, and is not
// listed meanwhile; DeleteList resets the sequence.
func TestAppendSurvivesEmptiedList(t *testing.T) {
	path := t.TempDir() + "/q.scdb"
	opts := scdb.Options{Key: make([]byte, 32)}
	db, err := scdb.Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	var last string
	appendOne := func() string {
		t.Helper()
		var id string
		if err := db.Update(func(tx *scdb.Tx) error {
			var err error
			id, err = tx.List("q").Append([]byte("job"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if id <= last {
			t.Fatalf("Append gave %q after %q", id, last)
		}
		last = id
		return id
	}
	for round := 0; round < 3; round++ {
		id := appendOne()
		if err := db.Delete("q", id); err != nil {
			t.Fatal(err)
		}
		if names, err := db.Lists(); err != nil || len(names) != 0 {
			t.Fatalf("emptied list still listed: %v %v", names, err)
		}
		if rep, err := db.Check(); err != nil || rep.Lists != 0 {
			t.Fatalf("check: %v %+v", err, rep)
		}
		db.Close()
		if db, err = scdb.Open(path, opts); err != nil {
			t.Fatal(err)
		}
	}
	// DeleteList resets an emptied list's sequence too (issue 11); a
	// second DeleteList finds nothing.
	err = db.Update(func(tx *scdb.Tx) error { return tx.DeleteList("q") })
	if err != nil {
		t.Fatalf("DeleteList of an emptied list: %v, want nil", err)
	}
	err = db.Update(func(tx *scdb.Tx) error { return tx.DeleteList("q") })
	if !errors.Is(err, scdb.ErrNotFound) {
		t.Fatalf("DeleteList of a reset list: %v, want ErrNotFound", err)
	}
	last = ""
	appendOne()
	if err := db.Update(func(tx *scdb.Tx) error { return tx.DeleteList("q") }); err != nil {
		t.Fatal(err)
	}
	last = ""
	if id := appendOne(); id != "0000000000000000" {
		t.Fatalf("after DeleteList Append gave %q, want the sequence reset", id)
	}
	db.Close()
}
