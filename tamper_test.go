package scdb_test

// The adversarial suite: a real file (1 KiB pages) with four lists, inline
// and chained values, a branch node, leaves, chain runs, freelist pages and
// free pages, built by four commits and a ReplaceKeySlot, is damaged in each
// of the ways below. Every damaged file is opened (read-write) with the
// current key, every list and record is read (Lists, All, Value, Reader,
// Get) and compared with the model of the commit the file opened at, and
// Check is run. TestTamper asserts exactly this table; TestTamperTable
// checks that this comment and the cases agree.
//
// Outcomes: "last commit" / "previous commit" mean Open succeeds at that
// generation, every value reads back exactly, Check reports no problem,
// and warns (a meta page did not open) if and only if the row says so.
// "Open: E" means Open fails with E; "read: E" means Open succeeds, at
// least one read fails with E, every value that does read is exactly
// right, and Check fails with ErrCorrupt. "naming X" means every
// *scdb.CorruptPageError returned names X and, for reads, that Check
// reports a problem on X. Never a panic, never wrong data.
//
// | case | expected |
// |---|---|
// | flip each bit of header copy 0, copy 1 intact (4096 files) | last commit |
// | flip each bit of header copy 1, copy 0 intact (4096 files) | last commit |
// | flip the same bit of the magic in both header copies (64 files) | Open: ErrNotSCDB |
// | flip the same bit after the magic in both header copies (4032 files) | Open: ErrCorrupt naming page 0 |
// | header copies swapped | last commit |
// | magic changed in both copies | Open: ErrNotSCDB |
// | major version 4, checksums fixed | Open: ErrVersion |
// | minor version 1, checksums fixed | Open: ErrVersion |
// | cipher suite 0, checksums fixed | Open: ErrVersion |
// | cipher suite 2, checksums fixed | Open: ErrVersion |
// | flags 0x0001, checksums fixed | Open: ErrVersion |
// | flags 0x8000, checksums fixed | Open: ErrVersion |
// | page size shift 9, checksums fixed | Open: ErrCorrupt naming page 0 |
// | page size shift 17, checksums fixed | Open: ErrCorrupt naming page 0 |
// | page size shift 11 (2 KiB), checksums fixed | Open: ErrCorrupt naming a meta page (1 or 2) |
// | page size shift 16 (64 KiB, longer than the file), checksums fixed | Open: ErrCorrupt naming a meta page (1 or 2) |
// | file id changed, checksums fixed | Open: ErrCorrupt naming a meta page (1 or 2) |
// | key id changed, checksums fixed | Open: ErrWrongKey |
// | epoch changed, checksums fixed | last commit |
// | reserved byte 56 set, checksums fixed | Open: ErrCorrupt naming page 0 |
// | reserved byte 503 set, checksums fixed | Open: ErrCorrupt naming page 0 |
// | slot 0 kind 3 (unknown), checksums fixed | Open: ErrCorrupt naming page 0 |
// | slot 0 kind 1 (passphrase without Argon2id parameters), checksums fixed | Open: ErrCorrupt naming page 0 |
// | slot 0 kind 0 (empty but not zero), checksums fixed | Open: ErrCorrupt naming page 0 |
// | slot 0 Argon2id time set on a raw-key slot, checksums fixed | Open: ErrCorrupt naming page 0 |
// | slot 0 reserved byte 2 set, checksums fixed | Open: ErrCorrupt naming page 0 |
// | slot 0 salt changed, checksums fixed | Open: ErrWrongKey |
// | slot 0 wrap nonce changed, checksums fixed | Open: ErrWrongKey |
// | slot 0 wrapped data key changed, checksums fixed | Open: ErrWrongKey |
// | empty slot 1 given a non-zero byte, checksums fixed | Open: ErrCorrupt naming page 0 |
// | checksum changed in both copies | Open: ErrCorrupt naming page 0 |
// | major version 4 in copy 0 only, its checksum fixed | last commit |
// | header rolled back to its copy from before ReplaceKeySlot | Open: ErrWrongKey; the replaced key opens the last commit (not detectable, SECURITY.md) |
// | header taken from another file made with the same key | Open: ErrCorrupt naming a meta page (1 or 2) |
// | flip each bit of the newest meta page (8192 files) | previous commit, Check warns |
// | flip each bit of the older meta page (8192 files) | last commit, Check warns |
// | meta pages swapped | Open: ErrCorrupt naming a meta page (1 or 2) |
// | both meta pages zeroed | Open: ErrCorrupt naming a meta page (1 or 2) |
// | newest meta page put back to its copy from two commits before | previous commit (not detectable: both metas valid) |
// | older meta page put back to its copy from two commits before | last commit, Check warns |
// | flip each bit of a branch page (8192 files) | read: ErrCorrupt naming the damaged page |
// | flip each bit of a leaf page (8192 files) | read: ErrCorrupt naming the damaged page |
// | flip each bit of a value chain's run head (8192 files) | read: ErrCorrupt naming the damaged page |
// | flip each bit of a value chain's continuation page (8192 files) | read: ErrCorrupt naming the damaged page |
// | flip each bit of a freelist page (8192 files) | Open: ErrCorrupt naming the damaged page |
// | flip each bit of a free page (8192 files) | last commit |
// | two leaf pages swapped | read: ErrCorrupt naming either swapped page (Check: both) |
// | a leaf page and a chain page swapped | read: ErrCorrupt naming either swapped page (Check: both) |
// | a leaf page and the freelist page swapped | Open: ErrCorrupt naming the freelist page |
// | a branch page put back to its copy from an earlier commit | read: ErrCorrupt naming the damaged page |
// | a leaf page put back to its copy from an earlier commit | read: ErrCorrupt naming the damaged page |
// | a chain page put back to its copy from an earlier commit | read: ErrCorrupt naming the damaged page |
// | the freelist page put back to its copy from an earlier commit | Open: ErrCorrupt naming the damaged page |
// | a leaf page copied from another file made with the same key | read: ErrCorrupt naming the damaged page |
// | a leaf page copied from a file with the same data key but another file id | read: ErrCorrupt naming the damaged page |
// | a leaf page of the file copied into its compacted successor (same data key, new file id) | read: ErrCorrupt naming the damaged page |
// | truncated to 0, 100 or 511 bytes | Open: ErrNotSCDB |
// | truncated to 512, 1023, 1024, 2048 or 3071 bytes | Open: ErrCorrupt naming a meta page (1 or 2) |
// | truncated to 3072 bytes, to one page short, to one byte short | Open: ErrCorrupt naming the last page of the committed state |
// | 1 byte, 1 random page or 5 zero pages appended | last commit |
// | whole file put back to its copy after commit 3 | previous commit (not detectable, SECURITY.md) |

