package scdb_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/internal/testhook"
)

// Fuzz targets for whole files. CI runs each for a few seconds:
//
//	go test -run '^$' -fuzz '^FuzzOpenIterate$' -fuzztime 5s .
//	go test -run '^$' -fuzz '^FuzzMutatePage$' -fuzztime 5s .
//
// and a soak run gives them longer, e.g. -fuzztime 30m each. Plain go test
// runs both on their seeds.

// fuzzOpenKey opens the FuzzOpenIterate seeds. It is a raw key, so no
// mutated passphrase slot can make the fuzzer spend time in Argon2id: a raw
// key is tried on raw-key slots only.
var fuzzOpenKey = bytes.Repeat([]byte{0xf5}, 32)

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzOpenIterate from fuzzSeedShapes")

// FuzzOpenIterate opens arbitrary bytes as a file with a fixed key, lists
// its lists, reads every record whole and streamed, and checks it. Every
// error must be one of scdb's sentinels (the file is in memory: there is no
// I/O error to allow); nothing may panic or hang; two reads of one value
// must agree; and Check must agree with the reads: a clean Check means
// every read succeeded and its totals are what was read.
func FuzzOpenIterate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x89SCDB\r\n\x1a"))
	f.Add(make([]byte, 3*1024))
	f.Fuzz(func(t *testing.T, data []byte) {
		withDeadline(t, 20*time.Second, func() { openIterate(t, data) })
	})
}

// withDeadline runs fn, failing the test if it has not returned in d: an
// input that makes scdb loop shows up as a failure, not a stuck fuzzer.
func withDeadline(t *testing.T, d time.Duration, fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still running after %v: a hang", d)
	}
}

// openIterate is FuzzOpenIterate's body. It reports with t.Errorf only: it
// runs on a goroutine of its own.
func openIterate(t *testing.T, data []byte) {
	typed := func(what string, err error) bool {
		if !typedErr(err) {
			t.Errorf("%s: an error that is none of scdb's sentinels: %v", what, err)
		}
		return false
	}
	db, err := scdb.OpenFile(faultfile.New(data), scdb.Options{Key: fuzzOpenKey, CacheSize: 1 << 16})
	if err != nil {
		typed("OpenFile", err)
		return
	}
	defer db.Close()
	var failed []error
	names, err := db.Lists()
	if err != nil {
		typed("Lists", err)
		failed = append(failed, err)
	}
	var records, total int64
	for _, name := range names {
		for rec, err := range db.Records(name) {
			if err != nil {
				typed("Records", err)
				failed = append(failed, err)
				break
			}
			records++
			total += rec.Size()
			v, verr := rec.Value()
			if verr != nil {
				typed("Value", verr)
				failed = append(failed, verr)
			} else if int64(len(v)) != rec.Size() {
				t.Errorf("list %q id %q: Size %d, Value of %d bytes", name, rec.ID(), rec.Size(), len(v))
			}
			s, serr := io.ReadAll(rec.Reader())
			if serr != nil {
				typed("Reader", serr)
				failed = append(failed, serr)
			} else if verr == nil && !bytes.Equal(s, v) {
				t.Errorf("list %q id %q: Reader and Value disagree (%d and %d bytes)", name, rec.ID(), len(s), len(v))
			}
		}
	}
	if _, err := db.Stats(); err != nil {
		typed("Stats", err)
	}
	rep, err := db.Check()
	switch {
	case err != nil:
		if !errors.Is(err, scdb.ErrCorrupt) {
			t.Errorf("Check: %v, want nil or ErrCorrupt", err)
		}
	case len(rep.Problems) > 0:
		t.Errorf("Check returned nil with problems %v", rep.Problems)
	case len(failed) > 0:
		t.Errorf("Check found nothing, but reads failed: %v", failed)
	case rep.Lists != len(names) || rep.Records != records || rep.Bytes != total:
		t.Errorf("Check counted %d lists, %d records, %d bytes; the reads gave %d, %d, %d",
			rep.Lists, rep.Records, rep.Bytes, len(names), records, total)
	}
}

