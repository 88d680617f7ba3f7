package scdb_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/internal/faultfile"
)

// Tests of the public API, one behaviour each, through files on disk (or
// faultfile where a test needs an in-memory file). Shared helpers for the
// other _test files of the package live at the end of this file.

func TestCreateFailsIfPathExists(t *testing.T) {
	for _, name := range []string{"scdb", "other"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db.scdb")
			var want []byte
			if name == "scdb" {
				db := mustCreate(t, path, scdb.Options{Key: testKey})
				mustPut(t, db, "l", "id", []byte("kept"))
				mustClose(t, db)
			} else if err := os.WriteFile(path, []byte("not a database"), 0o600); err != nil {
				t.Fatal(err)
			}
			want = readFile(t, path)

			db, err := scdb.Create(path, scdb.Options{Key: testKey})
			if err == nil {
				db.Close()
				t.Fatal("Create over an existing file succeeded")
			}
			if !errors.Is(err, fs.ErrExist) {
				t.Errorf("Create over an existing file: %v, want an error wrapping fs.ErrExist", err)
			}
			if got := readFile(t, path); !bytes.Equal(got, want) {
				t.Fatalf("the failed Create changed the existing file (%d bytes, had %d)", len(got), len(want))
			}
		})
	}
}

func TestOpenFailsIfPathMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.scdb")
	for _, ro := range []bool{false, true} {
		db, err := scdb.Open(path, scdb.Options{Key: testKey, ReadOnly: ro})
		if err == nil {
			db.Close()
			t.Fatalf("Open(ReadOnly=%v) of a missing file succeeded", ro)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(ReadOnly=%v) of a missing file: %v, want fs.ErrNotExist", ro, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Open(ReadOnly=%v) of a missing file created it (stat: %v)", ro, err)
		}
	}
}