import (
	"bytes"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/dirtree"
	"github.com/streamcrypt/scdb/freelist"
	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/internal/testhook"
	"github.com/streamcrypt/scdb/pager"
	"github.com/streamcrypt/scdb/record"
)

const tamperPageSize = 1024

// tamperKey2 replaces testKey in slot 0 after the second commit: it is the
// key that opens the fixture.
var tamperKey2 = bytes.Repeat([]byte{0x7a}, 32)

// Page kinds, found by walking the file and decrypting each page.
const (
	kindHeader    = "header"
	kindMetaNew   = "newest meta"
	kindMetaOld   = "older meta"
	kindBranch    = "branch"
	kindLeaf      = "leaf"
	kindChainHead = "chain run head"
	kindChain     = "chain continuation"
	kindFreelist  = "freelist"
	kindFree      = "free"
)

// tamperPage is what one page of a file is.
type tamperPage struct {
	kind string
	gen  uint64 // the generation it was written at (sealed pages in use)
	tree string // tree nodes and chains: the list, or "" for the directory
}

// tamperFile is a valid file and what it holds.
type tamperFile struct {
	image  []byte               // the file's bytes
	gen    uint64               // its last commit
	states map[uint64]crashRecs // the content of every commit it made
	pages  []tamperPage         // the kind of every page below the page count
}

// tamperFixture is the file the suite damages, and the material it damages
// it with.
type tamperFixture struct {
	main      tamperFile
	images    map[uint64][]byte // main's bytes after each commit
	preRekey  []byte            // main's header page before ReplaceKeySlot
	other     tamperFile        // same commits, same key, its own data key
	twin      tamperFile        // same commits and data key, another file id
	successor tamperFile        // main compacted
}

// tamperRand makes pager.Create draw the given file id and data key, then
// real randomness: two files share a data key but not their id.
type tamperRand struct {
	mu     sync.Mutex
	prefix []byte
}

func (r *tamperRand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.prefix) > 0 {
		n := copy(p, r.prefix)
		r.prefix = r.prefix[n:]
		return n, nil
	}
	return crand.Read(p)
}

var (
	tamperOnce sync.Once
	tamperFx   *tamperFixture
	tamperErr  error
)

// tamperFixtureFor builds the fixture once per test binary.
func tamperFixtureFor(t testing.TB) *tamperFixture {
	t.Helper()
	tamperOnce.Do(func() { tamperFx, tamperErr = buildTamperFixture(t.TempDir()) })
	if tamperErr != nil {
		t.Fatal(tamperErr)
	}
	return tamperFx
}

