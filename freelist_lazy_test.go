package scdb_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/pager"
)

// TestFreelistReadAtFirstWrite: a writable Open reads only the freelist
// head; a free set larger than one page (a checkpoint and a log) is read at
// the first write transaction. Damage behind the head lets the file open and
// be read, and fails every write with ErrCorrupt naming the damaged page.
func TestFreelistReadAtFirstWrite(t *testing.T) {
	key := bytes.Repeat([]byte{0x5c}, 32)
	path := filepath.Join(t.TempDir(), "frag.scdb")
	db, err := scdb.Create(path, scdb.Options{Key: key, PageSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte("v"), 500) // one chain page each (the inline limit is 480 beside a 3-byte id)
	err = db.Update(func(tx *scdb.Tx) error {
		for i := range 600 {
			if err := tx.List("l").Put(fmt.Sprintf("%03d", i), value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *scdb.Tx) error {
		for i := 1; i < 600; i += 2 {
			if err := tx.List("l").Delete(fmt.Sprintf("%03d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := db.Put("l", fmt.Sprintf("x%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// The oldest log page of the state (not the head), whose seal we break.
	p, err := pager.Open(faultfile.New(img), crypt.Credential{Key: key}, pager.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var logs []uint64 // newest first
	err = freelist.Walk(p, p.Meta(), func(ref pager.Ref) {
		if b, err := p.Page(ref); err == nil && b[0] == freelist.TypeFreelistLog {
			logs = append(logs, ref.Page)
		}
	}, func(uint64, uint64) error { return nil })
	p.Close()
	if err != nil || len(logs) < 2 {
		t.Fatalf("fixture: %d log pages (%v), want a log of at least 2", len(logs), err)
	}
	oldest := logs[len(logs)-1]
	img[oldest*1024+100] ^= 0x01
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}

	db, err = scdb.Open(path, scdb.Options{Key: key})
	if err != nil {
		t.Fatalf("Open with damage behind the freelist head: %v", err)
	}
	defer db.Close()
	if v, err := db.Get("l", "000"); err != nil || !bytes.Equal(v, value) {
		t.Fatalf("Get: %v", err)
	}
	for range 2 {
		err := db.Put("l", "y", []byte("y"))
		var pe *scdb.CorruptPageError
		if !errors.As(err, &pe) || pe.Page != oldest {
			t.Fatalf("Put: %v, want ErrCorrupt naming page %d", err, oldest)
		}
	}
	if _, err := db.Check(); !errors.Is(err, scdb.ErrCorrupt) {
		t.Fatalf("Check: %v, want ErrCorrupt", err)
	}
}
