package scdb

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/streamcrypt/scdb/internal/faultfile"
)

// TestWriteBehindAsync runs write transactions with the background writer
// of write-behind (the other tests write queued pages at once, in a
// repeatable order, export_test.go): transactions large enough to queue
// leaves early, leaves changed again after their write, spills (queued
// nodes read back), values long enough
// to take pages of their own and read back in the transaction, deleted
// lists, rollbacks after pages were queued, writes that fail (in the
// background writer or at commit: the file then opens at the old or the new
// state, whole), and snapshots read by other goroutines meanwhile. After
// every transaction the file must hold exactly the model, and Check must
// find nothing wrong; a transaction that did not spill must not have
// written any page twice. Half the runs use a file on disk, where the
// background writer also starts the kernel's writeback.
func TestWriteBehindAsync(t *testing.T) {
	behindInline.Store(false)
	defer behindInline.Store(true)
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	defer func(old int) { spillBytes = old }(spillBytes)
	rapid.Check(t, func(rt *rapid.T) {
		// Spill often: nodes queued, dropped, then read back.
		spillBytes = rapid.SampledFrom([]int{16 << 20, 64 << 10, 256 << 10}).Draw(rt, "spill bytes")
		// A file on disk (Pager.StartWriteback runs) or a faultfile
		// (faults can be injected).
		onDisk := rapid.Bool().Draw(rt, "on disk")
		opts := Options{Key: bytes.Repeat([]byte{0xb7}, 32)}
		var f *faultfile.File
		var db *DB
		var err error
		if onDisk {
			db, err = Create(filepath.Join(t.TempDir(), "behind.scdb"), opts)
		} else {
			f = faultfile.New(nil)
			db, err = CreateFile(f, opts)
		}
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { db.Close() }()
		model := behindRecs{}
		for txn := range rapid.IntRange(3, 8).Draw(rt, "transactions") {
			next := model.clone()
			ops := rapid.IntRange(1, 400).Draw(rt, "ops")
			seed := rapid.Uint64().Draw(rt, "seed")
			outcomes := []string{"commit", "commit", "commit", "rollback", "fail write", "fail sync"}
			if f == nil {
				outcomes = outcomes[:4]
			}
			outcome := rapid.SampledFrom(outcomes).Draw(rt, "outcome")
			failAt := rapid.IntRange(1, 200).Draw(rt, "fail at")

			// Readers of the committed state, while the transaction runs.
			var readers sync.WaitGroup
			readErr := make(chan error, 2)
			for range 2 {
				snap, err := db.Begin(false) // the last commit, whatever the writer does
				if err != nil {
					rt.Fatal(err)
				}
				readers.Go(func() {
					defer snap.Rollback()
					if got, err := readTx(snap); err != nil {
						readErr <- err
					} else if !got.equal(model) {
						readErr <- errors.New("a snapshot read other records than the last commit's")
					}
				})
			}

			logAt := 0
			if f != nil {
				logAt = len(f.Log())
			}
			switch outcome {
			case "fail write":
				f.FailWrite(failAt)
			case "fail sync":
				f.FailSync(1)
			}
			err := db.Update(func(tx *Tx) error {
				if err := behindOps(tx, next, ops, seed); err != nil {
					return err
				}
				if outcome == "rollback" {
					return errRollback
				}
				return nil
			})
			if f != nil {
				f.FailWrite(0)
				f.FailSync(0)
			}
			readers.Wait()
			close(readErr)
			for err := range readErr {
				rt.Fatalf("transaction %d: %v", txn, err)
			}

			if f != nil && spillBytes == 16<<20 {
				if p, twice := writtenTwice(f.Log()[logAt:]); twice {
					rt.Fatalf("transaction %d wrote page %d twice without spilling", txn, p)
				}
			}
			switch {
			case err == nil:
				model = next
			case errors.Is(err, errRollback):
			case errors.Is(err, faultfile.ErrInjected):
				// The file holds the old state or, if the meta landed,
				// the new one: reopen it as a crashed process would.
				db.Close()
				if db, err = OpenFile(f.Crash(faultfile.KeepAll, nil), opts); err != nil {
					rt.Fatalf("transaction %d: reopen after %v: %v", txn, outcome, err)
				}
				if got, err := readAll(db); err != nil {
					rt.Fatalf("transaction %d: %v", txn, err)
				} else if got.equal(next) {
					model = next
				}
				f = nil // the reopened file is not the faultfile any more
				onDisk = false
			default:
				rt.Fatalf("transaction %d (%s): %v", txn, outcome, err)
			}
			got, err := readAll(db)
			if err != nil {
				rt.Fatalf("after transaction %d: %v", txn, err)
			}
			if !got.equal(model) {
				rt.Fatalf("after transaction %d (%s, %v): the file does not hold the model", txn, outcome, err)
			}
			rep, err := db.Check()
			if err != nil || len(rep.Problems) > 0 || rep.LeakedPages > 0 {
				rt.Fatalf("after transaction %d: Check: %v %+v", txn, err, rep)
			}
			if f == nil && !onDisk {
				return // faults need the faultfile: this run is over
			}
		}
	})
}