func buildTamperFixture(dir string) (*tamperFixture, error) {
	dataKey := bytes.Repeat([]byte{0xd4}, 32)
	idA, idB := bytes.Repeat([]byte{0xa1}, 16), bytes.Repeat([]byte{0xb2}, 16)
	fx := &tamperFixture{}
	var err error
	build := func(name string, rnd io.Reader, images map[uint64][]byte, preRekey *[]byte) (tamperFile, error) {
		testhook.Rand = rnd
		defer func() { testhook.Rand = nil }()
		return buildTamperFile(filepath.Join(dir, name), images, preRekey)
	}
	fx.images = map[uint64][]byte{}
	if fx.main, err = build("main.scdb", &tamperRand{prefix: slices.Concat(idA, dataKey)}, fx.images, &fx.preRekey); err != nil {
		return nil, err
	}
	if fx.twin, err = build("twin.scdb", &tamperRand{prefix: slices.Concat(idB, dataKey)}, nil, nil); err != nil {
		return nil, err
	}
	if fx.other, err = build("other.scdb", nil, nil, nil); err != nil {
		return nil, err
	}
	// The fixture must have every kind of page, and its previous commit must
	// still be whole (the last commit did not cut the file below it), or the
	// rows about the newest meta test nothing.
	have := map[string]bool{}
	for _, p := range fx.main.pages {
		have[p.kind] = true
	}
	for _, k := range []string{kindBranch, kindLeaf, kindChainHead, kindChain, kindFreelist, kindFree} {
		if !have[k] {
			return nil, fmt.Errorf("fixture has no %s page", k)
		}
	}
	prev, err := tamperClassify(fx.images[fx.main.gen-1], tamperKey2)
	if err != nil {
		return nil, fmt.Errorf("fixture's previous commit: %w", err)
	}
	if need := len(prev) * tamperPageSize; len(fx.main.image) < need {
		return nil, fmt.Errorf("fixture's last commit cut the file to %d bytes, below its previous commit's %d", len(fx.main.image), need)
	}
	// The successor: main compacted, which keeps its data key under a new file id.
	path := filepath.Join(dir, "successor.scdb")
	db, err := scdb.Open(filepath.Join(dir, "main.scdb"), scdb.Options{Key: tamperKey2, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	err = db.CompactTo(path)
	db.Close()
	if err != nil {
		return nil, err
	}
	if fx.successor.image, err = os.ReadFile(path); err != nil {
		return nil, err
	}
	// Its empty initial state is one past main's last commit; the copy
	// commits the next.
	fx.successor.gen = fx.main.gen + 2
	fx.successor.states = map[uint64]crashRecs{fx.successor.gen: fx.main.states[fx.main.gen]}
	if fx.successor.pages, err = tamperClassify(fx.successor.image, tamperKey2); err != nil {
		return nil, fmt.Errorf("successor: %w", err)
	}
	return fx, nil
}

// buildTamperFile makes the fixture's commits in a file at path; images, if
// not nil, gets the file's bytes after each commit, and preRekey its header
// page before the key change.
func buildTamperFile(path string, images map[uint64][]byte, preRekey *[]byte) (tamperFile, error) {
	tf := tamperFile{states: map[uint64]crashRecs{}}
	db, err := scdb.Create(path, scdb.Options{Key: testKey, PageSize: tamperPageSize, NoSync: true})
	if err != nil {
		return tf, err
	}
	defer db.Close()
	st := crashRecs{}
	tf.states[0] = st
	commit := func(fn func(put func(list, id string, v []byte), del func(list, id string))) error {
		next := st.clone()
		err := db.Update(func(tx *scdb.Tx) error {
			var err error
			fn(func(list, id string, v []byte) {
				if err == nil {
					err = tx.List(list).Put(id, v)
					next.put(list, id, v)
				}
			}, func(list, id string) {
				if err == nil {
					err = tx.List(list).Delete(id)
					delete(next[list], id)
				}
			})
			return err
		})
		if err != nil {
			return err
		}
		st = next.clone()
		tf.gen = db.Generation()
		tf.states[tf.gen] = st
		if images != nil {
			if images[tf.gen], err = os.ReadFile(path); err != nil {
				return err
			}
		}
		return nil
	}
	steps := []func(put func(list, id string, v []byte), del func(list, id string)){
		func(put func(string, string, []byte), del func(string, string)) {
			for i := range 70 {
				put("alpha", fmt.Sprintf("r%03d", i), fill(50, uint64(i)))
			}
			for i := 1; i <= 4; i++ {
				put("beta", fmt.Sprintf("big%d", i), fill(2500, uint64(100+i)))
			}
			put("beta", "small", []byte("inline"))
			for i := 1; i <= 3; i++ {
				put("gamma", fmt.Sprintf("g%d", i), fill(20*i, uint64(200+i)))
			}
		},
		func(put func(string, string, []byte), del func(string, string)) {
			for i := range 10 {
				del("alpha", fmt.Sprintf("r%03d", i))
				put("alpha", fmt.Sprintf("r%03d", 50+i), fill(60, uint64(300+i)))
			}
			del("beta", "big2")
			put("beta", "big5", fill(1500, 105))
			put("delta", "huge", fill(5000, 400))
			put("delta", "", nil)
		},
		func(put func(string, string, []byte), del func(string, string)) {
			for i := range 10 {
				put("alpha", fmt.Sprintf("s%03d", i), fill(40, uint64(500+i)))
			}
			del("gamma", "g1")
		},
		func(put func(string, string, []byte), del func(string, string)) {
			// A value longer than any free run: the file grows from its
			// end, so this commit does not cut it below the previous one.
			put("gamma", "g9", fill(20000, 600))
		},
	}
	for i, step := range steps {
		if i == 2 {
			// A passphrase change: the header rewrite before the third
			// commit.
			if preRekey != nil {
				b, err := os.ReadFile(path)
				if err != nil {
					return tf, err
				}
				*preRekey = b[:tamperPageSize]
			}
			if err := db.ReplaceKeySlot(0, scdb.Credential{Key: tamperKey2}); err != nil {
				return tf, err
			}
		}
		if err := commit(step); err != nil {
			return tf, err
		}
	}
	if err := db.Close(); err != nil {
		return tf, err
	}
	if tf.image, err = os.ReadFile(path); err != nil {
		return tf, err
	}
	if tf.pages, err = tamperClassify(tf.image, tamperKey2); err != nil {
		return tf, err
	}
	return tf, nil
}

// tamperClassify walks a valid file through the internal packages and
// returns the kind of each of its pages below the page count. Every page a
// pointer reaches is decrypted at the pointer's generation and must have
// the page type the pointer expects; every data page must be reached or
// free, exactly once.
func tamperClassify(image, key []byte) ([]tamperPage, error) {
	p, err := pager.Open(faultfile.New(image), crypt.Credential{Key: key}, pager.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	m := p.Meta()
	pages := make([]tamperPage, m.PageCount)
	pages[0].kind = kindHeader
	pages[1+m.Gen%2].kind = kindMetaNew
	pages[2-m.Gen%2].kind = kindMetaOld
	var errs []error
	set := func(ref pager.Ref, kind, tree string, typ byte) {
		if ref.Page < pager.FirstDataPage || ref.Page >= m.PageCount || pages[ref.Page].kind != "" {
			errs = append(errs, fmt.Errorf("page %d (%s) outside the file or reached twice", ref.Page, kind))
			return
		}
		b, err := p.Page(ref)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if b[0] != typ {
			errs = append(errs, fmt.Errorf("page %d reached as %s decrypts as type %d", ref.Page, kind, b[0]))
		}
		pages[ref.Page] = tamperPage{kind: kind, gen: ref.Gen, tree: tree}
	}
	err = freelist.Walk(p, m, func(ref pager.Ref) { set(ref, kindFreelist, "", pager.TypeFreelist) }, func(start, n uint64) error {
		for pg := start; pg < start+n; pg++ {
			if pages[pg].kind != "" {
				return fmt.Errorf("free page %d is also %s", pg, pages[pg].kind)
			}
			pages[pg].kind = kindFree
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	node := func(tree string) func(pager.Ref, bool) {
		return func(ref pager.Ref, leaf bool) {
			if leaf {
				set(ref, kindLeaf, tree, pager.TypeLeaf)
			} else {
				set(ref, kindBranch, tree, pager.TypeBranch)
			}
		}
	}
	problem := func(pgno uint64, msg string) { errs = append(errs, fmt.Errorf("page %d: %s", pgno, msg)) }
	dirtree.Open(p, m.Tree).Check(dirtree.CheckFuncs{
		Page:    node(""),
		Problem: problem,
		Value: func(name, entry []byte) {
			list := string(name)
			root := pager.GetRef(entry[24:])
			dirtree.Open(p, root).Check(dirtree.CheckFuncs{
				Page:    node(list),
				Problem: problem,
				Value: func(_, cell []byte) {
					first := true
					err := record.Pages(p, cell, func(ref pager.Ref) {
						if first {
							set(ref, kindChainHead, list, pager.TypeChain)
						} else {
							set(ref, kindChain, list, pager.TypeChain)
						}
						first = false
					})
					if err != nil {
						errs = append(errs, err)
					}
				},
			})
		},
	})
	for pg := pager.FirstDataPage; pg < len(pages); pg++ {
		if pages[pg].kind == "" {
			errs = append(errs, fmt.Errorf("page %d is neither reachable nor free", pg))
		}
	}
	return pages, errors.Join(errs...)
}

// pagesOf returns the pages of a kind, in page order.
func (tf *tamperFile) pagesOf(kind string) []uint64 {
	var out []uint64
	for pg, p := range tf.pages {
		if p.kind == kind {
			out = append(out, uint64(pg))
		}
	}
	return out
}

// firstOf returns the first page of a kind in the given list's tree ("*"
// for any), failing if there is none.
func (tf *tamperFile) firstOf(t *testing.T, kind, tree string) uint64 {
	t.Helper()
	for _, pg := range tf.pagesOf(kind) {
		if tree == "*" || tf.pages[pg].tree == tree {
			return pg
		}
	}
	t.Fatalf("the fixture has no %s page in tree %q", kind, tree)
	return 0
}

func pageBytes(b []byte, pg uint64) []byte {
	return b[pg*tamperPageSize : (pg+1)*tamperPageSize]
}

// ---- observing a damaged file ----

// tamperObs is what opening, reading and checking a file gave.
type tamperObs struct {
	openErr  error
	gen      uint64
	readErrs []error
	wrong    []string // answers that contradict the model: never allowed
	checkErr error
	rep      *scdb.CheckReport
}

// tamperObserve opens path with key, reads everything and checks it,
// comparing every answer with the model of the generation it opened at.
func tamperObserve(path string, key []byte, states map[uint64]crashRecs) tamperObs {
	return observeDB(func() (*scdb.DB, error) { return scdb.Open(path, scdb.Options{Key: key}) }, states)
}

// observeDB is tamperObserve over the database open returns.
func observeDB(open func() (*scdb.DB, error), states map[uint64]crashRecs) (obs tamperObs) {
	db, err := open()
	if err != nil {
		obs.openErr = err
		return obs
	}
	defer db.Close()
	defer func() {
		if r := recover(); r != nil {
			obs.wrong = append(obs.wrong, fmt.Sprintf("panic: %v", r))
		}
	}()
	obs.gen = db.Generation()
	want, ok := states[obs.gen]
	if !ok {
		obs.wrong = append(obs.wrong, fmt.Sprintf("opened at generation %d, which the file never committed", obs.gen))
		return obs
	}
	wrong := func(format string, args ...any) { obs.wrong = append(obs.wrong, fmt.Sprintf(format, args...)) }
	err = db.View(func(tx *scdb.Tx) error {
		names := want.names()
		i := 0
		var err error
		for name, e := range tx.Lists() {
			if err = e; e != nil {
				obs.readErrs = append(obs.readErrs, e)
				break
			}
			if i >= len(names) || name != names[i] {
				wrong("Lists gave %q as list %d, model %q", name, i, names)
				break
			}
			i++
		}
		if err == nil && i != len(names) {
			wrong("Lists gave %d lists, model %q", i, names)
		}
		for _, name := range names {
			tamperReadList(tx.List(name), want[name], &obs)
		}
		return nil
	})
	if err != nil {
		obs.readErrs = append(obs.readErrs, err)
	}
	obs.rep, obs.checkErr = db.Check()
	return obs
}

// tamperReadList reads one list every way there is.
func tamperReadList(l *scdb.List, want map[string][]byte, obs *tamperObs) {
	ids := slices.Sorted(maps.Keys(want))
	read := func(what, id string, got []byte, err error) {
		switch {
		case err != nil:
			obs.readErrs = append(obs.readErrs, err)
		case !bytes.Equal(got, want[id]):
			obs.wrong = append(obs.wrong, fmt.Sprintf("list %q id %q: %s gave %d bytes differing from the model's %d", l.Name(), id, what, len(got), len(want[id])))
		}
	}
	j := 0
	var err error
	for rec, e := range l.All() {
		if err = e; e != nil {
			obs.readErrs = append(obs.readErrs, e)
			break
		}
		if j >= len(ids) || rec.ID() != ids[j] {
			obs.wrong = append(obs.wrong, fmt.Sprintf("list %q: record %d is %q, model has %d", l.Name(), j, rec.ID(), len(ids)))
			break
		}
		v, e := rec.Value()
		read("Value", rec.ID(), v, e)
		v, e = io.ReadAll(rec.Reader())
		read("Reader", rec.ID(), v, e)
		j++
	}
	if err == nil && j != len(ids) {
		obs.wrong = append(obs.wrong, fmt.Sprintf("list %q: All gave %d records, model %d", l.Name(), j, len(ids)))
	}
	for _, id := range ids {
		v, e := l.Get(id)
		read("Get", id, v, e)
	}
}

// ---- expected outcomes ----

// tamperWant is one row's expected outcome.
type tamperWant struct {
	outcome string // "last", "previous", "open" or "read"
	err     error  // open, read: the sentinel every error must wrap
	warn    bool   // last, previous: Check warns that a meta page did not open
	named   string // open, read: what the errors name, in words ("" for nothing)
	note    string // said after the outcome in the table
	// alsoKey, when set, must open the file at the last commit (a rolled
	// back header lets a replaced key in).
	alsoKey []byte
}

func (w tamperWant) String() string {
	var s string
	switch w.outcome {
	case "last", "previous":
		s = w.outcome + " commit"
		if w.warn {
			s += ", Check warns"
		}
	case "open", "read":
		s = "Open: " + sentinelName(w.err)
		if w.outcome == "read" {
			s = "read: " + sentinelName(w.err)
		}
		if w.named != "" {
			s += " naming " + w.named
		}
	}
	if w.alsoKey != nil {
		s += "; the replaced key opens the last commit"
	}
	if w.note != "" {
		s += " " + w.note
	}
	return s
}

func sentinelName(err error) string {
	for _, s := range []struct {
		name string
		err  error
	}{{"ErrCorrupt", scdb.ErrCorrupt}, {"ErrWrongKey", scdb.ErrWrongKey}, {"ErrNotSCDB", scdb.ErrNotSCDB}, {"ErrVersion", scdb.ErrVersion}} {
		if s.err == err {
			return s.name
		}
	}
	return fmt.Sprint(err)
}

var (
	wantLast     = tamperWant{outcome: "last"}
	wantNotSCDB  = tamperWant{outcome: "open", err: scdb.ErrNotSCDB}
	wantVersion  = tamperWant{outcome: "open", err: scdb.ErrVersion}
	wantWrongKey = tamperWant{outcome: "open", err: scdb.ErrWrongKey}
	wantHeader   = tamperWant{outcome: "open", err: scdb.ErrCorrupt, named: "page 0"}
	wantMeta     = tamperWant{outcome: "open", err: scdb.ErrCorrupt, named: "a meta page (1 or 2)"}
	wantOpenPage = tamperWant{outcome: "open", err: scdb.ErrCorrupt, named: "the damaged page"}
	wantReadPage = tamperWant{outcome: "read", err: scdb.ErrCorrupt, named: "the damaged page"}
	wantSwapped  = tamperWant{outcome: "read", err: scdb.ErrCorrupt, named: "either swapped page (Check: both)"}
)

// judge compares an observation with the expected outcome. pages are the
// pages the errors may name; for a read outcome Check must name each.
func (w tamperWant) judge(fx *tamperFile, pages []uint64, obs tamperObs) error {
	if len(obs.wrong) > 0 {
		return fmt.Errorf("wrong answers: %q", obs.wrong)
	}
	badErr := func(stage string, err error) error {
		if !errors.Is(err, w.err) {
			return fmt.Errorf("%s: %v, want %s", stage, err, sentinelName(w.err))
		}
		var pe *scdb.CorruptPageError
		if errors.As(err, &pe) && (w.named == "" || !slices.Contains(pages, pe.Page)) {
			return fmt.Errorf("%s: %v names page %d, want %v", stage, err, pe.Page, pages)
		}
		if w.named != "" && !errors.As(err, &pe) && w.outcome == "open" {
			return fmt.Errorf("%s: %v names no page, want %v", stage, err, pages)
		}
		return nil
	}
	switch w.outcome {
	case "open":
		if obs.openErr == nil {
			return fmt.Errorf("opened at generation %d, want Open to fail with %s", obs.gen, sentinelName(w.err))
		}
		return badErr("Open", obs.openErr)
	case "read":
		if obs.openErr != nil {
			return fmt.Errorf("Open: %v, want it to open and reads to fail", obs.openErr)
		}
		if obs.gen != fx.gen {
			return fmt.Errorf("opened at generation %d, want %d", obs.gen, fx.gen)
		}
		if len(obs.readErrs) == 0 {
			return errors.New("every read succeeded: the damage went unnoticed")
		}
		for _, err := range obs.readErrs {
			if e := badErr("read", err); e != nil {
				return e
			}
		}
		if !errors.Is(obs.checkErr, scdb.ErrCorrupt) {
			return fmt.Errorf("Check: %v, want ErrCorrupt", obs.checkErr)
		}
		for _, pg := range pages {
			if !slices.ContainsFunc(obs.rep.Problems, func(p scdb.Problem) bool { return p.Page == pg }) {
				return fmt.Errorf("Check's problems %v do not name page %d", obs.rep.Problems, pg)
			}
		}
		return nil
	}
	gen := fx.gen
	if w.outcome == "previous" {
		gen--
	}
	switch {
	case obs.openErr != nil:
		return fmt.Errorf("Open: %v, want the %s commit", obs.openErr, w.outcome)
	case obs.gen != gen:
		return fmt.Errorf("opened at generation %d, want %d (the %s commit)", obs.gen, gen, w.outcome)
	case len(obs.readErrs) > 0:
		return fmt.Errorf("reads failed: %v", obs.readErrs)
	case obs.checkErr != nil || len(obs.rep.Problems) > 0:
		return fmt.Errorf("Check: %v, problems %v", obs.checkErr, obs.rep.Problems)
	case obs.rep.Generation != gen:
		return fmt.Errorf("Check ran on generation %d, want %d", obs.rep.Generation, gen)
	case w.warn != (len(obs.rep.Warnings) > 0):
		return fmt.Errorf("Check warnings %q, want warnings: %v", obs.rep.Warnings, w.warn)
	}
	return nil
}

// ---- the cases ----

// tamperCase is one row of the table. A case either flips, one at a time,
// every bit of the bytes bits returns, or makes the files edit returns.
type tamperCase struct {
	name string
	want tamperWant
	// bits returns the byte range whose bits are flipped one at a time,
	// with the same range in the second header copy when both is set, and
	// the pages the damage is on.
	bits func(fx *tamperFixture) (lo, hi int, both bool, pages []uint64)
	// edit returns the damaged files (one or more), the file they derive
	// from, and the pages the damage is on.
	edit func(t *testing.T, fx *tamperFixture) (images [][]byte, base *tamperFile, pages []uint64)
}

// fixHeaders applies edit to the given header copies of b and recomputes
// their checksums.
func fixHeaders(b []byte, edit func(h []byte), copies ...int) []byte {
	for _, c := range copies {
		h := b[c*512 : (c+1)*512]
		edit(h)
		binary.LittleEndian.PutUint64(h[504:], xxhash.Sum64(h[:504]))
	}
	return b
}

// headerEdit is a case that edits both header copies and fixes their
// checksums.
func headerEdit(name string, want tamperWant, edit func(h []byte)) tamperCase {
	return tamperCase{name: name + ", checksums fixed", want: want,
		edit: func(t *testing.T, fx *tamperFixture) ([][]byte, *tamperFile, []uint64) {
			pages := []uint64{0}
			if want.named == wantMeta.named {
				pages = []uint64{1, 2}
			}
			return [][]byte{fixHeaders(bytes.Clone(fx.main.image), edit, 0, 1)}, &fx.main, pages
		}}
}

// pageEdit is a case that edits the main file, given its pages.
func pageEdit(name string, want tamperWant, edit func(t *testing.T, fx *tamperFixture, b []byte) []uint64) tamperCase {
	return tamperCase{name: name, want: want,
		edit: func(t *testing.T, fx *tamperFixture) ([][]byte, *tamperFile, []uint64) {
			b := bytes.Clone(fx.main.image)
			pages := edit(t, fx, b)
			return [][]byte{b}, &fx.main, pages
		}}
}

// flipPage is a bit-flip case over one page of the main file.
func flipPage(name string, want tamperWant, page func(fx *tamperFixture) uint64) tamperCase {
	return tamperCase{name: name + " (8192 files)", want: want,
		bits: func(fx *tamperFixture) (int, int, bool, []uint64) {
			pg := page(fx)
			return int(pg) * tamperPageSize, int(pg+1) * tamperPageSize, false, []uint64{pg}
		}}
}

func swap(b []byte, p, q uint64) {
	a := bytes.Clone(pageBytes(b, p))
	copy(pageBytes(b, p), pageBytes(b, q))
	copy(pageBytes(b, q), a)
}

// olderCopy puts back the first earlier copy of a page of the given kind
// that differs from the current one, and returns the page.
func olderCopy(t *testing.T, fx *tamperFixture, b []byte, kind string) uint64 {
	t.Helper()
	for _, pg := range fx.main.pagesOf(kind) {
		for gen := uint64(1); gen < fx.main.gen; gen++ {
			img := fx.images[gen]
			if int(pg+1)*tamperPageSize > len(img) || bytes.Equal(pageBytes(img, pg), pageBytes(b, pg)) {
				continue
			}
			copy(pageBytes(b, pg), pageBytes(img, pg))
			return pg
		}
	}
	t.Fatalf("no %s page of the fixture has an earlier copy", kind)
	return 0
}

func tamperCases() []tamperCase {
	metaNew := func(fx *tamperFixture) uint64 { return 1 + fx.main.gen%2 }
	metaOld := func(fx *tamperFixture) uint64 { return 2 - fx.main.gen%2 }
	first := func(kind string) func(fx *tamperFixture) uint64 {
		return func(fx *tamperFixture) uint64 { return fx.main.pagesOf(kind)[0] }
	}
	cases := []tamperCase{
		{name: "flip each bit of header copy 0, copy 1 intact (4096 files)", want: wantLast,
			bits: func(*tamperFixture) (int, int, bool, []uint64) { return 0, 512, false, nil }},
		{name: "flip each bit of header copy 1, copy 0 intact (4096 files)", want: wantLast,
			bits: func(*tamperFixture) (int, int, bool, []uint64) { return 512, 1024, false, nil }},
		{name: "flip the same bit of the magic in both header copies (64 files)", want: wantNotSCDB,
			bits: func(*tamperFixture) (int, int, bool, []uint64) { return 0, 8, true, nil }},
		{name: "flip the same bit after the magic in both header copies (4032 files)", want: wantHeader,
			bits: func(*tamperFixture) (int, int, bool, []uint64) { return 8, 512, true, []uint64{0} }},
		pageEdit("header copies swapped", wantLast, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			h0 := bytes.Clone(b[:512])
			copy(b[:512], b[512:1024])
			copy(b[512:1024], h0)
			return nil
		}),
		pageEdit("magic changed in both copies", wantNotSCDB, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			b[1], b[513] = 's', 's'
			return nil
		}),
		headerEdit("major version 4", wantVersion, func(h []byte) { h[8] = 4 }),
		headerEdit("minor version 1", wantVersion, func(h []byte) { h[10] = 1 }),
		headerEdit("cipher suite 0", wantVersion, func(h []byte) { h[12] = 0 }),
		headerEdit("cipher suite 2", wantVersion, func(h []byte) { h[12] = 2 }),
		headerEdit("flags 0x0001", wantVersion, func(h []byte) { h[14] = 1 }),
		headerEdit("flags 0x8000", wantVersion, func(h []byte) { h[15] = 0x80 }),
		headerEdit("page size shift 9", wantHeader, func(h []byte) { h[13] = 9 }),
		headerEdit("page size shift 17", wantHeader, func(h []byte) { h[13] = 17 }),
		headerEdit("page size shift 11 (2 KiB)", wantMeta, func(h []byte) { h[13] = 11 }),
		headerEdit("page size shift 16 (64 KiB, longer than the file)", wantMeta, func(h []byte) { h[13] = 16 }),
		headerEdit("file id changed", wantMeta, func(h []byte) { h[20] ^= 1 }),
		headerEdit("key id changed", wantWrongKey, func(h []byte) { h[44] ^= 1 }),
		headerEdit("epoch changed", wantLast, func(h []byte) { h[32] += 7 }),
		headerEdit("reserved byte 56 set", wantHeader, func(h []byte) { h[56] = 1 }),
		headerEdit("reserved byte 503 set", wantHeader, func(h []byte) { h[503] = 1 }),
		headerEdit("slot 0 kind 3 (unknown)", wantHeader, func(h []byte) { h[64] = 3 }),
		headerEdit("slot 0 kind 1 (passphrase without Argon2id parameters)", wantHeader, func(h []byte) { h[64] = 1 }),
		headerEdit("slot 0 kind 0 (empty but not zero)", wantHeader, func(h []byte) { h[64] = 0 }),
		headerEdit("slot 0 Argon2id time set on a raw-key slot", wantHeader, func(h []byte) { h[64+4] = 1 }),
		headerEdit("slot 0 reserved byte 2 set", wantHeader, func(h []byte) { h[64+2] = 1 }),
		headerEdit("slot 0 salt changed", wantWrongKey, func(h []byte) { h[64+16] ^= 1 }),
		headerEdit("slot 0 wrap nonce changed", wantWrongKey, func(h []byte) { h[64+32] ^= 1 }),
		headerEdit("slot 0 wrapped data key changed", wantWrongKey, func(h []byte) { h[64+56] ^= 1 }),
		headerEdit("empty slot 1 given a non-zero byte", wantHeader, func(h []byte) { h[64+104+50] = 1 }),
		pageEdit("checksum changed in both copies", wantHeader, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			b[504] ^= 1
			b[512+504] ^= 1
			return []uint64{0}
		}),
		pageEdit("major version 4 in copy 0 only, its checksum fixed", wantLast, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			fixHeaders(b, func(h []byte) { h[8] = 4 }, 0)
			return nil
		}),
		pageEdit("header rolled back to its copy from before ReplaceKeySlot",
			tamperWant{outcome: "open", err: scdb.ErrWrongKey, alsoKey: testKey, note: "(not detectable, SECURITY.md)"},
			func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
				copy(pageBytes(b, 0), fx.preRekey)
				return nil
			}),
		pageEdit("header taken from another file made with the same key", wantMeta, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			copy(pageBytes(b, 0), pageBytes(fx.other.image, 0))
			return []uint64{1, 2}
		}),
		flipPage("flip each bit of the newest meta page", tamperWant{outcome: "previous", warn: true}, metaNew),
		flipPage("flip each bit of the older meta page", tamperWant{outcome: "last", warn: true}, metaOld),
		pageEdit("meta pages swapped", wantMeta, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			swap(b, 1, 2)
			return []uint64{1, 2}
		}),
		pageEdit("both meta pages zeroed", wantMeta, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			clear(b[tamperPageSize : 3*tamperPageSize])
			return []uint64{1, 2}
		}),
		pageEdit("newest meta page put back to its copy from two commits before",
			tamperWant{outcome: "previous", note: "(not detectable: both metas valid)"},
			func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
				pg := metaNew(fx)
				copy(pageBytes(b, pg), pageBytes(fx.images[fx.main.gen-2], pg))
				return nil
			}),
		pageEdit("older meta page put back to its copy from two commits before", tamperWant{outcome: "last", warn: true},
			func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
				pg := metaOld(fx)
				copy(pageBytes(b, pg), pageBytes(fx.images[fx.main.gen-3], pg))
				return nil
			}),
		flipPage("flip each bit of a branch page", wantReadPage, first(kindBranch)),
		flipPage("flip each bit of a leaf page", wantReadPage, first(kindLeaf)),
		flipPage("flip each bit of a value chain's run head", wantReadPage, first(kindChainHead)),
		flipPage("flip each bit of a value chain's continuation page", wantReadPage, first(kindChain)),
		flipPage("flip each bit of a freelist page", wantOpenPage, first(kindFreelist)),
		flipPage("flip each bit of a free page", wantLast, first(kindFree)),
		pageEdit("two leaf pages swapped", wantSwapped, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			p, q := fx.main.firstOf(t, kindLeaf, "alpha"), fx.main.firstOf(t, kindLeaf, "beta")
			swap(b, p, q)
			return []uint64{p, q}
		}),
		pageEdit("a leaf page and a chain page swapped", wantSwapped, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			p, q := fx.main.firstOf(t, kindLeaf, "alpha"), fx.main.firstOf(t, kindChain, "*")
			swap(b, p, q)
			return []uint64{p, q}
		}),
		pageEdit("a leaf page and the freelist page swapped", tamperWant{outcome: "open", err: scdb.ErrCorrupt, named: "the freelist page"},
			func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
				p, q := fx.main.firstOf(t, kindLeaf, "alpha"), fx.main.firstOf(t, kindFreelist, "*")
				swap(b, p, q)
				return []uint64{q}
			}),
		pageEdit("a branch page put back to its copy from an earlier commit", wantReadPage, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			return []uint64{olderCopy(t, fx, b, kindBranch)}
		}),
		pageEdit("a leaf page put back to its copy from an earlier commit", wantReadPage, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			return []uint64{olderCopy(t, fx, b, kindLeaf)}
		}),
		pageEdit("a chain page put back to its copy from an earlier commit", wantReadPage, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			return []uint64{olderCopy(t, fx, b, kindChainHead)}
		}),
		pageEdit("the freelist page put back to its copy from an earlier commit", wantOpenPage, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			return []uint64{olderCopy(t, fx, b, kindFreelist)}
		}),
		pageEdit("a leaf page copied from another file made with the same key", wantReadPage, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			return copyLeafFrom(t, fx, b, &fx.other)
		}),
		pageEdit("a leaf page copied from a file with the same data key but another file id", wantReadPage, func(t *testing.T, fx *tamperFixture, b []byte) []uint64 {
			return copyLeafFrom(t, fx, b, &fx.twin)
		}),
		{name: "a leaf page of the file copied into its compacted successor (same data key, new file id)", want: wantReadPage,
			edit: func(t *testing.T, fx *tamperFixture) ([][]byte, *tamperFile, []uint64) {
				b := bytes.Clone(fx.successor.image)
				pg := fx.successor.firstOf(t, kindLeaf, "alpha")
				copy(pageBytes(b, pg), pageBytes(fx.main.image, pg))
				return [][]byte{b}, &fx.successor, []uint64{pg}
			}},
		truncations("truncated to 0, 100 or 511 bytes", wantNotSCDB, func(fx *tamperFixture) []int { return []int{0, 100, 511} }),
		truncations("truncated to 512, 1023, 1024, 2048 or 3071 bytes", wantMeta, func(fx *tamperFixture) []int { return []int{512, 1023, 1024, 2048, 3071} }),
		truncations("truncated to 3072 bytes, to one page short, to one byte short",
			tamperWant{outcome: "open", err: scdb.ErrCorrupt, named: "the last page of the committed state"},
			func(fx *tamperFixture) []int {
				n := len(fx.main.pages) * tamperPageSize
				return []int{3072, n - tamperPageSize, n - 1}
			}),
		{name: "1 byte, 1 random page or 5 zero pages appended", want: wantLast,
			edit: func(t *testing.T, fx *tamperFixture) ([][]byte, *tamperFile, []uint64) {
				random := make([]byte, tamperPageSize)
				crand.Read(random)
				return [][]byte{
					slices.Concat(fx.main.image, []byte{0x5a}),
					slices.Concat(fx.main.image, random),
					slices.Concat(fx.main.image, make([]byte, 5*tamperPageSize)),
				}, &fx.main, nil
			}},
		{name: "whole file put back to its copy after commit 3", want: tamperWant{outcome: "previous", note: "(not detectable, SECURITY.md)"},
			edit: func(t *testing.T, fx *tamperFixture) ([][]byte, *tamperFile, []uint64) {
				return [][]byte{fx.images[fx.main.gen-1]}, &fx.main, nil
			}},
	}
	return cases
}

