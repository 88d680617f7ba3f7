package scdb_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/internal/faultfile"
)

// TestModel drives the public API with random sequences of actions and
// checks every answer against a map model: the committed state, and the
// state the open write transaction sees. The database lives in an in-memory
// faultfile, so that Reopen and Crash are cheap.
//
// By default it runs 100 checks of about 200 actions each (rapid's
// -rapid.checks, and -rapid.steps, whose default this test raises from 30
// to 200 unless it is given; some 20,000 actions in all). A long run:
//
//	go test -run TestModel -rapid.checks=5000 -rapid.steps=200 -timeout 2h .
//
// A failure prints a seed and a minimal action sequence; rerun it with
// -rapid.seed or the printed -rapid.failfile.
func TestModel(t *testing.T) {
	defaultRapidSteps(t, 200)
	var steps, checks atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		checks.Add(1)
		m := newModel(rt)
		defer m.close()
		actions := m.actions()
		for name, fn := range actions {
			if name != "" {
				actions[name] = func(rt *rapid.T) { steps.Add(1); fn(rt) }
			}
		}
		rt.Repeat(actions)
	})
	t.Logf("%d checks, %d actions, %d shrinks", checks.Load(), steps.Load(), shrinks.Load())
}

var (
	rapidFlagsOnce sync.Once
	rapidFlagsSet  = map[string]bool{} // rapid flags the user gave, on the command line or in the environment
)

// defaultRapidSteps sets rapid's -rapid.steps to n for this test unless the
// user chose a value, and restores it after.
func defaultRapidSteps(t *testing.T, n int) { defaultRapidFlag(t, "steps", n) }

// defaultRapidFlag sets rapid's -rapid.<name> to n for this test unless the
// user chose a value (-rapid.<name> or RAPID_<NAME>), and restores it after.
func defaultRapidFlag(t *testing.T, name string, n int) {
	rapidFlagsOnce.Do(func() {
		flag.Visit(func(f *flag.Flag) { rapidFlagsSet[f.Name] = true })
		for _, v := range os.Environ() {
			if k, _, ok := strings.Cut(v, "="); ok && strings.HasPrefix(k, "RAPID_") {
				rapidFlagsSet["rapid."+strings.ToLower(strings.TrimPrefix(k, "RAPID_"))] = true
			}
		}
	})
	f := flag.Lookup("rapid." + name)
	if rapidFlagsSet["rapid."+name] || f == nil {
		return
	}
	old := f.Value.String()
	if err := f.Value.Set(fmt.Sprint(n)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Value.Set(old) })
}

// modelState is what the database holds: list name -> id -> value, and
// the last id Append gave in each list while it existed.
type modelState struct {
	lists      map[string]map[string][]byte
	lastAppend map[string]string
}

func (s modelState) clone() modelState {
	c := modelState{lists: map[string]map[string][]byte{}, lastAppend: maps.Clone(s.lastAppend)}
	for name, l := range s.lists {
		if len(l) > 0 {
			c.lists[name] = maps.Clone(l)
		}
	}
	return c
}

func (s modelState) sorted(list string) []kv {
	var out []kv
	for _, id := range slices.Sorted(maps.Keys(s.lists[list])) {
		out = append(out, kv{id, s.lists[list][id]})
	}
	return out
}

