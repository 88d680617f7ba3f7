package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamcrypt/scdb"
)

// fillFile puts n records of size bytes each into list l, then deletes
// every other one, leaving free pages for compact to reclaim.
func fillFile(t *testing.T, path string, n, size int) {
	t.Helper()
	db := openTest(t, path, false)
	defer db.Close()
	err := db.Update(func(tx *scdb.Tx) error {
		for i := range n {
			if err := tx.List("l").Put(fmt.Sprintf("id%04d", i), []byte(strings.Repeat(string(rune('a'+i%26)), size))); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = db.Update(func(tx *scdb.Tx) error {
			for i := 0; i < n; i += 2 {
				if err := tx.List("l").Delete(fmt.Sprintf("id%04d", i)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestStats(t *testing.T) {
	path := newFile(t)
	fillFile(t, path, 40, 10_000)
	text := mustRun(t, keyEnv(), "", "stats", path).stdout
	for _, want := range []string{"file                 " + path, "page size            4096 bytes", "lists                1",
		"records              20", "value bytes          200000 (195.3 KiB)", "space amplification  ",
		"(file bytes / value bytes)", "key slots            1", "  slot 0             raw key"} {
		if !strings.Contains(text, want) {
			t.Errorf("stats lacks %q:\n%s", want, text)
		}
	}
	var st statsJSON
	if err := json.Unmarshal([]byte(mustRun(t, keyEnv(), "", "stats", "--json", path).stdout), &st); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if st.FileBytes != fi.Size() || st.PagesUsed+st.PagesFree != st.Pages || st.PagesFree == 0 || st.ValueBytes != 200_000 ||
		st.Records != 20 || st.SpaceAmplification == nil || *st.SpaceAmplification != float64(fi.Size())/200_000 ||
		len(st.KeySlots) != 1 || st.KeySlots[0].Kind != "key" || st.Generation != 2 {
		t.Errorf("stats --json = %+v (file is %d bytes)", st, fi.Size())
	}
	empty := newFile(t)
	if got := mustRun(t, keyEnv(), "", "stats", empty).stdout; !strings.Contains(got, "space amplification  - (no value bytes)") {
		t.Errorf("stats of an empty file:\n%s", got)
	}
}

func TestCheck(t *testing.T) {
	path := newFile(t)
	fillFile(t, path, 30, 5000)
	r := mustRun(t, keyEnv(), "", "check", path)
	if !strings.HasPrefix(r.stdout, path+": ok\n") || !strings.Contains(r.stdout, "1 list, 15 records, 75000 value bytes") {
		t.Errorf("check:\n%s", r.stdout)
	}
	var rep checkJSON
	if err := json.Unmarshal([]byte(mustRun(t, keyEnv(), "", "check", "--json", path).stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Records != 15 || rep.Bytes != 75000 || len(rep.Problems) != 0 || rep.LeakedPages != 0 {
		t.Errorf("check --json = %+v", rep)
	}
	r = wantExit(t, keyEnv(), "", exitNotFound, nil, "check", "--json", path+".none")
	if !strings.Contains(r.stdout, `"ok": false`) || !strings.Contains(r.stdout, `does not exist`) {
		t.Errorf("check --json of a missing file:\n%s", r.stdout)
	}
}

func TestCompact(t *testing.T) {
	path := newFile(t)
	fillFile(t, path, 60, 20_000)
	wantExit(t, keyEnv(), "", exitUsage, []string{"key file /dev/null holds 0 bytes"}, "passwd", path, "--add-passphrase", "--key-file", "/dev/null")
	e := keyEnv().with("SCDB_NEW_PASSPHRASE", "second")
	mustRun(t, e, "", "passwd", path, "--add-passphrase")
	dst := filepath.Join(t.TempDir(), "small.scdb")
	r := mustRun(t, keyEnv(), "", "compact", path, dst)
	if !strings.Contains(r.stdout, "contents verified equal") || r.stderr != "" {
		t.Errorf("compact: %q %q", r.stdout, r.stderr)
	}
	before, after := statsOf(t, path), statsOf(t, dst)
	if after.Pages >= before.Pages || after.PagesFree != 0 || after.Records != before.Records ||
		after.ValueBytes != before.ValueBytes || after.Generation <= before.Generation || len(after.KeySlots) != 2 {
		t.Errorf("before %+v\nafter %+v", before, after)
	}
	// The same key slots: the added passphrase opens the copy too.
	mustRun(t, env{"SCDB_PASSPHRASE": "second"}, "", "get", dst, "l", "id0001")
	mustRun(t, keyEnv(), "", "check", dst)
	wantExit(t, keyEnv(), "", exitError, []string{dst + " already exists"}, "compact", path, dst)
}

// TestShrinkCommand: shrink gives the free pages back in place: fewer
// pages, the same records, the file still checks clean.
func TestShrinkCommand(t *testing.T) {
	path := newFile(t)
	fillFile(t, path, 60, 20_000) // 600 KB free: too little for Close to shrink
	before := statsOf(t, path)
	if before.PagesFree < 100 {
		t.Fatalf("only %d free pages before shrink", before.PagesFree)
	}
	r := mustRun(t, keyEnv(), "", "shrink", path)
	if !strings.Contains(r.stdout, "shrank "+path) || r.stderr != "" {
		t.Errorf("shrink: %q %q", r.stdout, r.stderr)
	}
	after := statsOf(t, path)
	if after.Pages+before.PagesFree-after.PagesFree != before.Pages || after.PagesFree > 8 ||
		after.Records != before.Records || after.ValueBytes != before.ValueBytes {
		t.Errorf("before %+v\nafter %+v", before, after)
	}
	mustRun(t, keyEnv(), "", "check", path)
	mustRun(t, keyEnv(), "", "get", path, "l", "id0001")
}

// TestCompactInPlace: one argument compacts the file where it is: fewer
// pages, the same records, a generation that goes on, no stray file, and
// a stale copy from a crashed run is no obstacle.
func TestCompactInPlace(t *testing.T) {
	path := newFile(t)
	fillFile(t, path, 60, 20_000)
	before := statsOf(t, path)
	if err := os.WriteFile(path+".compact", []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, keyEnv(), "", "compact", path)
	if !strings.Contains(r.stdout, "contents verified equal") || r.stderr != "" {
		t.Errorf("compact: %q %q", r.stdout, r.stderr)
	}
	after := statsOf(t, path)
	if after.Pages >= before.Pages || after.PagesFree != 0 || after.Records != before.Records ||
		after.ValueBytes != before.ValueBytes || after.Generation <= before.Generation {
		t.Errorf("before %+v\nafter %+v", before, after)
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Errorf("stray copy left: %v", err)
	}
	mustRun(t, keyEnv(), "", "check", path)
}

func statsOf(t *testing.T, path string) statsJSON {
	t.Helper()
	var st statsJSON
	if err := json.Unmarshal([]byte(mustRun(t, keyEnv(), "", "stats", "--json", path).stdout), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// sameContents, which compact and rotate rely on, finds every kind of
// difference.
func TestSameContents(t *testing.T) {
	base := map[string]map[string]string{"a": {"1": "x", "2": "yy"}, "b": {"1": "z"}}
	for name, change := range map[string]func(tx *scdb.Tx) error{
		"value":      func(tx *scdb.Tx) error { return tx.List("a").Put("2", []byte("yz")) },
		"size":       func(tx *scdb.Tx) error { return tx.List("a").Put("2", []byte("yyy")) },
		"extra id":   func(tx *scdb.Tx) error { return tx.List("a").Put("3", []byte("")) },
		"missing id": func(tx *scdb.Tx) error { return tx.List("a").Delete("1") },
		"extra list": func(tx *scdb.Tx) error { return tx.List("c").Put("1", []byte("z")) },
		"no list":    func(tx *scdb.Tx) error { return tx.DeleteList("b") },
		"append seq": func(tx *scdb.Tx) error {
			id, err := tx.List("q").Append([]byte("x"))
			if err == nil {
				err = tx.List("q").Delete(id) // the list is gone, its sequence is not
			}
			return err
		},
		"renamed id":  func(tx *scdb.Tx) error { tx.List("b").Delete("1"); return tx.List("b").Put("0", []byte("z")) },
		"big values":  func(tx *scdb.Tx) error { return tx.List("a").Put("1", []byte(strings.Repeat("q", 200_000)+"x")) },
		"same (none)": nil,
	} {
		t.Run(name, func(t *testing.T) {
			pa, pb := newFile(t), newFile(t)
			for _, p := range []string{pa, pb} {
				db := openTest(t, p, false)
				db.Update(func(tx *scdb.Tx) error {
					for l, recs := range base {
						for id, v := range recs {
							tx.List(l).Put(id, []byte(v))
						}
					}
					if name == "big values" {
						tx.List("a").Put("1", []byte(strings.Repeat("q", 200_000)+"y"))
					}
					return nil
				})
				db.Close()
			}
			b := openTest(t, pb, false)
			if change != nil {
				if err := b.Update(change); err != nil {
					t.Fatal(err)
				}
			}
			a := openTest(t, pa, true)
			defer a.Close()
			defer b.Close()
			err := sameContents(a, b, "A", "B")
			if change == nil {
				if err != nil {
					t.Errorf("equal files differ: %v", err)
				}
				return
			}
			if ee, ok := err.(*exitErr); !ok || ee.code != exitCorrupt || !strings.HasPrefix(ee.msg, "A and B differ: ") {
				t.Errorf("got %v", err)
			}
		})
	}
}
