// Package crossarch_test checks that a file written on one CPU reads the
// same on another: .ci/bigendian runs it natively to write a file, under a
// big-endian emulator to read that one and write another, and natively
// again to read the big-endian one. Run alone, it does the round trip on
// the machine it runs on.
//
//	SCDB_CROSSARCH_WRITE=PATH  write the reference file to PATH
//	SCDB_CROSSARCH_READ=PATH   read PATH and check it is the reference file
package crossarch_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"

	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/testhook"
)

// A cheap Argon2id cost, so that the emulated CPU opens the passphrase slot
// in a moment; the cost is stored in the slot, so both sides read it there.
func init() { testhook.KDF = &crypt.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1} }

var (
	key        = bytes.Repeat([]byte{0xa5}, 32)
	passphrase = []byte("big-endian ✓")
)

// record is one expected record of the reference file.
type record struct {
	id    string
	value []byte
}

// fill returns n bytes that depend on seed only, computed byte by byte so
// that no CPU's byte order enters them.
func fill(n int, seed uint64) []byte {
	b := make([]byte, n)
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// valueSizes straddle the inline limit and one, two and many 1 KiB pages.
var valueSizes = []int{0, 1, 255, 256, 900, 1000, 1023, 1024, 1025, 2049, 5000, 70000}

// write builds the reference file at path in several commits: lists of
// every shape, Append ids, replacements, deletes (so the freelist has
// runs), a dropped list and a second, passphrase, key slot.
func write(path string) error {
	db, err := scdb.Create(path, scdb.Options{Key: key, PageSize: 1024})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.AddKeySlot(scdb.Credential{Passphrase: passphrase}); err != nil {
		return err
	}
	err = db.Update(func(tx *scdb.Tx) error {
		for i := range 300 {
			if err := tx.List("ids").Put(fmt.Sprintf("%05d", i), fill(i%50*37, uint64(i))); err != nil {
				return err
			}
		}
		for i, n := range valueSizes {
			if err := tx.List("binary").Put(string([]byte{0, 0xff, byte(i)}), fill(n, 1000+uint64(i))); err != nil {
				return err
			}
		}
		return tx.List("dropped").Put("x", fill(3000, 7))
	})
	if err != nil {
		return err
	}
	for i := range 20 { // one commit each: the sequence is read back every time
		err := db.Update(func(tx *scdb.Tx) error {
			_, err := tx.List("queue").Append(fill(i*10, 2000+uint64(i)))
			return err
		})
		if err != nil {
			return err
		}
	}
	return db.Update(func(tx *scdb.Tx) error {
		for i := 0; i < 300; i += 3 {
			if err := tx.List("ids").Delete(fmt.Sprintf("%05d", i)); err != nil {
				return err
			}
		}
		for i := 1; i < 300; i += 7 {
			if err := tx.List("ids").Put(fmt.Sprintf("%05d", i), fill(1500, 5000+uint64(i))); err != nil {
				return err
			}
		}
		if err := tx.List("ünïcode ✓").Put("ключ", []byte("значение")); err != nil {
			return err
		}
		return tx.DeleteList("dropped")
	})
}

// commits is how many commits write makes: the reference file's generation.
const commits = 1 + 20 + 1

// expected is the reference file's contents: list name -> records in id
// order, lists in name order.
func expected() map[string][]record {
	ids := map[string][]byte{}
	for i := range 300 {
		ids[fmt.Sprintf("%05d", i)] = fill(i%50*37, uint64(i))
	}
	for i := 0; i < 300; i += 3 {
		delete(ids, fmt.Sprintf("%05d", i))
	}
	for i := 1; i < 300; i += 7 {
		ids[fmt.Sprintf("%05d", i)] = fill(1500, 5000+uint64(i))
	}
	out := map[string][]record{"ünïcode ✓": {{"ключ", []byte("значение")}}}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		out["ids"] = append(out["ids"], record{id, ids[id]})
	}
	for i, n := range valueSizes {
		out["binary"] = append(out["binary"], record{string([]byte{0, 0xff, byte(i)}), fill(n, 1000+uint64(i))})
	}
	for i := range 20 {
		out["queue"] = append(out["queue"], record{fmt.Sprintf("%016x", i), fill(i*10, 2000+uint64(i))})
	}
	return out
}