var errRollback = errors.New("roll back")

// writtenTwice finds a data page that ops (one transaction's) wrote twice:
// write-behind moves a leaf it wrote before it changes again, so only a
// spill may seal a page number twice at one generation (FORMAT.md §8).
func writtenTwice(ops []faultfile.Op) (uint64, bool) {
	const pageSize = 4096
	seen := map[uint64]bool{}
	for _, op := range ops {
		if op.Kind != faultfile.Write || op.Failed || op.Off < 3*pageSize {
			continue // the header and meta pages are rewritten by design
		}
		for p := op.Off / pageSize; p < (op.Off+int64(len(op.Data)))/pageSize; p++ {
			if seen[uint64(p)] {
				return uint64(p), true
			}
			seen[uint64(p)] = true
		}
	}
	return 0, false
}

// behindRecs is a model of the file: list -> id -> value.
type behindRecs map[string]map[string][]byte

func (r behindRecs) clone() behindRecs {
	c := behindRecs{}
	for name, l := range r {
		c[name] = maps.Clone(l)
	}
	return c
}

func (r behindRecs) equal(o behindRecs) bool {
	return maps.EqualFunc(r, o, func(a, b map[string][]byte) bool { return maps.EqualFunc(a, b, bytes.Equal) })
}

// behindOps runs ops random changes in tx and mirrors them in m, reading
// back what it wrote (values of their own pages too) as it goes.
func behindOps(tx *Tx, m behindRecs, ops int, seed uint64) error {
	x := seed | 1
	rnd := func(n int) int { // xorshift: the test repeats from its seed
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return int(x % uint64(n))
	}
	lists := []string{"a", "b", "c"}
	for range ops {
		name := lists[rnd(len(lists))]
		id := fmt.Sprintf("id-%04d", rnd(500))
		l := tx.List(name)
		switch k := rnd(100); {
		case k < 75:
			size := 200 + rnd(900)
			if rnd(20) == 0 {
				size = 4000 + rnd(20000) // pages of its own
			}
			v := bytes.Repeat([]byte{byte(rnd(256))}, size)
			v[0] = byte(size)
			if err := l.Put(id, v); err != nil {
				return err
			}
			if m[name] == nil {
				m[name] = map[string][]byte{}
			}
			m[name][id] = v
		case k < 97:
			err := l.Delete(id)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if _, ok := m[name][id]; ok != (err == nil) {
				return fmt.Errorf("delete %s/%s: %v, model has it: %v", name, id, err, ok)
			}
			delete(m[name], id)
		case k < 99:
			got, err := l.Get(id)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			want, ok := m[name][id]
			if ok != (err == nil) || !bytes.Equal(got, want) {
				return fmt.Errorf("get %s/%s in the transaction: %d bytes, %v; model: %d bytes", name, id, len(got), err, len(want))
			}
		default:
			err := tx.DeleteList(name)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			delete(m, name)
		}
	}
	for name, l := range m {
		if len(l) == 0 {
			delete(m, name)
		}
	}
	return nil
}

// readAll reads every record of a snapshot.
func readAll(db *DB) (behindRecs, error) {
	var got behindRecs
	err := db.View(func(tx *Tx) error {
		var err error
		got, err = readTx(tx)
		return err
	})
	return got, err
}

func readTx(tx *Tx) (behindRecs, error) {
	got := behindRecs{}
	err := func() error {
		for name, err := range tx.Lists() {
			if err != nil {
				return err
			}
			l := map[string][]byte{}
			for rec, err := range tx.List(name).All() {
				if err != nil {
					return err
				}
				v, err := rec.Value()
				if err != nil {
					return err
				}
				l[rec.ID()] = slices.Clone(v)
			}
			got[name] = l
		}
		return nil
	}()
	return got, err
}

// TestFailedWriteIsNotDamage: a transaction's pages wait in memory until a
// read or a commit writes them; when that write fails, a later read of one
// of them in the same transaction reports the write's error, not the old
// bytes in the file as damage (it used to say ErrCorrupt, "authentication
// failed", once the failed pages were dropped from memory).
func TestFailedWriteIsNotDamage(t *testing.T) {
	f := faultfile.New(nil)
	db, err := CreateFile(f, Options{Key: bytes.Repeat([]byte{0xb7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	l := tx.List("a")
	if err := l.Put("x", bytes.Repeat([]byte{7}, 3*4096)); err != nil {
		t.Fatal(err)
	}
	f.FailWrite(1)
	for i := range 2 {
		if _, err := l.Get("x"); !errors.Is(err, faultfile.ErrInjected) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("read %d of a value whose write failed: %v, want the injected write error", i+1, err)
		}
	}
}