// FuzzMutatePage changes one byte of one page of the tamper fixture (by
// xor) and opens, reads and checks it: the outcome must be the one the
// damaged page's kind gives (see the table in tamper_test.go): a typed
// error naming the page, or correct data of the last commit (or of the
// previous one, for the newest meta page). Never wrong data.
func FuzzMutatePage(f *testing.F) {
	fx := tamperFixtureFor(f)
	for _, kind := range []string{kindHeader, kindMetaNew, kindMetaOld, kindBranch, kindLeaf, kindChainHead, kindChain, kindFreelist, kindFree} {
		pg := fx.main.pagesOf(kind)[0]
		for _, off := range []uint16{0, 24, 100, 511, 512, tamperPageSize - 1} {
			f.Add(uint16(pg), off, byte(1))
		}
		f.Add(uint16(pg), uint16(300), byte(0xff))
	}
	f.Add(uint16(0), uint16(0), byte(0))
	f.Fuzz(func(t *testing.T, page, off uint16, xor byte) {
		pg := uint64(page) % uint64(len(fx.main.pages))
		o := int(off) % tamperPageSize
		img := bytes.Clone(fx.main.image)
		pageBytes(img, pg)[o] ^= xor
		want, pages := mutationOutcome(fx.main.pages[pg].kind, pg, xor)
		var obs tamperObs
		withDeadline(t, 20*time.Second, func() {
			obs = observeDB(func() (*scdb.DB, error) {
				return scdb.OpenFile(faultfile.New(img), scdb.Options{Key: tamperKey2, CacheSize: 1 << 16})
			}, fx.main.states)
		})
		if err := want.judge(&fx.main, pages, obs); err != nil {
			t.Fatalf("page %d (%s) byte %d ^= %#x: want %v: %v", pg, fx.main.pages[pg].kind, o, xor, want, err)
		}
	})
}

// mutationOutcome is what a change to a page of the given kind must give.
func mutationOutcome(kind string, pg uint64, xor byte) (tamperWant, []uint64) {
	switch {
	case xor == 0, kind == kindHeader, kind == kindFree:
		// A header byte is in one copy only: the other one is used.
		return wantLast, nil
	case kind == kindMetaNew:
		return tamperWant{outcome: "previous", warn: true}, nil
	case kind == kindMetaOld:
		return tamperWant{outcome: "last", warn: true}, nil
	case kind == kindFreelist:
		return wantOpenPage, []uint64{pg}
	}
	return wantReadPage, []uint64{pg}
}

// ---- FuzzOpenIterate's seed corpus ----

// fuzzSeedShape is one valid file of the seed corpus.
type fuzzSeedShape struct {
	name     string
	pageSize int
	// build fills the database (created with fuzzOpenKey, or with a
	// passphrase when byPassphrase, in which case build adds a slot for
	// fuzzOpenKey); it returns how many lists the file ends with.
	build        func(db *scdb.DB) (lists int, err error)
	byPassphrase bool
}

var fuzzSeedShapes = []fuzzSeedShape{
	{name: "empty-4k", pageSize: 4096, build: func(*scdb.DB) (int, error) { return 0, nil }},
	{name: "inline-1k", pageSize: 1024, build: func(db *scdb.DB) (int, error) {
		return 1, db.Update(func(tx *scdb.Tx) error { return putMany(tx.List("l"), "r", 30, 120) })
	}},
	{name: "inline-4k", pageSize: 4096, build: func(db *scdb.DB) (int, error) {
		return 1, db.Update(func(tx *scdb.Tx) error { return putMany(tx.List("l"), "r", 40, 200) })
	}},
	{name: "chains-1k", pageSize: 1024, build: func(db *scdb.DB) (int, error) {
		return 1, db.Update(func(tx *scdb.Tx) error {
			l := tx.List("values")
			for i, size := range []int{0, 317, 318, 1000, 2000} {
				if err := l.Put(fmt.Sprintf("v%d", i), fill(size, uint64(i))); err != nil {
					return err
				}
			}
			// Streamed: a run of 16 pages, then one of 1 (FORMAT §10.4.2.3).
			return l.PutReader("streamed", bytes.NewReader(fill(16*960+100, 9)))
		})
	}},
	{name: "lists-1k", pageSize: 1024, build: func(db *scdb.DB) (int, error) {
		names := []string{"", "a", "b", "\xff", strings.Repeat("n", 200)}
		return len(names), db.Update(func(tx *scdb.Tx) error {
			for i, name := range names {
				if err := putMany(tx.List(name), "id", 3+i, 40); err != nil {
					return err
				}
			}
			// Enough records for a tree with a branch.
			return putMany(tx.List("a"), "many", 120, 20)
		})
	}},
	{name: "freelist-1k", pageSize: 1024, build: func(db *scdb.DB) (int, error) {
		err := db.Update(func(tx *scdb.Tx) error {
			if err := putMany(tx.List("l"), "r", 60, 60); err != nil {
				return err
			}
			return tx.List("m").Put("big", fill(3000, 1))
		})
		if err != nil {
			return 0, err
		}
		err = db.Update(func(tx *scdb.Tx) error {
			for i := 0; i < 60; i += 2 {
				if err := tx.List("l").Delete(fmt.Sprintf("r%04d", i)); err != nil {
					return err
				}
			}
			return tx.List("m").Put("big", fill(10, 2))
		})
		if err != nil {
			return 0, err
		}
		return 2, db.Put("m", "last", []byte("commit"))
	}},
	{name: "keyslots-1k", pageSize: 1024, byPassphrase: true, build: func(db *scdb.DB) (int, error) {
		if _, err := db.AddKeySlot(scdb.Credential{Key: fuzzOpenKey}); err != nil {
			return 0, err
		}
		if _, err := db.AddKeySlot(scdb.Credential{Passphrase: []byte("another")}); err != nil {
			return 0, err
		}
		return 1, db.Put("l", "id", []byte("value"))
	}},
}

