package scdb_test

import (
	"errors"
	"testing"

	"github.com/streamcrypt/scdb"
)

// Commit or Rollback inside Update does nothing and says why; Update then
// commits as usual and reports success, so a retry loop does not write
// twice.
func TestManagedTxCommitInsideUpdate(t *testing.T) {
	db := newDB(t)
	gen := db.Generation()
	err := db.Update(func(tx *scdb.Tx) error {
		if _, err := tx.List("q").Append([]byte("job")); err != nil {
			return err
		}
		if err := tx.Commit(); !errors.Is(err, scdb.ErrTxManaged) {
			t.Errorf("Commit inside Update: %v, want ErrTxManaged", err)
		}
		if err := tx.Rollback(); !errors.Is(err, scdb.ErrTxManaged) {
			t.Errorf("Rollback inside Update: %v, want ErrTxManaged", err)
		}
		// The transaction is still usable.
		_, err := tx.List("q").Append([]byte("job 2"))
		return err
	})
	if err != nil {
		t.Fatalf("Update after fn called Commit: %v, want nil", err)
	}
	if g := db.Generation(); g != gen+1 {
		t.Errorf("generation %d, want %d: one commit", g, gen+1)
	}
	if n := listLen(t, db, "q"); n != 2 {
		t.Errorf("list holds %d records, want 2", n)
	}
}

func TestManagedTxInsideView(t *testing.T) {
	db := newDB(t)
	err := db.View(func(tx *scdb.Tx) error {
		if err := tx.Rollback(); !errors.Is(err, scdb.ErrTxManaged) {
			t.Errorf("Rollback inside View: %v, want ErrTxManaged", err)
		}
		if err := tx.Commit(); !errors.Is(err, scdb.ErrTxManaged) {
			t.Errorf("Commit inside View: %v, want ErrTxManaged", err)
		}
		return tx.List("l").Put("x", nil) // still the snapshot: read-only
	})
	if !errors.Is(err, scdb.ErrReadOnly) {
		t.Errorf("Put inside View after Rollback: %v, want ErrReadOnly", err)
	}
}

// A list emptied by Delete keeps its Append sequence; DeleteList resets it.
func TestDeleteListResetsEmptiedList(t *testing.T) {
	db := newDB(t)
	var ids []string
	err := db.Update(func(tx *scdb.Tx) error {
		l := tx.List("q")
		for range 3 {
			id, err := l.Append([]byte("v"))
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		for _, id := range ids {
			if err := l.Delete(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *scdb.Tx) error { return tx.DeleteList("q") })
	if err != nil {
		t.Fatalf("DeleteList of a list emptied by Delete: %v, want nil", err)
	}
	err = db.Update(func(tx *scdb.Tx) error {
		id, err := tx.List("q").Append([]byte("v"))
		if err == nil && id != ids[0] {
			t.Errorf("Append after DeleteList gave %q, want the sequence restarted at %q", id, ids[0])
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *scdb.Tx) error {
		if err := tx.DeleteList("q"); err != nil {
			return err
		}
		return tx.DeleteList("q")
	})
	if !errors.Is(err, scdb.ErrNotFound) {
		t.Errorf("DeleteList of a reset list: %v, want ErrNotFound", err)
	}
}