func TestCredentials(t *testing.T) {
	otherKey := bytes.Repeat([]byte{0xa7}, 32)
	pass := []byte("correct horse battery staple")
	tests := []struct {
		name       string
		create     scdb.Options
		open       scdb.Options
		createErr  error // nil: Create succeeds
		openErr    error // nil: Open succeeds
		createLeft bool  // a failed Create must leave no file
	}{
		{name: "key", create: scdb.Options{Key: testKey}, open: scdb.Options{Key: testKey}},
		{name: "passphrase", create: scdb.Options{Passphrase: pass}, open: scdb.Options{Passphrase: pass}},
		{name: "wrong key", create: scdb.Options{Key: testKey}, open: scdb.Options{Key: otherKey}, openErr: scdb.ErrWrongKey},
		{name: "wrong passphrase", create: scdb.Options{Passphrase: pass}, open: scdb.Options{Passphrase: []byte("Correct horse battery staple")}, openErr: scdb.ErrWrongKey},
		{name: "passphrase for a key file", create: scdb.Options{Key: testKey}, open: scdb.Options{Passphrase: testKey}, openErr: scdb.ErrWrongKey},
		{name: "key for a passphrase file", create: scdb.Options{Passphrase: pass}, open: scdb.Options{Key: testKey}, openErr: scdb.ErrWrongKey},
		{name: "both on create", create: scdb.Options{Key: testKey, Passphrase: pass}, createErr: scdb.ErrInvalid},
		{name: "neither on create", create: scdb.Options{}, createErr: scdb.ErrInvalid},
		{name: "short key on create", create: scdb.Options{Key: testKey[:31]}, createErr: scdb.ErrInvalid},
		{name: "both on open", create: scdb.Options{Key: testKey}, open: scdb.Options{Key: testKey, Passphrase: pass}, openErr: scdb.ErrInvalid},
		{name: "neither on open", create: scdb.Options{Key: testKey}, open: scdb.Options{}, openErr: scdb.ErrInvalid},
		{name: "read-only create", create: scdb.Options{Key: testKey, ReadOnly: true}, createErr: scdb.ErrInvalid},
		{name: "bad page size", create: scdb.Options{Key: testKey, PageSize: 3000}, createErr: scdb.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db.scdb")
			db, err := scdb.Create(path, tc.create)
			if tc.createErr != nil {
				if err == nil {
					db.Close()
					t.Fatalf("Create succeeded, want %v", tc.createErr)
				}
				if !errors.Is(err, tc.createErr) {
					t.Fatalf("Create: %v, want %v", err, tc.createErr)
				}
				if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("a failed Create left a file behind (stat: %v)", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			mustPut(t, db, "l", "id", []byte("secret"))
			mustClose(t, db)

			db, err = scdb.Open(path, tc.open)
			if tc.openErr != nil {
				if err == nil {
					db.Close()
					t.Fatalf("Open succeeded, want %v", tc.openErr)
				}
				if !errors.Is(err, tc.openErr) {
					t.Fatalf("Open: %v, want %v", err, tc.openErr)
				}
				if errors.Is(err, scdb.ErrCorrupt) {
					t.Fatalf("Open with a bad credential reports corruption: %v", err)
				}
				// The file is still fine for the right credential.
				db = mustOpen(t, path, tc.create)
				defer db.Close()
				mustGetValue(t, db, "l", "id", []byte("secret"))
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()
			mustGetValue(t, db, "l", "id", []byte("secret"))
		})
	}
}

func TestUpsertReplacesNeverDuplicates(t *testing.T) {
	db := newDB(t)
	for i := range 5 {
		mustPut(t, db, "people", "alice", []byte(fmt.Sprintf(`{"age": %d}`, 30+i)))
		mustPut(t, db, "people", "bob", []byte(strings.Repeat("b", 100*i)))
	}
	// A replacement inside one transaction, and from an inline value to a
	// chained one and back.
	err := db.Update(func(tx *scdb.Tx) error {
		l := tx.List("people")
		for _, v := range [][]byte{fill(9000, 1), []byte("small"), fill(20000, 2), []byte(`{"age": 99}`)} {
			if err := l.Put("carol", v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []kv{{"alice", []byte(`{"age": 34}`)}, {"bob", []byte(strings.Repeat("b", 400))}, {"carol", []byte(`{"age": 99}`)}}
	checkList(t, db, "people", want)
	reopen(t, &db)
	checkList(t, db, "people", want)
}

// checkList checks Len, Bytes, All and Get of list in a fresh snapshot
// against want, sorted by id.
func checkList(t *testing.T, db *scdb.DB, list string, want []kv) {
	t.Helper()
	err := db.View(func(tx *scdb.Tx) error {
		checkListTx(t, tx.List(list), want)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkListTx(t *testing.T, l *scdb.List, want []kv) {
	t.Helper()
	var wantBytes int64
	for _, r := range want {
		wantBytes += int64(len(r.value))
	}
	if n := l.Len(); n != int64(len(want)) {
		t.Errorf("list %q: Len %d, want %d", l.Name(), n, len(want))
	}
	if n := l.Bytes(); n != wantBytes {
		t.Errorf("list %q: Bytes %d, want %d", l.Name(), n, wantBytes)
	}
	got := collect(t, l.All())
	if !equalKVs(got, want) {
		t.Fatalf("list %q: All gave %s, want %s", l.Name(), describeKVs(got), describeKVs(want))
	}
	for _, r := range want {
		v, err := l.Get(r.id)
		if err != nil || !bytes.Equal(v, r.value) {
			t.Fatalf("list %q: Get(%.40q): %d bytes, %v; want %d bytes", l.Name(), r.id, len(v), err, len(r.value))
		}
	}
}

func TestMissingRecordAndList(t *testing.T) {
	db := newDB(t)
	mustPut(t, db, "l", "here", []byte("x"))
	cases := []struct{ list, id string }{{"l", "absent"}, {"l", ""}, {"l", "her"}, {"l", "here\x00"}, {"nolist", "here"}}
	for _, c := range cases {
		if _, err := db.Get(c.list, c.id); !errors.Is(err, scdb.ErrNotFound) {
			t.Errorf("db.Get(%q, %q): %v, want ErrNotFound", c.list, c.id, err)
		}
		if err := db.Delete(c.list, c.id); !errors.Is(err, scdb.ErrNotFound) {
			t.Errorf("db.Delete(%q, %q): %v, want ErrNotFound", c.list, c.id, err)
		}
		err := db.View(func(tx *scdb.Tx) error {
			if rec, err := tx.List(c.list).Open(c.id); !errors.Is(err, scdb.ErrNotFound) || rec != nil {
				t.Errorf("Open(%q, %q): %v, %v; want nil, ErrNotFound", c.list, c.id, rec, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := db.Update(func(tx *scdb.Tx) error {
		if err := tx.DeleteList("nolist"); !errors.Is(err, scdb.ErrNotFound) {
			t.Errorf("DeleteList of a missing list: %v, want ErrNotFound", err)
		}
		if n := tx.List("nolist").Len(); n != 0 {
			t.Errorf("Len of a missing list: %d", n)
		}
		if got := collect(t, tx.List("nolist").All()); len(got) != 0 {
			t.Errorf("All of a missing list gave %s", describeKVs(got))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A failed Delete changed nothing.
	checkList(t, db, "l", []kv{{"here", []byte("x")}})
	checkLists(t, db, "l")
}

func TestDeleteList(t *testing.T) {
	db := newDB(t)
	err := db.Update(func(tx *scdb.Tx) error {
		for _, name := range []string{"a", "b", "c"} {
			for i := range 300 {
				if err := tx.List(name).Put(fmt.Sprintf("%s%04d", name, i), fill(i*37%5000, uint64(i))); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	gen := db.Generation()
	err = db.Update(func(tx *scdb.Tx) error {
		if err := tx.DeleteList("b"); err != nil {
			return err
		}
		// Gone at once within the transaction.
		if n := tx.List("b").Len(); n != 0 {
			t.Errorf("Len after DeleteList: %d", n)
		}
		if _, err := tx.List("b").Get("b0001"); !errors.Is(err, scdb.ErrNotFound) {
			t.Errorf("Get after DeleteList: %v", err)
		}
		if got := collectNames(t, tx.Lists()); !slices.Equal(got, []string{"a", "c"}) {
			t.Errorf("Lists in the transaction after DeleteList: %q", got)
		}
		if err := tx.DeleteList("b"); !errors.Is(err, scdb.ErrNotFound) {
			t.Errorf("second DeleteList: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if g := db.Generation(); g != gen+1 {
		t.Errorf("generation %d after DeleteList, want %d", g, gen+1)
	}
	checkLists(t, db, "a", "c")
	checkList(t, db, "b", nil)
	if n := listLen(t, db, "a"); n != 300 {
		t.Errorf("list a has %d records after deleting list b", n)
	}
	// The name can be used again, starting empty.
	mustPut(t, db, "b", "new", []byte("v"))
	checkList(t, db, "b", []kv{{"new", []byte("v")}})
	checkLists(t, db, "a", "b", "c")

	// DeleteList and recreate in one transaction.
	err = db.Update(func(tx *scdb.Tx) error {
		if err := tx.DeleteList("a"); err != nil {
			return err
		}
		return tx.List("a").Put("only", []byte("1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	checkList(t, db, "a", []kv{{"only", []byte("1")}})
	reopen(t, &db)
	checkList(t, db, "a", []kv{{"only", []byte("1")}})
	checkList(t, db, "b", []kv{{"new", []byte("v")}})
	if n := listLen(t, db, "c"); n != 300 {
		t.Errorf("list c has %d records", n)
	}
}

// A list whose last record is deleted stops existing.
func TestListEndsWithItsLastRecord(t *testing.T) {
	db := newDB(t)
	mustPut(t, db, "x", "1", nil)
	mustPut(t, db, "y", "1", nil)
	if err := db.Delete("x", "1"); err != nil {
		t.Fatal(err)
	}
	checkLists(t, db, "y")
	err := db.Update(func(tx *scdb.Tx) error {
		if err := tx.DeleteList("x"); !errors.Is(err, scdb.ErrNotFound) {
			t.Errorf("DeleteList of an emptied list: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestListsInByteOrder(t *testing.T) {
	db := newDB(t)
	names := []string{"b", "a", "B", "a\x00", "ä", "\xff", "10", "9", "", " ", "aa", "a b", strings.Repeat("z", 1024)}
	for _, n := range names {
		mustPut(t, db, n, "id", []byte(n))
	}
	want := slices.Clone(names)
	slices.Sort(want) // Go compares strings bytewise
	got, err := db.Lists()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Lists: %q\nwant %q", got, want)
	}
	// Each list holds its own record.
	for _, n := range names {
		mustGetValue(t, db, n, "id", []byte(n))
	}
	// Stopping early is allowed.
	err = db.View(func(tx *scdb.Tx) error {
		for name, err := range tx.Lists() {
			if err != nil || name != want[0] {
				t.Errorf("first list %q, %v", name, err)
			}
			break
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAppend(t *testing.T) {
	db := newDB(t)
	// The application Puts the ids Append would pick next, in its
	// 16-hex-digit form: Append must step over them.
	taken := map[string][]byte{}
	for i := range 4 {
		id := fmt.Sprintf("%016x", i*2)
		taken[id] = []byte("put by the app " + id)
		mustPut(t, db, "log", id, taken[id])
	}
	var ids []string
	appendN := func(n int) {
		t.Helper()
		err := db.Update(func(tx *scdb.Tx) error {
			for range n {
				v := []byte(fmt.Sprintf("appended %d", len(ids)))
				id, err := tx.List("log").Append(v)
				if err != nil {
					return err
				}
				if len(ids) > 0 && id <= ids[len(ids)-1] {
					t.Errorf("Append id %q after %q: not increasing", id, ids[len(ids)-1])
				}
				if _, ok := taken[id]; ok {
					t.Errorf("Append reused the id %q the application put", id)
				}
				got, err := tx.List("log").Get(id)
				if err != nil || !bytes.Equal(got, v) {
					t.Errorf("Get(%q) right after Append: %q, %v", id, got, err)
				}
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	appendN(10)
	reopen(t, &db)
	appendN(5)
	// Deleting the last appended record must not make Append reuse its id.
	if err := db.Delete("log", ids[len(ids)-1]); err != nil {
		t.Fatal(err)
	}
	appendN(3)
	// A rolled-back Append leaves no trace.
	errRollback := errors.New("roll back")
	err := db.Update(func(tx *scdb.Tx) error {
		if _, err := tx.List("log").Append([]byte("gone")); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	appendN(2)

	for id, v := range taken {
		mustGetValue(t, db, "log", id, v)
	}
	n := listLen(t, db, "log")
	if want := int64(len(taken) + len(ids) - 1); n != want {
		t.Errorf("Len %d, want %d", n, want)
	}
	// Appended records come back in Append order.
	var order []string
	for rec, err := range db.Records("log") {
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := taken[rec.ID()]; !ok {
			order = append(order, rec.ID())
		}
	}
	wantOrder := slices.Delete(slices.Clone(ids), 14, 15)
	if !slices.Equal(order, wantOrder) {
		t.Errorf("appended ids in list order %q, want %q", order, wantOrder)
	}
}

func TestFrom(t *testing.T) {
	db := newDB(t)
	ids := []string{"", "a", "b", "b\x00", "ba", "d", "d\xff", "e", strings.Repeat("f", 1024)}
	err := db.Update(func(tx *scdb.Tx) error {
		for _, id := range ids {
			if err := tx.List("l").Put(id, []byte("v"+id)); err != nil {
				return err
			}
		}
		// A list deep enough to have several leaves.
		for i := range 2000 {
			if err := tx.List("big").Put(fmt.Sprintf("%06d", i*2), fill(i%50, uint64(i))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *scdb.Tx) error {
		for _, from := range []string{"", "\x00", "a", "a\x00", "b", "b\x00", "b\x01", "c", "d", "dz", "e", "f", strings.Repeat("f", 1025), "g", "\xff"} {
			var want []string
			for _, id := range ids {
				if id >= from {
					want = append(want, id)
				}
			}
			var got []string
			for rec, err := range tx.List("l").From(from) {
				if err != nil {
					return err
				}
				if v, err := rec.Value(); err != nil || string(v) != "v"+rec.ID() {
					t.Errorf("From(%q): record %q holds %q, %v", from, rec.ID(), v, err)
				}
				got = append(got, rec.ID())
			}
			if !slices.Equal(got, want) {
				t.Errorf("From(%q) gave %q, want %q", from, got, want)
			}
		}
		for _, n := range []int{0, 1, 2, 777, 1999, 2000, 3998, 3999, 4000} {
			from := fmt.Sprintf("%06d", n)
			first := (n + 1) / 2 // the first i with 2i >= n
			var got []string
			for rec, err := range tx.List("big").From(from) {
				if err != nil {
					return err
				}
				got = append(got, rec.ID())
				if len(got) == 3 {
					break
				}
			}
			var want []string
			for i := first; i < min(first+3, 2000); i++ {
				want = append(want, fmt.Sprintf("%06d", i*2))
			}
			if !slices.Equal(got, want) {
				t.Errorf("big From(%q) gave %q, want %q", from, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIDSizes(t *testing.T) {
	if m := scdb.MaxIDSize(4096); m < 1024 {
		t.Fatalf("MaxIDSize(4096) = %d, want at least 1024", m)
	}
	for _, pageSize := range []int{1024, 4096, 65536} {
		t.Run(fmt.Sprint(pageSize), func(t *testing.T) {
			maxID := scdb.MaxIDSize(pageSize)
			if maxID < 64 {
				t.Fatalf("MaxIDSize(%d) = %d", pageSize, maxID)
			}
			db := newDB(t, scdb.Options{PageSize: pageSize})
			// Ids at the limit, differing only in their last byte, and the
			// longest with the biggest value: the tree must keep them all.
			long := func(last byte) string { return strings.Repeat("i", maxID-1) + string(last) }
			var want []kv
			for _, id := range []string{"", "x", strings.Repeat("k", min(1024, maxID)), long('a'), long('b'), long('c'), long('d')} {
				want = append(want, kv{id, fill(len(id)%3000+1, uint64(len(id)))})
			}
			want = append(want, kv{long('z'), fill(3*pageSize, 7)})
			err := db.Update(func(tx *scdb.Tx) error {
				for _, r := range want {
					if err := tx.List("l").Put(r.id, r.value); err != nil {
						return fmt.Errorf("Put %d-byte id: %w", len(r.id), err)
					}
				}
				// The longest list name works too.
				return tx.List(long('n')).Put(long('n'), []byte("both at the limit"))
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(want, func(a, b kv) int { return strings.Compare(a.id, b.id) })
			checkList(t, db, "l", want)
			mustGetValue(t, db, long('n'), long('n'), []byte("both at the limit"))

			tooLong := strings.Repeat("t", maxID+1)
			err = db.Update(func(tx *scdb.Tx) error {
				l := tx.List("l")
				checks := []struct {
					what string
					err  error
				}{
					{"Put", l.Put(tooLong, []byte("v"))},
					{"PutReader", l.PutReader(tooLong, strings.NewReader("v"))},
					{"Put into a too-long list name", tx.List(tooLong).Put("id", []byte("v"))},
					{"Append to a too-long list name", appendErr(tx.List(tooLong))},
					{"Delete", l.Delete(tooLong)},
				}
				for _, c := range checks {
					if !errors.Is(c.err, scdb.ErrTooLarge) {
						t.Errorf("%s with a %d-byte id/name (max %d): %v, want ErrTooLarge", c.what, maxID+1, maxID, c.err)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			checkList(t, db, "l", want)
			checkLists(t, db, long('n'), "l") // "iii...n" < "l"
			// Deleting at the limit works.
			if err := db.Delete("l", long('b')); err != nil {
				t.Fatal(err)
			}
			if err := db.Delete("l", ""); err != nil {
				t.Fatal(err)
			}
			want = slices.DeleteFunc(want, func(r kv) bool { return r.id == long('b') || r.id == "" })
			reopen(t, &db)
			checkList(t, db, "l", want)
		})
	}
}

func appendErr(l *scdb.List) error {
	_, err := l.Append([]byte("v"))
	return err
}

func TestValueSizes(t *testing.T) {
	for _, pageSize := range []int{1024, 4096} {
		t.Run(fmt.Sprint(pageSize), func(t *testing.T) {
			db := newDB(t, scdb.Options{PageSize: pageSize})
			sizes := []int{0, 1, 2, 63, 64, 65, 255, 256, 257}
			// Around the largest inline value and the page's payload.
			for _, base := range []int{pageSize / 4, pageSize / 3, pageSize - 40, pageSize} {
				for d := -8; d <= 8; d += 2 {
					sizes = append(sizes, base+d)
				}
			}
			sizes = append(sizes, 3*pageSize+7, 10*pageSize, 64*(pageSize-40)+1, 1<<20+3)
			var want []kv
			err := db.Update(func(tx *scdb.Tx) error {
				l := tx.List("v")
				for i, size := range sizes {
					id := fmt.Sprintf("%08d", i)
					v := fill(size, uint64(i))
					var err error
					if i%2 == 0 {
						err = l.Put(id, v)
					} else {
						err = l.PutReader(id, &chunkReader{r: bytes.NewReader(v), sizes: []int{1, 7, 4096, 100}})
					}
					if err != nil {
						return fmt.Errorf("%d-byte value: %w", size, err)
					}
					want = append(want, kv{id, v})
				}
				checkRecords(t, l, want)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			err = db.View(func(tx *scdb.Tx) error { checkRecords(t, tx.List("v"), want); return nil })
			if err != nil {
				t.Fatal(err)
			}
			reopen(t, &db)
			checkList(t, db, "v", want)
		})
	}
}

// checkRecords reads every record of want through Open with Value and with
// Reader (read in odd chunk sizes and through io.Copy), and checks Size.
func checkRecords(t *testing.T, l *scdb.List, want []kv) {
	t.Helper()
	for _, r := range want {
		rec, err := l.Open(r.id)
		if err != nil {
			t.Fatalf("Open(%q): %v", r.id, err)
		}
		if rec.ID() != r.id || rec.Size() != int64(len(r.value)) {
			t.Fatalf("Open(%q): record %q of size %d, want size %d", r.id, rec.ID(), rec.Size(), len(r.value))
		}
		v, err := rec.Value()
		if err != nil || !bytes.Equal(v, r.value) {
			t.Fatalf("Value of %q: %d bytes, %v; want %d bytes", r.id, len(v), err, len(r.value))
		}
		got, err := readChunks(rec.Reader(), []int{3, 1000, 1, 5000})
		if err != nil || !bytes.Equal(got, r.value) {
			t.Fatalf("Reader of %q (odd reads): %d bytes, %v; want %d bytes equal to Value", r.id, len(got), err, len(r.value))
		}
		var buf bytes.Buffer
		if n, err := io.Copy(&buf, rec.Reader()); err != nil || n != int64(len(r.value)) || !bytes.Equal(buf.Bytes(), r.value) {
			t.Fatalf("io.Copy of Reader of %q: %d bytes, %v; want %d bytes", r.id, n, err, len(r.value))
		}
	}
	// The loop's records stream the same bytes.
	i := 0
	for rec, err := range l.All() {
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) || rec.ID() != want[i].id {
			t.Fatalf("All: record %d is %q", i, rec.ID())
		}
		got, err := io.ReadAll(rec.Reader())
		if err != nil || !bytes.Equal(got, want[i].value) {
			t.Fatalf("All: Reader of %q: %d bytes, %v; want %d", rec.ID(), len(got), err, len(want[i].value))
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("All gave %d records, want %d", i, len(want))
	}
}

// A value bigger than the last one read from a reader with an error keeps
// nothing of it; the old value stays.
func TestPutReaderError(t *testing.T) {
	db := newDB(t)
	mustPut(t, db, "l", "id", []byte("old"))
	boom := errors.New("source failed")
	for _, after := range []int{0, 10, 5000, 100000} {
		err := db.Update(func(tx *scdb.Tx) error {
			err := tx.List("l").PutReader("id", io.MultiReader(bytes.NewReader(fill(after, 1)), errorReader{boom}))
			if !errors.Is(err, boom) {
				t.Errorf("PutReader with a reader failing after %d bytes: %v, want the reader's error", after, err)
			}
			err = tx.List("l").PutReader("new", io.MultiReader(bytes.NewReader(fill(after, 1)), errorReader{boom}))
			if !errors.Is(err, boom) {
				t.Errorf("PutReader of a new id failing after %d bytes: %v", after, err)
			}
			checkListTx(t, tx.List("l"), []kv{{"id", []byte("old")}})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	checkList(t, db, "l", []kv{{"id", []byte("old")}})
}

func TestRecordAfterTxEnds(t *testing.T) {
	db := newDB(t)
	mustPut(t, db, "l", "small", []byte("inline"))
	mustPut(t, db, "l", "big", fill(50000, 3))
	var kept []*scdb.Record
	for _, writable := range []bool{false, true} {
		tx, err := db.Begin(writable)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		base := len(kept)
		for _, id := range []string{"small", "big"} {
			rec, err := tx.List("l").Open(id)
			if err != nil {
				t.Fatal(err)
			}
			kept = append(kept, rec)
		}
		for rec, err := range tx.List("l").All() {
			if err != nil {
				t.Fatal(err)
			}
			kept = append(kept, rec) // kept past its loop step, against the rules
		}
		if got, err := io.ReadAll(kept[base+1].Reader()); err != nil || !bytes.Equal(got, fill(50000, 3)) {
			t.Fatalf("Reader in the transaction: %d bytes, %v", len(got), err)
		}
		if writable {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Views ending through db.View and db.Records, too.
	err := db.View(func(tx *scdb.Tx) error {
		rec, err := tx.List("l").Open("big")
		kept = append(kept, rec)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for rec, err := range db.Records("l") {
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, rec)
	}
	for i, rec := range kept {
		if v, err := rec.Value(); !errors.Is(err, scdb.ErrTxDone) || v != nil {
			t.Errorf("record %d (%q): Value after its transaction ended: %d bytes, %v; want ErrTxDone", i, rec.ID(), len(v), err)
		}
		if n, err := rec.Reader().Read(make([]byte, 10)); !errors.Is(err, scdb.ErrTxDone) || n != 0 {
			t.Errorf("record %d (%q): Reader after its transaction ended: %d bytes, %v; want ErrTxDone", i, rec.ID(), n, err)
		}
	}
}

func TestUpdateErrorKeepsNothing(t *testing.T) {
	db := newDB(t)
	mustPut(t, db, "keep", "a", []byte("1"))
	mustPut(t, db, "drop", "x", []byte("2"))
	gen := db.Generation()
	boom := errors.New("application error")
	err := db.Update(func(tx *scdb.Tx) error {
		// Over 4 MiB of dirty leaves (three 1200-byte inline values to a
		// 4 KiB leaf), so that the transaction spills pages to the file.
		for i := range 5000 {
			if err := tx.List("keep").Put(fmt.Sprintf("n%05d", i), fill(1200, uint64(i))); err != nil {
				return err
			}
		}
		if err := tx.List("keep").Put("a", []byte("changed")); err != nil {
			return err
		}
		if err := tx.DeleteList("drop"); err != nil {
			return err
		}
		if _, err := tx.List("new").Append([]byte("x")); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	if g := db.Generation(); g != gen {
		t.Errorf("generation %d after a failed Update, want %d", g, gen)
	}
	check := func() {
		t.Helper()
		checkLists(t, db, "drop", "keep")
		checkList(t, db, "keep", []kv{{"a", []byte("1")}})
		checkList(t, db, "drop", []kv{{"x", []byte("2")}})
	}
	check()

	// A panic in fn keeps nothing either, and releases the writer.
	func() {
		defer func() {
			if r := recover(); r != "oops" {
				t.Errorf("recovered %v", r)
			}
		}()
		db.Update(func(tx *scdb.Tx) error {
			tx.List("keep").Put("a", []byte("panicked"))
			panic("oops")
		})
	}()
	check()
	mustPut(t, db, "after", "p", nil) // the writer is free again
	reopen(t, &db)
	checkLists(t, db, "after", "drop", "keep")
	checkList(t, db, "keep", []kv{{"a", []byte("1")}})
}

func TestWritesInViewAreReadOnly(t *testing.T) {
	db := newDB(t)
	mustPut(t, db, "l", "id", []byte("v"))
	err := db.View(func(tx *scdb.Tx) error {
		if tx.Writable() {
			t.Error("a View's transaction says it is writable")
		}
		checkReadOnlyTx(t, tx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, scdb.ErrReadOnly) {
		t.Errorf("Commit of a read-only transaction: %v, want ErrReadOnly", err)
	}
	if err := tx.Rollback(); !errors.Is(err, scdb.ErrTxDone) {
		t.Errorf("Rollback after Commit of a read-only transaction: %v, want ErrTxDone", err)
	}
	checkList(t, db, "l", []kv{{"id", []byte("v")}})
}

// checkReadOnlyTx checks that every write through tx fails with
// ErrReadOnly.
func checkReadOnlyTx(t *testing.T, tx *scdb.Tx) {
	t.Helper()
	l := tx.List("l")
	checks := []struct {
		what string
		err  error
	}{
		{"Put", l.Put("id", []byte("w"))},
		{"Put new", l.Put("new", []byte("w"))},
		{"PutReader", l.PutReader("id", strings.NewReader("w"))},
		{"Append", appendErr(l)},
		{"Delete", l.Delete("id")},
		{"Delete missing", l.Delete("missing")},
		{"DeleteList", tx.DeleteList("l")},
		{"Put in a new list", tx.List("other").Put("id", nil)},
	}
	for _, c := range checks {
		if !errors.Is(c.err, scdb.ErrReadOnly) {
			t.Errorf("%s in a read-only transaction: %v, want ErrReadOnly", c.what, c.err)
		}
	}
	if v, err := l.Get("id"); err != nil || string(v) != "v" {
		t.Errorf("Get after refused writes: %q, %v", v, err)
	}
}

func TestReadOnlyOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.scdb")
	db := mustCreate(t, path, scdb.Options{Key: testKey})
	mustPut(t, db, "l", "id", []byte("v"))
	mustClose(t, db)
	before := readFile(t, path)

	db = mustOpen(t, path, scdb.Options{Key: testKey, ReadOnly: true})
	defer db.Close()
	gen := db.Generation()
	if err := db.Update(func(tx *scdb.Tx) error {
		t.Error("Update ran its function on a read-only database")
		return nil
	}); !errors.Is(err, scdb.ErrReadOnly) {
		t.Errorf("Update: %v, want ErrReadOnly", err)
	}
	if tx, err := db.Begin(true); !errors.Is(err, scdb.ErrReadOnly) {
		if tx != nil {
			tx.Rollback()
		}
		t.Errorf("Begin(true): %v, want ErrReadOnly", err)
	}
	if err := db.Put("l", "id", []byte("w")); !errors.Is(err, scdb.ErrReadOnly) {
		t.Errorf("Put: %v, want ErrReadOnly", err)
	}
	if err := db.Delete("l", "id"); !errors.Is(err, scdb.ErrReadOnly) {
		t.Errorf("Delete: %v, want ErrReadOnly", err)
	}
	if err := db.View(func(tx *scdb.Tx) error { checkReadOnlyTx(t, tx); return nil }); err != nil {
		t.Fatal(err)
	}
	mustGetValue(t, db, "l", "id", []byte("v"))
	if g := db.Generation(); g != gen {
		t.Errorf("generation moved from %d to %d", gen, g)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); !bytes.Equal(got, before) {
		t.Error("a read-only session changed the file")
	}
}

// TestLocked: one writer at a time. On Linux readers share the file with
// the writer (each sees a committed state); elsewhere the writer's lock
// keeps them out.
func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.scdb")
	db := mustCreate(t, path, scdb.Options{Key: testKey})
	mustPut(t, db, "l", "id", []byte("v"))

	if other, err := scdb.Open(path, scdb.Options{Key: testKey}); !errors.Is(err, scdb.ErrLocked) {
		if err == nil {
			other.Close()
		}
		t.Errorf("second writer beside an open writer: %v, want ErrLocked", err)
	}
	r, err := scdb.Open(path, scdb.Options{Key: testKey, ReadOnly: true})
	switch {
	case sharedReaders && err != nil:
		t.Fatalf("reader beside the writer: %v", err)
	case sharedReaders:
		mustGetValue(t, r, "l", "id", []byte("v"))
		mustPut(t, db, "l", "id2", []byte("w"))
		mustGetValue(t, r, "l", "id2", []byte("w")) // the reader sees the new commit
		mustClose(t, r)
	case !errors.Is(err, scdb.ErrLocked):
		t.Errorf("reader beside an open writer: %v, want ErrLocked", err)
	default:
		mustPut(t, db, "l", "id2", []byte("w"))
	}
	mustClose(t, db)

	// Readers share; a writer joins them only where readers are shared.
	r1 := mustOpen(t, path, scdb.Options{Key: testKey, ReadOnly: true})
	r2 := mustOpen(t, path, scdb.Options{Key: testKey, ReadOnly: true})
	w, err := scdb.Open(path, scdb.Options{Key: testKey})
	if sharedReaders != (err == nil) || (!sharedReaders && !errors.Is(err, scdb.ErrLocked)) {
		t.Errorf("writable Open beside readers: %v (readers shared: %v)", err, sharedReaders)
	}
	if err == nil {
		mustClose(t, w)
	}
	mustGetValue(t, r2, "l", "id2", []byte("w"))
	mustClose(t, r1)
	mustClose(t, r2)

	// Closing releases the lock.
	db = mustOpen(t, path, scdb.Options{Key: testKey})
	mustGetValue(t, db, "l", "id", []byte("v"))
	mustClose(t, db)
}

// sharedReaders: readers may open a file beside its writer (Linux).
const sharedReaders = runtime.GOOS == "linux"

func TestClosed(t *testing.T) {
	db := newDB(t)
	mustPut(t, db, "l", "id", []byte("v"))
	mustPut(t, db, "l", "big", fill(20000, 1))
	snap, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := snap.List("l").Open("big")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); !errors.Is(err, scdb.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	ops := []struct {
		what string
		err  error
	}{
		{"Update", db.Update(func(*scdb.Tx) error { t.Error("Update ran after Close"); return nil })},
		{"View", db.View(func(*scdb.Tx) error { t.Error("View ran after Close"); return nil })},
		{"Begin(true)", beginErr(db, true)},
		{"Begin(false)", beginErr(db, false)},
		{"Put", db.Put("l", "id", nil)},
		{"Get", second(db.Get("l", "id"))},
		{"Delete", db.Delete("l", "id")},
		{"Lists", second(db.Lists())},
		{"Records", firstErr(db.Records("l"))},
		// A snapshot open across Close.
		{"snapshot Get", second(snap.List("l").Get("id"))},
		{"snapshot Open", second(snap.List("l").Open("id"))},
		{"snapshot All", firstErr(snap.List("l").All())},
		{"snapshot Lists", firstErrNames(snap.Lists())},
		{"snapshot record Value", second(rec.Value())},
		{"snapshot record Reader", second(rec.Reader().Read(make([]byte, 1)))},
	}
	for _, op := range ops {
		if !errors.Is(op.err, scdb.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", op.what, op.err)
		}
	}
	snap.Rollback()
}

func beginErr(db *scdb.DB, writable bool) error {
	tx, err := db.Begin(writable)
	if err == nil {
		tx.Rollback()
	}
	return err
}

func second[T any](_ T, err error) error { return err }

// firstErr returns the first error a record iteration yields (nil when it
// yields none).
func firstErr(seq func(func(*scdb.Record, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

func firstErrNames(seq func(func(string, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

func TestTxDone(t *testing.T) {
	for _, end := range []string{"Commit", "Rollback"} {
		t.Run(end, func(t *testing.T) {
			db := newDB(t)
			mustPut(t, db, "l", "id", []byte("v"))
			tx, err := db.Begin(true)
			if err != nil {
				t.Fatal(err)
			}
			l := tx.List("l")
			if err := l.Put("new", []byte("n")); err != nil {
				t.Fatal(err)
			}
			if end == "Commit" {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
			ops := []struct {
				what string
				err  error
			}{
				{"Commit", tx.Commit()},
				{"Rollback", tx.Rollback()},
				{"Put", l.Put("x", nil)},
				{"PutReader", l.PutReader("x", strings.NewReader("x"))},
				{"Append", appendErr(l)},
				{"Get", second(l.Get("id"))},
				{"Open", second(l.Open("id"))},
				{"Delete", l.Delete("id")},
				{"DeleteList", tx.DeleteList("l")},
				{"All", firstErr(l.All())},
				{"From", firstErr(l.From("a"))},
				{"Lists", firstErrNames(tx.Lists())},
				{"new list handle Put", tx.List("l2").Put("x", nil)},
			}
			for _, op := range ops {
				if !errors.Is(op.err, scdb.ErrTxDone) {
					t.Errorf("%s after %s: %v, want ErrTxDone", op.what, end, op.err)
				}
			}
			if n := l.Len(); n != 0 {
				t.Errorf("Len after %s: %d (documented to be usable only in the transaction)", end, n)
			}
			want := []kv{{"id", []byte("v")}}
			if end == "Commit" {
				want = []kv{{"id", []byte("v")}, {"new", []byte("n")}}
			}
			checkList(t, db, "l", want)
			// The writer is free again.
			mustPut(t, db, "l", "after", nil)
		})
	}
}

// TestTxEndsMidIteration: a loop whose transaction is rolled back inside
// the loop body yields ErrTxDone instead of reading on.
func TestTxEndsMidIteration(t *testing.T) {
	db := newDB(t)
	err := db.Update(func(tx *scdb.Tx) error {
		for i := range 100 {
			if err := tx.List("l").Put(fmt.Sprintf("%03d", i), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var last error
	for _, err := range tx.List("l").All() {
		if err != nil {
			last = err
			break
		}
		n++
		if n == 10 {
			tx.Rollback()
		}
	}
	if n != 10 || !errors.Is(last, scdb.ErrTxDone) {
		t.Errorf("loop ran %d steps and ended with %v; want 10 steps then ErrTxDone", n, last)
	}
}

// TestSnapshotIsolation: a View iterating a list while other goroutines'
// Updates rewrite, delete and add records sees its snapshot exactly: the
// pages it can reach are not reused while it is open.
func TestSnapshotIsolation(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024, CacheSize: 16 << 10}) // small pages and cache: deep trees, real reads
	const n = 600
	valueOf := func(i, version int) []byte { return fill(i%7*700, uint64(i*1000+version)) }
	err := db.Update(func(tx *scdb.Tx) error {
		for i := range n {
			if err := tx.List("l").Put(fmt.Sprintf("%05d", i), valueOf(i, 0)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	snapGen := db.Generation()

	const readers = 3
	var wg sync.WaitGroup
	started := make(chan struct{}, readers)
	proceed := make(chan struct{})
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.View(func(tx *scdb.Tx) error {
				if tx.Generation() != snapGen {
					return fmt.Errorf("snapshot at generation %d, want %d", tx.Generation(), snapGen)
				}
				l := tx.List("l")
				i := 0
				for rec, err := range l.All() {
					if err != nil {
						return err
					}
					if i == 50*(r+1) {
						started <- struct{}{}
						<-proceed // the writers change everything now
					}
					if want := fmt.Sprintf("%05d", i); rec.ID() != want {
						return fmt.Errorf("reader %d: record %d is %q, want %q", r, i, rec.ID(), want)
					}
					v, err := rec.Value()
					if err != nil {
						return fmt.Errorf("reader %d: Value of %q: %w", r, rec.ID(), err)
					}
					if !bytes.Equal(v, valueOf(i, 0)) {
						return fmt.Errorf("reader %d: record %q changed under the snapshot", r, rec.ID())
					}
					i++
				}
				if i != n {
					return fmt.Errorf("reader %d saw %d records, want %d", r, i, n)
				}
				if l.Len() != n {
					return fmt.Errorf("reader %d: Len %d after the writers", r, l.Len())
				}
				if v, err := l.Get("00001"); err != nil || !bytes.Equal(v, valueOf(1, 0)) {
					return fmt.Errorf("reader %d: Get after the writers: %v", r, err)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	for range readers {
		<-started
	}
	// Several commits, so that pages freed by the first could be reused
	// by the later ones if the snapshots did not hold them.
	for version := 1; version <= 4; version++ {
		err := db.Update(func(tx *scdb.Tx) error {
			l := tx.List("l")
			for i := range n {
				id := fmt.Sprintf("%05d", i)
				var err error
				switch (i + version) % 3 {
				case 0:
					err = l.Put(id, valueOf(i, version))
				case 1:
					if err = l.Delete(id); errors.Is(err, scdb.ErrNotFound) {
						err = nil
					}
				default:
					err = l.Put(id+"+", valueOf(i, version))
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	close(proceed)
	wg.Wait()
	if g := db.Generation(); g != snapGen+4 {
		t.Errorf("generation %d, want %d", g, snapGen+4)
	}
	// A new snapshot sees the writers' state.
	if _, err := db.Get("l", "00004+"); err != nil {
		t.Errorf("new snapshot: %v", err)
	}
}

// TestDeleteWhileIterating: records deleted (and others put) while the same
// Update iterates the list: the cursor re-seeks and visits each record
// once.
func TestDeleteWhileIterating(t *testing.T) {
	for _, pattern := range []string{"all", "every other", "ahead", "put behind"} {
		t.Run(pattern, func(t *testing.T) {
			db := newDB(t, scdb.Options{PageSize: 1024})
			const n = 1500
			err := db.Update(func(tx *scdb.Tx) error {
				for i := range n {
					if err := tx.List("l").Put(fmt.Sprintf("%05d", i), fill(i%200, uint64(i))); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var visited []string
			var wantLeft []string
			err = db.Update(func(tx *scdb.Tx) error {
				l := tx.List("l")
				for rec, err := range l.All() {
					if err != nil {
						return err
					}
					id := rec.ID()
					visited = append(visited, id)
					var i int
					fmt.Sscanf(id, "%05d", &i)
					if v, err := rec.Value(); err != nil || !bytes.Equal(v, fill(i%200, uint64(i))) {
						return fmt.Errorf("record %q: %v", id, err)
					}
					switch pattern {
					case "all":
						err = l.Delete(id)
					case "every other":
						if i%2 == 0 {
							err = l.Delete(id)
						}
					case "ahead": // delete this one and the next two
						for j := i; j < min(i+3, n); j++ {
							if e := l.Delete(fmt.Sprintf("%05d", j)); e != nil && !errors.Is(e, scdb.ErrNotFound) {
								err = e
							}
						}
					case "put behind": // replace this one, add one before the cursor
						if err = l.Put(id, []byte("new")); err == nil {
							err = l.Put(id[:4], []byte("behind"))
						}
					}
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// Ids put while iterating ("0000" at "00000".."00009", "0001"
			// at "00010".."00019", ...) sort just before the cursor's id:
			// behind it, so never visited.
			var wantVisited []string
			for i := range n {
				id := fmt.Sprintf("%05d", i)
				if pattern != "ahead" || i%3 == 0 {
					wantVisited = append(wantVisited, id)
				}
				switch pattern {
				case "every other":
					if i%2 == 1 {
						wantLeft = append(wantLeft, id)
					}
				case "put behind":
					wantLeft = append(wantLeft, id)
					if i%10 == 0 {
						wantLeft = append(wantLeft, id[:4])
					}
				}
			}
			slices.Sort(wantLeft)
			if !slices.Equal(visited, wantVisited) {
				t.Fatalf("visited %d records, want %d; first difference at %s", len(visited), len(wantVisited), firstDiff(visited, wantVisited))
			}
			var left []string
			for rec, err := range db.Records("l") {
				if err != nil {
					t.Fatal(err)
				}
				left = append(left, rec.ID())
			}
			if !slices.Equal(left, wantLeft) {
				t.Fatalf("%d records left, want %d; first difference at %s", len(left), len(wantLeft), firstDiff(left, wantLeft))
			}
			if got := listLen(t, db, "l"); got != int64(len(wantLeft)) {
				t.Errorf("Len %d, want %d", got, len(wantLeft))
			}
		})
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%d (%q vs %q)", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("%d (end)", min(len(a), len(b)))
}

func TestGeneration(t *testing.T) {
	db := newDB(t)
	g := db.Generation()
	step := func(what string, want uint64) {
		t.Helper()
		if got := db.Generation(); got != want {
			t.Fatalf("after %s: generation %d, want %d", what, got, want)
		}
		g = want
	}
	mustPut(t, db, "l", "a", nil)
	step("Put", g+1)
	if err := db.Update(func(tx *scdb.Tx) error {
		if tx.Generation() != g {
			t.Errorf("writable tx generation %d, want %d", tx.Generation(), g)
		}
		for i := range 100 {
			if err := tx.List("l").Put(fmt.Sprint(i), nil); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	step("Update of 100 Puts", g+1)
	if err := db.Update(func(*scdb.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	step("empty Update", g+1)
	db.Update(func(tx *scdb.Tx) error { tx.List("l").Put("x", nil); return errors.New("no") })
	step("failed Update", g)
	if err := db.View(func(*scdb.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	step("View", g)
	db.Delete("l", "missing")
	step("Delete of a missing id", g)
	tx, err := db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	tx.List("l").Put("y", nil)
	tx.Rollback()
	step("Rollback", g)
	tx, err = db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	tx.List("l").Put("y", nil)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	step("Commit", g+1)
	reopen(t, &db)
	step("reopen", g)
	for range 5 {
		mustPut(t, db, "l", "z", nil)
		step("Put after reopen", g+1)
	}
}

// ---- helpers shared by the package's tests ----

var testKey = bytes.Repeat([]byte{0x5c}, 32)

type kv struct {
	id    string
	value []byte
}

func equalKVs(a, b []kv) bool {
	return slices.EqualFunc(a, b, func(x, y kv) bool { return x.id == y.id && bytes.Equal(x.value, y.value) })
}

func describeKVs(rs []kv) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d records [", len(rs))
	for i, r := range rs {
		if i == 8 {
			b.WriteString(" ...")
			break
		}
		fmt.Fprintf(&b, " %.20q:%d", r.id, len(r.value))
	}
	b.WriteString(" ]")
	return b.String()
}

// fataler is what the helpers need of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// collect reads a record iteration into memory, failing the test on an
// error.
func collect(t fataler, seq func(func(*scdb.Record, error) bool)) []kv {
	t.Helper()
	var out []kv
	for rec, err := range seq {
		if err != nil {
			t.Fatalf("iteration: %v", err)
		}
		v, err := rec.Value()
		if err != nil {
			t.Fatalf("Value of %q: %v", rec.ID(), err)
		}
		if int64(len(v)) != rec.Size() {
			t.Fatalf("record %q: Size %d, Value of %d bytes", rec.ID(), rec.Size(), len(v))
		}
		out = append(out, kv{rec.ID(), v})
	}
	return out
}

func collectNames(t fataler, seq func(func(string, error) bool)) []string {
	t.Helper()
	var out []string
	for name, err := range seq {
		if err != nil {
			t.Fatalf("Lists: %v", err)
		}
		out = append(out, name)
	}
	return out
}

// fill returns size deterministic pseudo-random bytes drawn from seed.
func fill(size int, seed uint64) []byte {
	b := make([]byte, size)
	fillInto(b, seed, 0)
	return b
}

// fillInto writes the bytes at offset off.. of the stream fill(∞, seed)
// into b: a splitmix64 sequence, so a generator can stream a huge value.
func fillInto(b []byte, seed uint64, off int64) {
	word := uint64(off / 8)
	skip := int(off % 8)
	for i := 0; i < len(b); {
		x := mix(seed*0x9e3779b97f4a7c15 + word)
		for j := skip; j < 8 && i < len(b); j++ {
			b[i] = byte(x >> (8 * j))
			i++
		}
		skip = 0
		word++
	}
}

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// newDB creates a database in a temporary directory with testKey, NoSync
// (the tests do not cut power) and the given options, and closes it at the
// end of the test.
func newDB(t testing.TB, opts ...scdb.Options) *scdb.DB {
	t.Helper()
	var o scdb.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Key == nil && o.Passphrase == nil {
		o.Key = testKey
	}
	o.NoSync = true
	path := filepath.Join(t.TempDir(), "db.scdb")
	db := mustCreate(t, path, o)
	paths.Store(db, dbInfo{path, o})
	t.Cleanup(func() {
		d, ok := current.LoadAndDelete(path)
		if !ok {
			return
		}
		paths.Delete(d)
		// Close waits for an open writable transaction: a test that
		// failed while holding one would hang here.
		done := make(chan struct{})
		go func() { d.(*scdb.DB).Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Close blocked: the test left a writable transaction open")
		}
	})
	current.Store(path, db)
	return db
}

type dbInfo struct {
	path string
	opts scdb.Options
}

var (
	paths   sync.Map // *scdb.DB -> dbInfo, for databases made by newDB
	current sync.Map // path -> the *scdb.DB open on it
)

func dbPath(t testing.TB, db *scdb.DB) string {
	t.Helper()
	info, ok := paths.Load(db)
	if !ok {
		t.Fatal("dbPath of a database not made by newDB")
	}
	return info.(dbInfo).path
}

// reopen closes *db (made by newDB) and opens its file again.
func reopen(t testing.TB, db **scdb.DB) {
	t.Helper()
	v, ok := paths.Load(*db)
	if !ok {
		t.Fatal("reopen of a database not made by newDB")
	}
	info := v.(dbInfo)
	gen := (*db).Generation()
	mustClose(t, *db)
	paths.Delete(*db)
	opts := info.opts
	opts.PageSize = 0
	*db = mustOpen(t, info.path, opts)
	// A Close that shrinks the file commits three times (DB.Shrink).
	if g := (*db).Generation(); g != gen && (g != gen+3 || info.opts.KeepFreeSpace) {
		t.Fatalf("reopened at generation %d, closed at %d", g, gen)
	}
	paths.Store(*db, info)
	current.Store(info.path, *db)
}

func mustCreate(t testing.TB, path string, opts scdb.Options) *scdb.DB {
	t.Helper()
	db, err := scdb.Create(path, opts)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return db
}

func mustOpen(t testing.TB, path string, opts scdb.Options) *scdb.DB {
	t.Helper()
	db, err := scdb.Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func mustClose(t testing.TB, db *scdb.DB) {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func mustPut(t testing.TB, db *scdb.DB, list, id string, value []byte) {
	t.Helper()
	if err := db.Put(list, id, value); err != nil {
		t.Fatalf("Put(%q, %.40q): %v", list, id, err)
	}
}

func mustGetValue(t testing.TB, db *scdb.DB, list, id string, want []byte) {
	t.Helper()
	got, err := db.Get(list, id)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Get(%q, %.40q): %d bytes, %v; want %d bytes", list, id, len(got), err, len(want))
	}
}

func checkLists(t testing.TB, db *scdb.DB, want ...string) {
	t.Helper()
	got, err := db.Lists()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Lists: %.40q, want %.40q", got, want)
	}
}

func listLen(t testing.TB, db *scdb.DB, list string) int64 {
	t.Helper()
	var n int64
	if err := db.View(func(tx *scdb.Tx) error { n = tx.List(list).Len(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chunkReader returns its data in reads of the given sizes, cycling.
type chunkReader struct {
	r     io.Reader
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	n := c.sizes[c.i%len(c.sizes)]
	c.i++
	return c.r.Read(p[:min(n, len(p))])
}

// readChunks reads r to EOF with reads of the given sizes, cycling.
func readChunks(r io.Reader, sizes []int) ([]byte, error) {
	var out []byte
	buf := make([]byte, slices.Max(sizes))
	for i := 0; ; i++ {
		n, err := r.Read(buf[:sizes[i%len(sizes)]])
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if i > 1<<26 {
			return out, errors.New("reader makes no progress")
		}
	}
}

type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }

// TestBugReaderOutlivesTx: a Reader taken from a record while its snapshot
// is open keeps reading after the snapshot ended. Once a writer has reused
// the pages the snapshot protected, it reports ErrCorrupt on a sound file
// (a false tamper alarm) instead of ErrTxDone.
func TestBugReaderOutlivesTx(t *testing.T) {
	db := newDB(t)
	mustPut(t, db, "l", "big", fill(1<<20, 1))
	var rd io.Reader
	err := db.View(func(tx *scdb.Tx) error {
		rec, err := tx.List("l").Open("big")
		if err != nil {
			return err
		}
		rd = rec.Reader()
		_, err = rd.Read(make([]byte, 100))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The snapshot is over: its pages may be reused.
	for i := range 3 {
		mustPut(t, db, "l", "big", fill(1<<20, uint64(i+2)))
	}
	n, err := io.Copy(io.Discard, rd)
	if errors.Is(err, scdb.ErrCorrupt) {
		t.Errorf("reading on after the snapshot ended reports a sound file as corrupt after %d bytes: %v", n, err)
	}
	if !errors.Is(err, scdb.ErrTxDone) {
		t.Errorf("Reader read after its transaction ended: %d bytes, %v; want ErrTxDone", n, err)
	}
	// The file is sound.
	mustGetValue(t, db, "l", "big", fill(1<<20, 4))
}

// TestBugRecordReadsAnotherRecordsValue: in a write transaction, a *Record
// opened for an id written earlier in the same transaction, read after that
// id was deleted and another id written, returns the other record's value
// with no error. Open documents the record as valid until the transaction
// ends; it must give its own value or an error, never another record's.
func TestBugRecordReadsAnotherRecordsValue(t *testing.T) {
	db := newDB(t)
	const size = 300000
	err := db.Update(func(tx *scdb.Tx) error {
		l := tx.List("l")
		if err := l.Put("b", fill(size, 1)); err != nil {
			return err
		}
		rec, err := l.Open("b")
		if err != nil {
			return err
		}
		if err := l.Delete("b"); err != nil {
			return err
		}
		if err := l.Put("c", fill(size, 2)); err != nil {
			return err
		}
		v, err := rec.Value()
		if err == nil && !bytes.Equal(v, fill(size, 1)) {
			same := bytes.Equal(v, fill(size, 2))
			t.Errorf("record %q read after Delete(%q) and Put(\"c\") returned %d bytes that are not its value (they are c's: %v), with no error", rec.ID(), "b", len(v), same)
		}
		got, err := io.ReadAll(rec.Reader())
		if err == nil && !bytes.Equal(got, fill(size, 1)) {
			t.Errorf("Reader of record %q: another record's bytes, no error", rec.ID())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBugPutValueAtInlineLimit: for every id length there is one value size
// that Put and PutReader refuse with ErrTooLarge: the largest value stored
// inline in the tree cell (on 4 KiB pages, 2020-len(id) bytes; on 1 KiB
// pages 484-len(id)). Every value size up to MaxValueSize must be storable.
func TestBugPutValueAtInlineLimit(t *testing.T) {
	for _, pageSize := range []int{1024, 4096, 65536} {
		db := newDB(t, scdb.Options{PageSize: pageSize})
		for _, idLen := range []int{0, 1, 8, 100} {
			id := strings.Repeat("i", idLen)
			var failed []int
			err := db.Update(func(tx *scdb.Tx) error {
				l := tx.List("l")
				for size := pageSize/3 - 150; size <= pageSize/3; size++ {
					v := fill(size, uint64(size))
					err := l.Put(id, v)
					if err == nil {
						err = l.PutReader(id, bytes.NewReader(v))
					}
					if errors.Is(err, scdb.ErrTooLarge) {
						failed = append(failed, size)
						continue
					}
					if err != nil {
						return err
					}
					if got, err := l.Get(id); err != nil || !bytes.Equal(got, v) {
						return fmt.Errorf("Get of a %d-byte value: %d bytes, %v", size, len(got), err)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(failed) > 0 {
				t.Errorf("%d-byte pages, %d-byte id: Put of a value of %v bytes fails with ErrTooLarge", pageSize, idLen, failed)
			}
		}
	}
}

// gateFile is a faultfile that, when armed, holds the next ReadAt until the
// gate opens, so a test can act while a read is in flight.
type gateFile struct {
	*faultfile.File
	armed   atomic.Bool
	entered chan struct{}
	gate    chan struct{}
}

func (g *gateFile) ReadAt(p []byte, off int64) (int, error) {
	if g.armed.CompareAndSwap(true, false) {
		g.entered <- struct{}{}
		<-g.gate
	}
	return g.File.ReadAt(p, off)
}

// TestBugReadRacingCloseNotErrClosed: a snapshot's read in flight when the
// database is closed fails with the file's "file already closed" error, not
// ErrClosed as Close documents ("Read snapshots still open fail with
// ErrClosed from then on"), so errors.Is(err, ErrClosed) misses it.
func TestBugReadRacingCloseNotErrClosed(t *testing.T) {
	gf := &gateFile{File: faultfile.New(nil), entered: make(chan struct{}), gate: make(chan struct{})}
	db, err := scdb.CreateFile(gf, scdb.Options{Key: testKey, CacheSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "l", "big", fill(1<<20, 1))
	tx, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	rec, err := tx.List("l").Open("big")
	if err != nil {
		t.Fatal(err)
	}
	gf.armed.Store(true)
	errc := make(chan error, 1)
	go func() {
		_, err := rec.Value()
		errc <- err
	}()
	<-gf.entered // Value is reading the file
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	close(gf.gate)
	if err := <-errc; !errors.Is(err, scdb.ErrClosed) {
		t.Errorf("Value in flight across Close: %v; want an error wrapping ErrClosed", err)
	}
}

// TestSnapshotsOfManyGenerations: snapshots taken at successive commits,
// ended in a scrambled order while more commits rewrite everything, each
// read their own state exactly: a page freed by a commit stays unused while
// any snapshot older than that commit is open.
func TestSnapshotsOfManyGenerations(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024, CacheSize: 16 << 10})
	const records, versions = 200, 8
	valueOf := func(i, version int) []byte { return fill((i*7+version)%5*900, uint64(version*records+i)) }
	update := func(version int) {
		t.Helper()
		err := db.Update(func(tx *scdb.Tx) error {
			l := tx.List("l")
			for i := range records {
				id := fmt.Sprintf("%04d", i)
				var err error
				if (i+version)%4 == 0 {
					if err = l.Delete(id); errors.Is(err, scdb.ErrNotFound) {
						err = nil
					}
				} else {
					err = l.Put(id, valueOf(i, version))
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wantAt := func(version int) []kv {
		var want []kv
		for i := range records {
			if (i+version)%4 != 0 {
				want = append(want, kv{fmt.Sprintf("%04d", i), valueOf(i, version)})
			}
		}
		return want
	}
	snaps := map[int]*scdb.Tx{}
	for v := range versions {
		update(v)
		tx, err := db.Begin(false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		snaps[v] = tx
	}
	next := versions
	for _, v := range []int{3, 0, 7, 1, 5, 2, 6, 4} {
		checkListTx(t, snaps[v].List("l"), wantAt(v))
		if err := snaps[v].Rollback(); err != nil {
			t.Fatal(err)
		}
		delete(snaps, v)
		for range 2 {
			update(next)
			next++
		}
		// The snapshots still open are intact.
		for w, tx := range snaps {
			if n := tx.List("l").Len(); n != int64(len(wantAt(w))) {
				t.Fatalf("snapshot %d: Len %d", w, n)
			}
		}
	}
	checkList(t, db, "l", wantAt(next-1))
}

// TestManyLists: thousands of lists with names up to 200 bytes make the
// directory tree several levels deep on 1 KiB pages; Lists stays in byte
// order within the transaction and after, through deletes of both kinds.
func TestManyLists(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024})
	var names []string
	err := db.Update(func(tx *scdb.Tx) error {
		for i := range 3000 {
			name := fmt.Sprintf("%s%05d", strings.Repeat("L", i%200), i)
			names = append(names, name)
			if err := tx.List(name).Put("x", []byte(name)); err != nil {
				return err
			}
			if i%500 == 0 {
				got := collectNames(t, tx.Lists())
				want := slices.Sorted(slices.Values(names))
				if !slices.Equal(got, want) {
					t.Fatalf("in-tx Lists after %d: %d vs %d", i, len(got), len(want))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	checkLists(t, db, names...)
	var keep []string
	err = db.Update(func(tx *scdb.Tx) error {
		for i, n := range names {
			if i%3 == 0 {
				if err := tx.DeleteList(n); err != nil {
					return err
				}
			} else if i%3 == 1 {
				if err := tx.List(n).Delete("x"); err != nil {
					return err
				}
			} else {
				keep = append(keep, n)
			}
		}
		got := collectNames(t, tx.Lists())
		if !slices.Equal(got, keep) {
			t.Fatalf("in-tx Lists after deletes: %d vs %d", len(got), len(keep))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkLists(t, db, keep...)
	reopen(t, &db)
	checkLists(t, db, keep...)
	for _, n := range keep[:50] {
		mustGetValue(t, db, n, "x", []byte(n))
	}
}

func TestOpenNotSCDB(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string][]byte{"empty": nil, "short": []byte("scdb"), "text": bytes.Repeat([]byte("not a database "), 1000)} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, ro := range []bool{false, true} {
			db, err := scdb.Open(path, scdb.Options{Key: testKey, ReadOnly: ro})
			if err == nil {
				db.Close()
			}
			if !errors.Is(err, scdb.ErrNotSCDB) {
				t.Errorf("Open(%s, ReadOnly=%v): %v, want ErrNotSCDB", name, ro, err)
			}
		}
		if got := readFile(t, path); !bytes.Equal(got, content) {
			t.Errorf("Open changed the %s file", name)
		}
	}
}

// TestPutReaderReaders: PutReader takes the value from readers of every
// legal behaviour: data with io.EOF in the same call, short reads, one byte
// at a time, empty reads before data.
func TestPutReaderReaders(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024})
	readers := map[string]func(io.Reader) io.Reader{
		"plain":      func(r io.Reader) io.Reader { return r },
		"data+EOF":   iotest.DataErrReader,
		"half":       iotest.HalfReader,
		"one byte":   iotest.OneByteReader,
		"empty read": func(r io.Reader) io.Reader { return &emptyReads{r: r, n: 5} },
	}
	for name, wrap := range readers {
		for _, size := range []int{0, 1, 200, 318, 319, 320, 1000, 5000, 70000} {
			v := fill(size, uint64(size))
			id := fmt.Sprintf("%s/%d", name, size)
			err := db.Update(func(tx *scdb.Tx) error { return tx.List("l").PutReader(id, wrap(bytes.NewReader(v))) })
			if err != nil {
				t.Errorf("PutReader through a %s reader, %d bytes: %v", name, size, err)
				continue
			}
			if got, err := db.Get("l", id); err != nil || !bytes.Equal(got, v) {
				t.Errorf("%s reader, %d bytes: read back %d bytes, %v", name, size, len(got), err)
			}
		}
	}
	// A reader that never yields anything, nor EOF, is given up on.
	err := db.Update(func(tx *scdb.Tx) error { return tx.List("l").PutReader("stuck", &emptyReads{n: -1}) })
	if !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("PutReader from a reader that makes no progress: %v, want io.ErrNoProgress", err)
	}
}

// emptyReads returns (0, nil) n times (forever if n < 0), then reads r.
type emptyReads struct {
	r io.Reader
	n int
}

func (e *emptyReads) Read(p []byte) (int, error) {
	if e.n != 0 {
		e.n--
		return 0, nil
	}
	return e.r.Read(p)
}

// TestConcurrentTransfers: writers move amounts between accounts in
// Updates while readers sum every account in Views. Each snapshot must see
// the same total (atomic commits, isolated snapshots), and the record
// counts must match. Run with -race.
func TestConcurrentTransfers(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024, CacheSize: 32 << 10})
	const accounts, initial = 300, 1000
	// Each balance is padded to a few hundred bytes, so that accounts span
	// many pages and some values are chains.
	encode := func(balance int, pad int) []byte {
		return append([]byte(fmt.Sprintf("%010d|", balance)), fill(pad, uint64(balance))...)
	}
	decode := func(v []byte) (int, error) {
		var b int
		_, err := fmt.Sscanf(string(v[:10]), "%010d", &b)
		return b, err
	}
	err := db.Update(func(tx *scdb.Tx) error {
		for i := range accounts {
			if err := tx.List("acct").Put(fmt.Sprintf("%04d", i), encode(initial, i%3*700)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const writers, readers, transfers = 3, 4, 60
	var wg sync.WaitGroup
	var done atomic.Bool
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range transfers {
				err := db.Update(func(tx *scdb.Tx) error {
					l := tx.List("acct")
					for range 5 {
						a, b := fmt.Sprintf("%04d", rng.IntN(accounts)), fmt.Sprintf("%04d", rng.IntN(accounts))
						va, err := l.Get(a)
						if err != nil {
							return err
						}
						vb, err := l.Get(b)
						if err != nil {
							return err
						}
						ba, _ := decode(va)
						bb, _ := decode(vb)
						amount := rng.IntN(50)
						if a == b {
							continue
						}
						if err := l.Put(a, encode(ba-amount, rng.IntN(3)*700)); err != nil {
							return err
						}
						if err := l.Put(b, encode(bb+amount, rng.IntN(3)*700)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var snapshots atomic.Int64
	var rwg sync.WaitGroup
	for r := range readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for !done.Load() {
				total, n := 0, 0
				var gen uint64
				var err error
				if r%2 == 0 {
					err = db.View(func(tx *scdb.Tx) error {
						gen = tx.Generation()
						for rec, err := range tx.List("acct").All() {
							if err != nil {
								return err
							}
							v, err := rec.Value()
							if err != nil {
								return err
							}
							b, err := decode(v)
							if err != nil {
								return err
							}
							total += b
							n++
						}
						return nil
					})
				} else {
					for rec, e := range db.Records("acct") {
						if e != nil {
							err = e
							break
						}
						v, e := io.ReadAll(rec.Reader())
						if e != nil {
							err = e
							break
						}
						b, _ := decode(v)
						total += b
						n++
					}
				}
				if err != nil {
					t.Errorf("reader %d: %v", r, err)
					return
				}
				if total != accounts*initial || n != accounts {
					t.Errorf("reader %d: snapshot (generation %d) sums %d over %d accounts, want %d over %d", r, gen, total, n, accounts*initial, accounts)
					return
				}
				snapshots.Add(1)
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	rwg.Wait()
	if g := db.Generation(); g != 1+writers*transfers {
		t.Errorf("generation %d after %d commits", g, 1+writers*transfers)
	}
	if rep, err := db.Check(); err != nil || rep.LeakedPages != 0 {
		t.Errorf("Check: %v, %d leaked pages", err, rep.LeakedPages)
	}
	t.Logf("%d consistent snapshots read during %d transfers", snapshots.Load(), writers*transfers)
}