func (s modelState) names() []string {
	var out []string
	for name, l := range s.lists {
		if len(l) > 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (s modelState) put(list, id string, v []byte) {
	if s.lists[list] == nil {
		s.lists[list] = map[string][]byte{}
	}
	s.lists[list][id] = v
}

type model struct {
	opts      scdb.Options
	maxID     int
	listNames []string
	f         *faultfile.File
	db        *scdb.DB
	tx        *scdb.Tx // the open write transaction
	committed modelState
	pending   modelState // what tx sees
	gen       uint64
}

func newModel(t *rapid.T) *model {
	pageSize := rapid.SampledFrom([]int{1024, 4096}).Draw(t, "pageSize")
	m := &model{
		opts: scdb.Options{
			Key:           testKey,
			PageSize:      pageSize,
			CacheSize:     rapid.SampledFrom([]int{0, 16 << 10}).Draw(t, "cacheSize"),
			KeepFreeSpace: rapid.Bool().Draw(t, "keepFreeSpace"),
		},
		maxID:     scdb.MaxIDSize(pageSize),
		listNames: []string{"a", "list two", "", strings.Repeat("n", 200)},
		f:         faultfile.New(nil),
		committed: modelState{lists: map[string]map[string][]byte{}, lastAppend: map[string]string{}},
	}
	db, err := scdb.CreateFile(m.f, m.opts)
	if err != nil {
		t.Fatalf("CreateFile: %v", err)
	}
	m.db = db
	m.gen = db.Generation()
	m.begin(t)
	return m
}

func (m *model) begin(t *rapid.T) {
	tx, err := m.db.Begin(true)
	if err != nil {
		t.Fatalf("Begin(true): %v", err)
	}
	m.tx = tx
	m.pending = m.committed.clone()
}

func (m *model) close() {
	if m.tx != nil {
		m.tx.Rollback()
	}
	m.db.Close()
}

func (m *model) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"":                     m.check,
		"Put":                  m.put,
		"PutReader":            m.putReader,
		"PutReaderFails":       m.putReaderFails,
		"Append":               m.append,
		"Delete":               m.delete,
		"DeleteList":           m.deleteList,
		"Get":                  m.get,
		"Commit":               m.commit,
		"Rollback":             m.rollback,
		"Reopen":               m.reopen,
		"Crash":                m.crash,
		"Iterate":              m.iterate,
		"ViewCommitted":        m.viewCommitted,
		"Bulk":                 m.bulk,
		"DeleteWhileIterating": m.deleteWhileIterating,
		"OpenThenWrite":        m.openThenWrite,
		"Shrink":               m.shrink,
	}
}

// ---- draws ----

func (m *model) drawList(t *rapid.T) string { return rapid.SampledFrom(m.listNames).Draw(t, "list") }

// drawID draws an id: a short one, one in Append's form (so that Put and
// Append collide), one around the size limit (empty to 1024 bytes and
// past MaxIDSize), or one the list holds.
func (m *model) drawID(t *rapid.T, list string) string {
	held := slices.Sorted(maps.Keys(m.pending.lists[list]))
	kind := rapid.IntRange(0, 3).Draw(t, "id kind")
	if kind == 3 && len(held) == 0 {
		kind = 0
	}
	switch kind {
	case 0:
		return rapid.SampledFrom([]string{"", "a", "a\x00", "ab", "b", "k1", "k2", "k3", "zz", "\xff"}).Draw(t, "short id")
	case 1:
		return fmt.Sprintf("%016x", rapid.IntRange(0, 6).Draw(t, "append-like id"))
	case 2:
		n := rapid.SampledFrom([]int{m.maxID - 1, m.maxID, 1024, m.maxID + 1, 300}).Draw(t, "long id length")
		c := rapid.SampledFrom([]string{"x", "y"}).Draw(t, "long id byte")
		return strings.Repeat(c, n)
	default:
		return rapid.SampledFrom(held).Draw(t, "held id")
	}
}

// drawValue draws a value of 0 bytes to several pages.
func (m *model) drawValue(t *rapid.T) []byte {
	ps := m.opts.PageSize
	size := rapid.OneOf(
		rapid.IntRange(0, 40),
		rapid.IntRange(0, 6*ps),
		rapid.SampledFrom([]int{ps/4 - 1, ps / 3, ps - 40, ps - 41, ps, 2*(ps-40) + 1}),
	).Draw(t, "value size")
	return fill(size, rapid.Uint64().Draw(t, "value seed"))
}

func (m *model) tooLong(s string) bool { return len(s) > m.maxID }

// ---- actions ----

func (m *model) check(t *rapid.T) {
	if g := m.tx.Generation(); g != m.gen {
		t.Fatalf("write transaction at generation %d, model %d", g, m.gen)
	}
	for _, name := range m.listNames {
		if n, want := m.tx.List(name).Len(), int64(len(m.pending.lists[name])); n != want {
			t.Fatalf("list %.20q: Len %d, model %d", name, n, want)
		}
	}
}

func (m *model) put(t *rapid.T) {
	list := m.drawList(t)
	id := m.drawID(t, list)
	v := m.drawValue(t)
	m.applyPut(t, "Put", list, id, v, m.tx.List(list).Put(id, v))
}