func putMany(l *scdb.List, prefix string, n, maxSize int) error {
	for i := range n {
		if err := l.Put(fmt.Sprintf("%s%04d", prefix, i), fill(i*37%(maxSize+1), uint64(i))); err != nil {
			return err
		}
	}
	return nil
}

// buildFuzzSeed makes the file of one shape, drawing its randomness from a
// fixed seed so that regenerating the corpus gives the same bytes.
func buildFuzzSeed(s fuzzSeedShape) ([]byte, int, error) {
	testhook.Rand = mrand.NewChaCha8([32]byte{byte(len(s.name)), s.name[0], s.name[len(s.name)-1]})
	defer func() { testhook.Rand = nil }()
	opts := scdb.Options{Key: fuzzOpenKey, PageSize: s.pageSize}
	if s.byPassphrase {
		opts.Key, opts.Passphrase = nil, []byte("seed passphrase")
	}
	f := faultfile.New(nil)
	db, err := scdb.CreateFile(f, opts)
	if err != nil {
		return nil, 0, err
	}
	lists, err := s.build(db)
	if err != nil {
		db.Close()
		return nil, 0, err
	}
	if err := db.Close(); err != nil {
		return nil, 0, err
	}
	return f.Bytes(), lists, nil
}

const fuzzSeedDir = "testdata/fuzz/FuzzOpenIterate"

// TestWriteFuzzSeeds rewrites FuzzOpenIterate's seed corpus when run with
// -update-fuzz-seeds:
//
//	go test -run '^TestWriteFuzzSeeds$' -update-fuzz-seeds .
func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateFuzzSeeds {
		t.Skip("run with -update-fuzz-seeds to rewrite " + fuzzSeedDir)
	}
	if err := os.MkdirAll(fuzzSeedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range fuzzSeedShapes {
		b, _, err := buildFuzzSeed(s)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if err := os.WriteFile(filepath.Join(fuzzSeedDir, s.name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFuzzSeeds guards the committed corpus: there is one file per shape,
// and each still opens with the fuzz key, passes Check and holds the lists
// its shape made. A corpus that no longer opens would leave the fuzzer
// nothing deeper than the header to start from.
func TestFuzzSeeds(t *testing.T) {
	entries, err := os.ReadDir(fuzzSeedDir)
	if err != nil {
		t.Fatal(err)
	}
	var names, want []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	for _, s := range fuzzSeedShapes {
		want = append(want, s.name)
		b, err := os.ReadFile(filepath.Join(fuzzSeedDir, s.name))
		if err != nil {
			t.Errorf("%s: %v", s.name, err)
			continue
		}
		head, arg, ok := strings.Cut(strings.TrimSuffix(string(b), ")\n"), "\n[]byte(")
		data, err := strconv.Unquote(arg)
		if !ok || head != "go test fuzz v1" || err != nil {
			t.Errorf("%s is not a corpus file of one []byte", s.name)
			continue
		}
		_, lists, _ := buildFuzzSeed(s)
		db, err := scdb.OpenFile(faultfile.New([]byte(data)), scdb.Options{Key: fuzzOpenKey})
		if err != nil {
			t.Errorf("%s: %v", s.name, err)
			continue
		}
		rep, err := db.Check()
		db.Close()
		if err != nil || rep.Lists != lists {
			t.Errorf("%s: Check: %v, want no error and %d lists", s.name, err, lists)
			continue
		}
		t.Logf("%s: %d bytes, %d-byte pages, %d lists, %d records, %d pages, %d free", s.name, len(data), rep.PageSize, rep.Lists, rep.Records, rep.PageCount, rep.FreePages)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("%s holds %q, want %q", fuzzSeedDir, names, want)
	}
}
