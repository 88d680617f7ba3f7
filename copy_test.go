package scdb_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamcrypt/scdb"
)

func TestCompactTo(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.scdb")
	key := bytes.Repeat([]byte{7}, 32)
	pass := []byte("compact me")
	db, err := scdb.Create(src, scdb.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddKeySlot(scdb.Credential{Passphrase: pass}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	err = db.Update(func(tx *scdb.Tx) error {
		for i := 0; i < 3000; i++ {
			v := bytes.Repeat([]byte{byte(i)}, 100+i%7*2000)
			id := fmt.Sprintf("%05d", i)
			if err := tx.List("l").Put(id, v); err != nil {
				return err
			}
			want[id] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *scdb.Tx) error {
		for i := 0; i < 3000; i += 3 {
			id := fmt.Sprintf("%05d", i)
			if err := tx.List("l").Delete(id); err != nil {
				return err
			}
			delete(want, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "dst.scdb")
	if err := db.CompactTo(dst); err != nil {
		t.Fatal(err)
	}
	if err := db.CompactTo(dst); err == nil {
		t.Fatal("CompactTo over an existing file succeeded")
	}
	srcGen := db.Generation()
	db.Close()

	si, _ := os.Stat(src)
	di, _ := os.Stat(dst)
	if di.Size() >= si.Size() {
		t.Errorf("compacted file is %d bytes, source %d", di.Size(), si.Size())
	}
	for _, opts := range []scdb.Options{{Key: key}, {Passphrase: pass}} {
		c, err := scdb.Open(dst, opts)
		if err != nil {
			t.Fatal(err)
		}
		if c.Generation() <= srcGen {
			t.Errorf("compacted generation %d does not continue the source's %d", c.Generation(), srcGen)
		}
		if rep, err := c.Check(); err != nil {
			t.Fatalf("check: %v %v", err, rep.Problems)
		}
		n := 0
		for rec, err := range c.Records("l") {
			if err != nil {
				t.Fatal(err)
			}
			v, err := rec.Value()
			if err != nil || !bytes.Equal(v, want[rec.ID()]) {
				t.Fatalf("record %s differs (%v)", rec.ID(), err)
			}
			n++
		}
		if n != len(want) {
			t.Fatalf("%d records, want %d", n, len(want))
		}
		st, err := c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.Records != int64(len(want)) || st.Lists != 1 || st.FileBytes() != di.Size() || len(st.KeySlots) != 2 {
			t.Errorf("stats %+v for %d records in a %d-byte file with 2 key slots", st, len(want), di.Size())
		}
		c.Close()
	}
	t.Logf("source %d bytes, compacted %d", si.Size(), di.Size())
}

// TestCreateRekeyed: a re-keyed copy opens only with its own credential and
// continues the original's generation count.
func TestCreateRekeyed(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	db, err := scdb.Create(filepath.Join(dir, "a.scdb"), scdb.Options{Key: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 0; i < 5; i++ {
		if err := db.Put("l", fmt.Sprint(i), bytes.Repeat([]byte{byte(i)}, 5000)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "b.scdb")
	dst, err := db.CreateRekeyed(path, scdb.Credential{Key: newKey})
	if err != nil {
		t.Fatal(err)
	}
	if dst.Generation() != db.Generation()+1 {
		t.Errorf("re-keyed file starts at generation %d, want %d", dst.Generation(), db.Generation()+1)
	}
	if err := db.CopyTo(dst); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	if _, err := scdb.Open(path, scdb.Options{Key: oldKey}); !errors.Is(err, scdb.ErrWrongKey) {
		t.Fatalf("old key on the re-keyed file: %v, want ErrWrongKey", err)
	}
	re, err := scdb.Open(path, scdb.Options{Key: newKey})
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	if got, err := re.Get("l", "3"); err != nil || !bytes.Equal(got, bytes.Repeat([]byte{3}, 5000)) {
		t.Fatalf("record 3: %d bytes, %v", len(got), err)
	}
	if re.Generation() <= db.Generation() {
		t.Errorf("re-keyed generation %d does not continue %d", re.Generation(), db.Generation())
	}
}