// truncations is a case cutting the main file to each of the lengths.
func truncations(name string, want tamperWant, lengths func(fx *tamperFixture) []int) tamperCase {
	return tamperCase{name: name, want: want,
		edit: func(t *testing.T, fx *tamperFixture) ([][]byte, *tamperFile, []uint64) {
			var images [][]byte
			for _, n := range lengths(fx) {
				images = append(images, bytes.Clone(fx.main.image[:n]))
			}
			pages := []uint64{1, 2}
			if want.named != wantMeta.named {
				pages = []uint64{uint64(len(fx.main.pages) - 1)}
			}
			return images, &fx.main, pages
		}}
}

// copyLeafFrom copies into b the page of src at the position of one of the
// main file's alpha leaves; src made the same commits, so it holds a leaf of
// the same generation there.
func copyLeafFrom(t *testing.T, fx *tamperFixture, b []byte, src *tamperFile) []uint64 {
	t.Helper()
	pg := fx.main.firstOf(t, kindLeaf, "alpha")
	if src.pages[pg] != fx.main.pages[pg] {
		t.Fatalf("page %d is %+v in the source file but %+v in the fixture", pg, src.pages[pg], fx.main.pages[pg])
	}
	copy(pageBytes(b, pg), pageBytes(src.image, pg))
	return []uint64{pg}
}

