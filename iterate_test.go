package scdb_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/streamcrypt/scdb"
)

// Records kept from a loop are values of their own: each reads its own
// bytes, inline or chained, for as long as the transaction lasts.
func TestKeptRecordsDoNotAlias(t *testing.T) {
	db := newDB(t)
	want := map[string][]byte{"a": []byte("small a"), "b": fill(20000, 2), "c": []byte("small c"), "d": fill(9000, 4)}
	for id, v := range want {
		mustPut(t, db, "l", id, v)
	}
	err := db.View(func(tx *scdb.Tx) error {
		var kept []*scdb.Record
		for rec, err := range tx.List("l").All() {
			if err != nil {
				return err
			}
			kept = append(kept, rec)
		}
		for i, rec := range kept {
			if id := string(rune('a' + i)); rec.ID() != id {
				t.Errorf("kept record %d has id %q, want %q", i, rec.ID(), id)
			}
			v, err := rec.Value()
			if err != nil || !bytes.Equal(v, want[rec.ID()]) {
				t.Errorf("kept record %q: %d bytes, %v; want its own %d bytes", rec.ID(), len(v), err, len(want[rec.ID()]))
			}
		}
		if len(kept) != len(want) {
			t.Errorf("kept %d records, want %d", len(kept), len(want))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A record kept past a db.Records loop says so, not which transaction
// ended: the caller never opened one.
func TestRecordUsedAfterItsLoopStep(t *testing.T) {
	db := newDB(t)
	mustPut(t, db, "l", "a", []byte("1"))
	mustPut(t, db, "l", "b", fill(30000, 1))
	var kept []*scdb.Record
	for rec, err := range db.Records("l") {
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, rec)
	}
	for rec, err := range db.From("l", "b") {
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, rec)
	}
	for _, rec := range kept {
		_, err := rec.Value()
		if !errors.Is(err, scdb.ErrTxDone) || !strings.Contains(err.Error(), "used after its loop step") {
			t.Errorf("Value of %q after the loop: %v; want ErrTxDone saying it was used after its loop step", rec.ID(), err)
		}
		if _, err := rec.Reader().Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "used after its loop step") {
			t.Errorf("Reader of %q after the loop: %v", rec.ID(), err)
		}
	}
}

func TestIterationOrders(t *testing.T) {
	db := newDB(t)
	var ids []string
	err := db.Update(func(tx *scdb.Tx) error {
		for i := range 2000 { // several tree levels
			id := fmt.Sprintf("k%04d", i*3)
			ids = append(ids, id)
			if err := tx.List("l").Put(id, []byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	tests := []struct {
		name string
		seq  func(l *scdb.List) func(func(*scdb.Record, error) bool)
		want []string
	}{
		{"Reverse", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.Reverse() }, rev},
		{"Before existing", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.Before("k0030") }, []string{"k0027", "k0024", "k0021", "k0018", "k0015", "k0012", "k0009", "k0006", "k0003", "k0000"}},
		{"Before absent", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.Before("k0031") }, []string{"k0030", "k0027", "k0024", "k0021", "k0018", "k0015", "k0012", "k0009", "k0006", "k0003", "k0000"}},
		{"Before first", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.Before("k0000") }, nil},
		{"Before past end", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.Before("z") }, rev},
		{"After existing", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.After("k5985") }, []string{"k5988", "k5991", "k5994", "k5997"}},
		{"After absent", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.After("k5986") }, []string{"k5988", "k5991", "k5994", "k5997"}},
		{"After last", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.After("k5997") }, nil},
		{"After empty id", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.After("") }, ids},
		{"From existing", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.From("k5994") }, []string{"k5994", "k5997"}},
		{"Prefix", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.Prefix("k159") }, []string{"k1590", "k1593", "k1596", "k1599"}},
		{"Prefix none", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.Prefix("j") }, nil},
		{"Prefix all", func(l *scdb.List) func(func(*scdb.Record, error) bool) { return l.Prefix("") }, ids},
	}
	err = db.View(func(tx *scdb.Tx) error {
		for _, tt := range tests {
			var got []string
			for rec, err := range tt.seq(tx.List("l")) {
				if err != nil {
					return err
				}
				got = append(got, rec.ID())
				if v, err := rec.Value(); err != nil || string(v) != rec.ID() {
					t.Errorf("%s: record %q has value %q, %v", tt.name, rec.ID(), v, err)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: %d ids %.60q, want %d %.60q", tt.name, len(got), got, len(tt.want), tt.want)
			}
		}
		last, err := tx.List("l").Last()
		if err != nil || last.ID() != "k5997" {
			t.Errorf("Last: %v, %v; want k5997", last, err)
		}
		if _, err := tx.List("none").Last(); !errors.Is(err, scdb.ErrNotFound) {
			t.Errorf("Last of a missing list: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.Len("l"); n != 2000 || err != nil {
		t.Errorf("db.Len: %d, %v; want 2000", n, err)
	}
	if n, err := db.Len("none"); n != 0 || err != nil {
		t.Errorf("db.Len of a missing list: %d, %v; want 0", n, err)
	}
	mustClose(t, db)
	if _, err := db.Len("l"); !errors.Is(err, scdb.ErrClosed) {
		t.Errorf("db.Len after Close: %v, want ErrClosed", err)
	}
}

// Reverse in a write transaction sees its own changes and keeps its place
// when the record just returned is deleted.
func TestReverseDeletingAsItGoes(t *testing.T) {
	db := newDB(t)
	err := db.Update(func(tx *scdb.Tx) error {
		l := tx.List("q")
		for range 500 {
			if _, err := l.Append(fill(100, 1)); err != nil {
				return err
			}
		}
		n := 0
		for rec, err := range l.Reverse() {
			if err != nil {
				return err
			}
			if err := l.Delete(rec.ID()); err != nil {
				return err
			}
			n++
		}
		if n != 500 || l.Len() != 0 {
			t.Errorf("deleted %d records backward, %d left; want 500, 0", n, l.Len())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Value returns a copy the caller owns every time: scribbling over one
// result changes neither a later Value nor Reader, in a read-only snapshot
// (where a loop's first Value hands over the record's own copy) and in a
// write transaction.
func TestValueCopiesAreOwned(t *testing.T) {
	db := newDB(t)
	want := map[string][]byte{"a": []byte("small a"), "b": fill(20000, 2), "e": {}, "f": []byte("f")}
	for id, v := range want {
		mustPut(t, db, "l", id, v)
	}
	check := func(tx *scdb.Tx) error {
		for rec, err := range tx.List("l").All() {
			if err != nil {
				return err
			}
			w := want[rec.ID()]
			for i := range 3 {
				v, err := rec.Value()
				if err != nil {
					return err
				}
				if !bytes.Equal(v, w) {
					return fmt.Errorf("%s: Value %d = %d bytes, want %d", rec.ID(), i, len(v), len(w))
				}
				if v == nil {
					return fmt.Errorf("%s: Value %d is nil", rec.ID(), i)
				}
				for j := range v {
					v[j] ^= 0xff
				}
				got, err := io.ReadAll(rec.Reader())
				if err != nil {
					return err
				}
				if !bytes.Equal(got, w) {
					return fmt.Errorf("%s: Reader after Value %d read %d changed bytes", rec.ID(), i, len(got))
				}
			}
		}
		return nil
	}
	if err := db.View(check); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(check); err != nil {
		t.Fatal(err)
	}
	// A kept record reads again after its loop moved on.
	err := db.View(func(tx *scdb.Tx) error {
		var kept []*scdb.Record
		for rec, err := range tx.List("l").All() {
			if err != nil {
				return err
			}
			if _, err := rec.Value(); err != nil {
				return err
			}
			kept = append(kept, rec)
		}
		for _, rec := range kept {
			v, err := rec.Value()
			if err != nil {
				return err
			}
			if !bytes.Equal(v, want[rec.ID()]) {
				return fmt.Errorf("%s: kept record reads %d bytes", rec.ID(), len(v))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