func (m *model) putReader(t *rapid.T) {
	list := m.drawList(t)
	id := m.drawID(t, list)
	v := m.drawValue(t)
	sizes := rapid.SliceOfN(rapid.IntRange(1, 3*m.opts.PageSize), 1, 3).Draw(t, "read sizes")
	m.applyPut(t, "PutReader", list, id, v, m.tx.List(list).PutReader(id, &chunkReader{r: bytes.NewReader(v), sizes: sizes}))
}

func (m *model) applyPut(t *rapid.T, op, list, id string, v []byte, err error) {
	if m.tooLong(id) {
		if !errors.Is(err, scdb.ErrTooLarge) {
			t.Fatalf("%s of a %d-byte id (max %d): %v, want ErrTooLarge", op, len(id), m.maxID, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s(%.20q, %.20q, %d bytes): %v", op, list, id, len(v), err)
	}
	m.pending.put(list, id, v)
}

func (m *model) putReaderFails(t *rapid.T) {
	list := m.drawList(t)
	id := m.drawID(t, list)
	v := m.drawValue(t)
	boom := errors.New("source failed")
	err := m.tx.List(list).PutReader(id, io.MultiReader(bytes.NewReader(v), errorReader{boom}))
	if m.tooLong(id) {
		if !errors.Is(err, scdb.ErrTooLarge) {
			t.Fatalf("PutReader of a %d-byte id: %v, want ErrTooLarge", len(id), err)
		}
		return
	}
	if !errors.Is(err, boom) {
		t.Fatalf("PutReader from a reader failing after %d bytes: %v, want its error", len(v), err)
	}
	// Nothing changes: the model stays as it is.
}

func (m *model) append(t *rapid.T) {
	list := m.drawList(t)
	v := m.drawValue(t)
	id, err := m.tx.List(list).Append(v)
	if err != nil {
		t.Fatalf("Append(%.20q): %v", list, err)
	}
	if _, ok := m.pending.lists[list][id]; ok {
		t.Fatalf("Append(%.20q) gave id %q, which the list holds: it overwrote a record", list, id)
	}
	if last, ok := m.pending.lastAppend[list]; ok && id <= last {
		t.Fatalf("Append(%.20q) gave id %q after %q: not increasing", list, id, last)
	}
	m.pending.put(list, id, v)
	m.pending.lastAppend[list] = id
}

func (m *model) delete(t *rapid.T) {
	list := m.drawList(t)
	id := m.drawID(t, list)
	err := m.tx.List(list).Delete(id)
	_, held := m.pending.lists[list][id]
	switch {
	case m.tooLong(id):
		if !errors.Is(err, scdb.ErrTooLarge) {
			t.Fatalf("Delete of a %d-byte id: %v, want ErrTooLarge", len(id), err)
		}
	case !held:
		if !errors.Is(err, scdb.ErrNotFound) {
			t.Fatalf("Delete(%.20q, %.20q) of a missing id: %v, want ErrNotFound", list, id, err)
		}
	case err != nil:
		t.Fatalf("Delete(%.20q, %.20q): %v", list, id, err)
	default:
		delete(m.pending.lists[list], id)
	}
}

func (m *model) deleteList(t *rapid.T) {
	list := m.drawList(t)
	err := m.tx.DeleteList(list)
	if len(m.pending.lists[list]) == 0 {
		// A list emptied by Delete may keep an Append sequence, which
		// DeleteList resets (nil); the model does not track which.
		if err != nil && !errors.Is(err, scdb.ErrNotFound) {
			t.Fatalf("DeleteList(%.20q) of a missing list: %v, want ErrNotFound or nil", list, err)
		}
		delete(m.pending.lastAppend, list)
		return
	}
	if err != nil {
		t.Fatalf("DeleteList(%.20q): %v", list, err)
	}
	delete(m.pending.lists, list)
	delete(m.pending.lastAppend, list) // the list is gone, its Append sequence with it
}

func (m *model) get(t *rapid.T) {
	list := m.drawList(t)
	id := m.drawID(t, list)
	want, held := m.pending.lists[list][id]
	var got []byte
	var err error
	streaming := rapid.Bool().Draw(t, "streaming")
	if streaming {
		var rec *scdb.Record
		if rec, err = m.tx.List(list).Open(id); err == nil {
			if rec.ID() != id || rec.Size() != int64(len(want)) {
				t.Fatalf("Open(%.20q): record %.20q of %d bytes, model %d", id, rec.ID(), rec.Size(), len(want))
			}
			got, err = readChunks(rec.Reader(), []int{1 + len(want)/3, 4096})
		}
	} else {
		got, err = m.tx.List(list).Get(id)
	}
	switch {
	case !held:
		if !errors.Is(err, scdb.ErrNotFound) && !(m.tooLong(id) && errors.Is(err, scdb.ErrTooLarge)) {
			t.Fatalf("Get(%.20q, %.20q) of a missing id: %d bytes, %v; want ErrNotFound", list, id, len(got), err)
		}
	case err != nil:
		t.Fatalf("Get(%.20q, %.20q) (streaming %v): %v", list, id, streaming, err)
	case !bytes.Equal(got, want):
		t.Fatalf("Get(%.20q, %.20q) (streaming %v): %d bytes differing from the model's %d", list, id, streaming, len(got), len(want))
	}
}

func (m *model) commit(t *rapid.T) {
	if err := m.tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	m.tx = nil
	m.gen++
	if g := m.db.Generation(); g != m.gen {
		t.Fatalf("generation %d after Commit, want %d", g, m.gen)
	}
	m.committed = m.pending.clone()
	// A list emptied by this commit is gone, and its Append sequence with
	// it.
	for name := range m.committed.lastAppend {
		if len(m.committed.lists[name]) == 0 {
			delete(m.committed.lastAppend, name)
		}
	}
	m.checkFile(t)
	m.begin(t)
}

// checkFile runs Check on the committed state: no damage, no page leaked,
// and the totals of the committed model.
func (m *model) checkFile(t *rapid.T) {
	rep, err := m.db.Check()
	if err != nil {
		t.Fatalf("Check: %v (problems %q)", err, rep.Problems)
	}
	if rep.LeakedPages != 0 {
		t.Fatalf("Check: %d pages leaked (neither reachable nor free)", rep.LeakedPages)
	}
	var records, bytes int64
	for _, l := range m.committed.lists {
		records += int64(len(l))
		for _, v := range l {
			bytes += int64(len(v))
		}
	}
	if rep.Generation != m.gen || rep.Lists != len(m.committed.names()) || rep.Records != records || rep.Bytes != bytes {
		t.Fatalf("Check: generation %d, %d lists, %d records, %d bytes; model %d, %d, %d, %d",
			rep.Generation, rep.Lists, rep.Records, rep.Bytes, m.gen, len(m.committed.names()), records, bytes)
	}
}

func (m *model) rollback(t *rapid.T) {
	if err := m.tx.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	m.tx = nil
	if g := m.db.Generation(); g != m.gen {
		t.Fatalf("generation %d after Rollback, want %d", g, m.gen)
	}
	m.begin(t)
}

// reopen closes the database (rolling back the open transaction) and
// opens the file again.
func (m *model) reopen(t *rapid.T) {
	m.tx.Rollback()
	m.tx = nil
	if err := m.db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	m.reopenFile(t, m.f.Clone(), true)
}

// crash cuts the power while the write transaction is open, keeping a
// random subset of the writes not yet synced (pages it spilled, a trim),
// and opens the file as the crash left it: it must hold the last commit.
func (m *model) crash(t *rapid.T) {
	unsynced := len(m.f.Unsynced())
	keep := rapid.SliceOfN(rapid.Bool(), unsynced, unsynced).Draw(t, "keep unsynced")
	crashed := m.f.Crash(func(i int) bool { return keep[i] }, nil)
	m.tx.Rollback()
	m.tx = nil
	m.db.Close()
	m.reopenFile(t, crashed, false)
}

// shrink drops the open transaction and shrinks the file: it commits
// three times or not at all, and changes no record.
func (m *model) shrink(t *rapid.T) {
	m.tx.Rollback()
	m.tx = nil
	before := m.fileSize()
	if err := m.db.Shrink(); err != nil {
		t.Fatalf("Shrink: %v", err)
	}
	g := m.db.Generation()
	if g != m.gen && g != m.gen+3 {
		t.Fatalf("generation %d after Shrink, want %d or %d", g, m.gen, m.gen+3)
	}
	if after := m.fileSize(); g == m.gen+3 && after >= before {
		t.Fatalf("Shrink committed, yet the file went from %d to %d bytes", before, after)
	}
	if g != m.gen {
		shrinks.Add(1)
	}
	m.gen = g
	m.checkFile(t)
	m.begin(t)
}

// shrinks counts the Shrink actions of TestModel that gave space back.
var shrinks atomic.Int64

func (m *model) fileSize() int64 {
	n, err := m.f.Size()
	if err != nil {
		panic(err)
	}
	return n
}

// reopenFile opens f; closed says the DB was closed, not crashed.
func (m *model) reopenFile(t *rapid.T, f *faultfile.File, closed bool) {
	m.f = f
	opts := m.opts
	opts.PageSize = 0
	db, err := scdb.OpenFile(f, opts)
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	m.db = db
	if g := db.Generation(); g == m.gen+3 && closed && !m.opts.KeepFreeSpace {
		m.gen = g // Close shrank the file (DB.Shrink): three commits
	}
	if g := db.Generation(); g != m.gen {
		t.Fatalf("reopened at generation %d, want %d", g, m.gen)
	}
	m.checkFile(t)
	m.begin(t)
}

func (m *model) iterate(t *rapid.T) {
	list := m.drawList(t)
	l := m.tx.List(list)
	want := m.pending.sorted(list)
	checkListModel(t, "write transaction", l, want)
	// From: at a held id, between ids, or anywhere.
	from := m.drawID(t, list)
	if rapid.Bool().Draw(t, "from just after") {
		from += "\x00"
	}
	i, _ := slices.BinarySearchFunc(want, from, func(r kv, id string) int { return strings.Compare(r.id, id) })
	stop := rapid.IntRange(0, 5).Draw(t, "stop after")
	var got []kv
	for rec, err := range l.From(from) {
		if err != nil {
			t.Fatalf("From(%.20q): %v", from, err)
		}
		v, err := rec.Value()
		if err != nil {
			t.Fatalf("From(%.20q): Value of %.20q: %v", from, rec.ID(), err)
		}
		got = append(got, kv{rec.ID(), v})
		if stop > 0 && len(got) == stop {
			break
		}
	}
	wantFrom := want[i:]
	if stop > 0 {
		wantFrom = wantFrom[:min(stop, len(wantFrom))]
	}
	if !equalKVs(got, wantFrom) {
		t.Fatalf("From(%.20q) gave %s, model %s", from, describeKVs(got), describeKVs(wantFrom))
	}
	if names := collectNames(t, m.tx.Lists()); !slices.Equal(names, m.pending.names()) {
		t.Fatalf("Lists in the write transaction: %.20q, model %.20q", names, m.pending.names())
	}
}

// checkListModel checks All, Len and Bytes of l against want.
func checkListModel(t *rapid.T, where string, l *scdb.List, want []kv) {
	got := collect(t, l.All())
	if !equalKVs(got, want) {
		t.Fatalf("%s: All(%.20q) gave %s, model %s", where, l.Name(), describeKVs(got), describeKVs(want))
	}
	var bytes int64
	for _, r := range want {
		bytes += int64(len(r.value))
	}
	if n := l.Len(); n != int64(len(want)) {
		t.Fatalf("%s: Len(%.20q) %d, model %d", where, l.Name(), n, len(want))
	}
	if n := l.Bytes(); n != bytes {
		t.Fatalf("%s: Bytes(%.20q) %d, model %d", where, l.Name(), n, bytes)
	}
}

// viewCommitted reads a snapshot beside the open write transaction: it
// sees the committed state, none of the transaction's changes.
func (m *model) viewCommitted(t *rapid.T) {
	list := m.drawList(t)
	err := m.db.View(func(tx *scdb.Tx) error {
		if tx.Generation() != m.gen {
			t.Fatalf("snapshot at generation %d, want %d", tx.Generation(), m.gen)
		}
		checkListModel(t, "snapshot", tx.List(list), m.committed.sorted(list))
		if names := collectNames(t, tx.Lists()); !slices.Equal(names, m.committed.names()) {
			t.Fatalf("Lists in a snapshot: %.20q, model %.20q", names, m.committed.names())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// bulk puts many small records with ids of one drawn length, to build
// trees several levels deep (on 1 KiB pages a leaf holds a few long ids).
func (m *model) bulk(t *rapid.T) {
	list := m.drawList(t)
	n := rapid.IntRange(1, 200).Draw(t, "records")
	prefix := strings.Repeat("p", rapid.IntRange(0, m.maxID-6).Draw(t, "id prefix length"))
	seed := rapid.Uint64().Draw(t, "seed")
	maxValue := rapid.SampledFrom([]int{0, 50, 400}).Draw(t, "max value")
	l := m.tx.List(list)
	for i := range n {
		x := mix(seed + uint64(i))
		id := fmt.Sprintf("%s%06d", prefix, x%100000)
		v := fill(int(x>>32)%(maxValue+1), x)
		if err := l.Put(id, v); err != nil {
			t.Fatalf("bulk Put(%.20q, %.20q): %v", list, id, err)
		}
		m.pending.put(list, id, v)
	}
}

// deleteWhileIterating deletes every k-th record of a list from inside its
// All loop: the loop visits each record once.
func (m *model) deleteWhileIterating(t *rapid.T) {
	list := m.drawList(t)
	k := rapid.IntRange(1, 3).Draw(t, "delete every")
	want := m.pending.sorted(list)
	l := m.tx.List(list)
	i := 0
	for rec, err := range l.All() {
		if err != nil {
			t.Fatalf("All(%.20q) while deleting: %v", list, err)
		}
		if i >= len(want) || rec.ID() != want[i].id {
			t.Fatalf("All(%.20q) while deleting: record %d is %.20q, model %s", list, i, rec.ID(), describeKVs(want))
		}
		if i%k == 0 {
			if err := l.Delete(rec.ID()); err != nil {
				t.Fatalf("Delete(%.20q) while iterating: %v", rec.ID(), err)
			}
			delete(m.pending.lists[list], rec.ID())
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("All(%.20q) while deleting visited %d records, model %d", list, i, len(want))
	}
}

// openThenWrite opens a record (and a Reader on it), writes more in the
// transaction, then reads the record. It may give the value it had when
// opened, or its id's current value, or ErrNotFound if the id is gone; the
// Reader taken before the writes may give the old value or fail with
// ErrTxDone. Never another record's bytes: the writes may have freed and
// reused the pages the old value was in.
func (m *model) openThenWrite(t *rapid.T) {
	list := m.drawList(t)
	held := slices.Sorted(maps.Keys(m.pending.lists[list]))
	if len(held) == 0 {
		return
	}
	id := rapid.SampledFrom(held).Draw(t, "id")
	old := m.pending.lists[list][id]
	rec, err := m.tx.List(list).Open(id)
	if err != nil {
		t.Fatalf("Open(%.20q, %.20q): %v", list, id, err)
	}
	early := rec.Reader()
	writes := map[string]func(*rapid.T){"Put": m.put, "PutReader": m.putReader, "Delete": m.delete, "DeleteList": m.deleteList, "Bulk": m.bulk}
	for range rapid.IntRange(1, 4).Draw(t, "writes") {
		writes[rapid.SampledFrom(slices.Sorted(maps.Keys(writes))).Draw(t, "write")](t)
	}
	cur, still := m.pending.lists[list][id]
	ok := func(v []byte, err error) bool {
		if err != nil {
			return !still && errors.Is(err, scdb.ErrNotFound)
		}
		return bytes.Equal(v, old) || (still && bytes.Equal(v, cur))
	}
	v, err := rec.Value()
	if !ok(v, err) {
		t.Fatalf("record %.20q opened before writes: Value %d bytes, %v; it had %d bytes, the id holds %d now (held %v)", id, len(v), err, len(old), len(cur), still)
	}
	v, err = io.ReadAll(rec.Reader())
	if !ok(v, err) {
		t.Fatalf("record %.20q opened before writes: Reader %d bytes, %v; it had %d bytes, the id holds %d now (held %v)", id, len(v), err, len(old), len(cur), still)
	}
	v, err = io.ReadAll(early)
	if !(err == nil && bytes.Equal(v, old)) && !errors.Is(err, scdb.ErrTxDone) {
		t.Fatalf("Reader of %.20q taken before writes: %d bytes, %v; want its %d bytes or ErrTxDone", id, len(v), err, len(old))
	}
}