// ---- the tests ----

// TestTamper damages the fixture in every way the table at the top of this
// file lists and checks each outcome. With -short it flips a sample of the
// bits (every bit of the first and last 32 bytes of a page, one in 61
// elsewhere).
func TestTamper(t *testing.T) {
	fx := tamperFixtureFor(t)
	for _, c := range tamperCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.bits != nil {
				runFlips(t, fx, c)
				return
			}
			images, base, pages := c.edit(t, fx)
			for i, img := range images {
				path := filepath.Join(t.TempDir(), fmt.Sprintf("f%d.scdb", i))
				if err := os.WriteFile(path, img, 0o600); err != nil {
					t.Fatal(err)
				}
				key := tamperKey2
				if err := c.want.judge(base, pages, tamperObserve(path, key, base.states)); err != nil {
					t.Errorf("file %d of %d (%d bytes): %v", i+1, len(images), len(img), err)
				}
				if c.want.alsoKey != nil {
					if err := wantLast.judge(base, nil, tamperObserve(path, c.want.alsoKey, base.states)); err != nil {
						t.Errorf("file %d with the replaced key: %v", i+1, err)
					}
				}
			}
		})
	}
}

// runFlips flips each bit of the case's byte range in turn, in a real
// file, and judges every resulting file.
func runFlips(t *testing.T, fx *tamperFixture, c tamperCase) {
	lo, hi, both, pages := c.bits(fx)
	path := filepath.Join(t.TempDir(), "f.scdb")
	if err := os.WriteFile(path, fx.main.image, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	xor := func(off int, bit uint) {
		for _, o := range []int{off, off + 512} {
			if o != off && !both {
				continue
			}
			if _, err := f.WriteAt([]byte{fx.main.image[o] ^ 1<<bit}, int64(o)); err != nil {
				t.Fatal(err)
			}
		}
	}
	restore := func(off int) {
		for _, o := range []int{off, off + 512} {
			if o == off || both {
				if _, err := f.WriteAt(fx.main.image[o:o+1], int64(o)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	flips, failures := 0, 0
	for off := lo; off < hi; off++ {
		for bit := range uint(8) {
			inPage := (off - lo) % tamperPageSize
			if testing.Short() && inPage >= 32 && inPage < tamperPageSize-32 && (off*8+int(bit))%61 != 0 {
				continue
			}
			xor(off, bit)
			obs := tamperObserve(path, tamperKey2, fx.main.states)
			restore(off)
			flips++
			if err := c.want.judge(&fx.main, pages, obs); err != nil {
				t.Errorf("bit %d of byte %d (page %d offset %d): %v", bit, off, off/tamperPageSize, off%tamperPageSize, err)
				if failures++; failures == 5 {
					t.Fatal("stopping after 5 failures")
				}
			}
		}
	}
	t.Logf("%d files", flips)
}

// TestTamperTable checks that the table in this file's top comment is the
// one TestTamper asserts: one row per case, the same words.
func TestTamperTable(t *testing.T) {
	src, err := os.ReadFile("tamper_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "// | ") && !strings.HasPrefix(line, "// | case |") {
			got = append(got, line)
		}
	}
	var want []string
	for _, c := range tamperCases() {
		want = append(want, fmt.Sprintf("// | %s | %s |", c.name, c.want))
	}
	if !slices.Equal(got, want) {
		t.Errorf("the table in the comment differs from the cases; the cases give:\n%s", strings.Join(want, "\n"))
	}
}

// TestBugNewestMetaDamagedAfterShrinkingCommit: SECURITY.md ("destroy the
// newest meta page: the file opens at the previous commit") and FORMAT.md
// §7 and §12 say damage to the newest meta page opens the previous commit.
// A commit that shrank the file (freelist.trimTail giving back the free
// pages at its end, pager.Commit truncating the file to the new page count)
// used to leave the file shorter than the previous commit's page count, so
// Open failed with ErrCorrupt (truncated) instead (fixed in f923eec). After
// every commit of a sequence that frees the end of the file and lets it
// shrink, the newest meta page is damaged: the previous commit must open.
func TestBugNewestMetaDamagedAfterShrinkingCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.scdb")
	db, err := scdb.Create(path, scdb.Options{Key: testKey, PageSize: tamperPageSize})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := crashRecs{}
	states := map[uint64]crashRecs{0: st}
	var sizes []int
	shrank := false
	commit := func(change func(st crashRecs) error) {
		t.Helper()
		next := st.clone()
		if err := change(next); err != nil {
			t.Fatal(err)
		}
		st = next
		gen := db.Generation()
		states[gen] = st
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		shrank = shrank || (len(sizes) > 0 && len(b) < sizes[len(sizes)-1])
		sizes = append(sizes, len(b))
		b[(1+gen%2)*tamperPageSize+100] ^= 1 // damage the newest meta page
		damaged := filepath.Join(t.TempDir(), "damaged.scdb")
		if err := os.WriteFile(damaged, b, 0o600); err != nil {
			t.Fatal(err)
		}
		err = tamperWant{outcome: "previous", warn: true}.judge(&tamperFile{gen: gen, states: states}, nil, tamperObserve(damaged, testKey, states))
		if err != nil {
			t.Fatalf("commit %d (file sizes so far %v), newest meta damaged: %v", gen, sizes, err)
		}
	}
	put := func(id string, v []byte) {
		commit(func(st crashRecs) error { st.put("l", id, v); return db.Put("l", id, v) })
	}
	put("small", []byte("x"))
	put("big", fill(10*tamperPageSize, 1)) // a chain at the end of the file
	commit(func(st crashRecs) error { delete(st["l"], "big"); return db.Delete("l", "big") })
	for _, id := range []string{"b", "c", "d", "e"} {
		put(id, []byte(id))
	}
	if !shrank {
		t.Fatalf("the file never shrank (sizes %v): the test no longer sets up the case", sizes)
	}
}