// read checks that the file at path is the reference file: it passes
// Check, opens with both credentials at the expected generation, holds the
// expected lists and records, continues the Append sequence where the
// writer left it, and backs up to a copy that checks.
func read(t *testing.T, path string) {
	t.Helper()
	rep, err := scdb.CheckFile(path, scdb.Options{Key: key})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if rep.Generation != commits || rep.PageSize != 1024 {
		t.Errorf("generation %d, page size %d; want %d and 1024", rep.Generation, rep.PageSize, commits)
	}
	if len(rep.Warnings) > 0 {
		t.Errorf("Check warns: %q", rep.Warnings)
	}
	db, err := scdb.Open(path, scdb.Options{Passphrase: passphrase, ReadOnly: true})
	if err != nil {
		t.Fatalf("open with the passphrase slot: %v", err)
	}
	defer db.Close()
	want := expected()
	var names []string
	err = db.View(func(tx *scdb.Tx) error {
		for name, err := range tx.Lists() {
			if err != nil {
				return err
			}
			names = append(names, name)
			if err := sameList(tx.List(name), want[name]); err != nil {
				return fmt.Errorf("list %q: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if wantNames := slices.Sorted(maps.Keys(want)); !slices.Equal(names, wantNames) {
		t.Fatalf("lists %q, want %q", names, wantNames)
	}
	backup := filepath.Join(t.TempDir(), "backup.scdb")
	var buf bytes.Buffer
	if _, err := db.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(backup, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := scdb.CheckFile(backup, scdb.Options{Key: key}); err != nil {
		t.Fatalf("Check of a backup: %v", err)
	}
	db.Close()
	appendOnCopy(t, path)
}

// sameList compares a list with the expected records, in order.
func sameList(l *scdb.List, want []record) error {
	i := 0
	for rec, err := range l.All() {
		if err != nil {
			return err
		}
		if i >= len(want) {
			return fmt.Errorf("more than the %d records expected: %q", len(want), rec.ID())
		}
		v, err := rec.Value()
		if err != nil {
			return err
		}
		if rec.ID() != want[i].id || !bytes.Equal(v, want[i].value) {
			return fmt.Errorf("record %d is %q (%d bytes), want %q (%d bytes)", i, rec.ID(), len(v), want[i].id, len(want[i].value))
		}
		i++
	}
	if i != len(want) || l.Len() != int64(len(want)) {
		return fmt.Errorf("%d records (Len %d), want %d", i, l.Len(), len(want))
	}
	return nil
}

// appendOnCopy writes to a copy of path: Append must go on from the
// sequence the other CPU stored.
func appendOnCopy(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.scdb")
	if err := os.WriteFile(cp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := scdb.Open(cp, scdb.Options{Key: key, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id string
	err = db.Update(func(tx *scdb.Tx) error {
		id, err = tx.List("queue").Append([]byte("next"))
		return err
	})
	if err != nil || id != fmt.Sprintf("%016x", 20) {
		t.Errorf("Append on the copy gave id %q (%v), want %016x", id, err, 20)
	}
	if _, err := db.Check(); err != nil {
		t.Errorf("Check after writing to the copy: %v", err)
	}
}

// TestCrossArch writes the reference file where SCDB_CROSSARCH_WRITE says
// and reads the one SCDB_CROSSARCH_READ names; with neither, it writes one
// and reads it back.
func TestCrossArch(t *testing.T) {
	in, out := os.Getenv("SCDB_CROSSARCH_READ"), os.Getenv("SCDB_CROSSARCH_WRITE")
	if in == "" && out == "" {
		out = filepath.Join(t.TempDir(), "ref.scdb")
		in = out
	}
	if in != "" && in != out {
		read(t, in)
		t.Logf("%s/%s read %s: the reference file, as written", runtime.GOOS, runtime.GOARCH, in)
	}
	if out != "" {
		if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if err := write(out); err != nil {
			t.Fatalf("write %s: %v", out, err)
		}
		t.Logf("%s/%s wrote %s", runtime.GOOS, runtime.GOARCH, out)
	}
	if in == out {
		read(t, in)
	}
}
