// Command gen writes the conformance vectors: conformance/vectors/*.scdb,
// conformance/vectors.json and conformance/worked-example.md. Every byte is
// reproducible: randomness comes from a ChaCha20 keystream seeded with the
// vector's name, and passphrase slots use a cheap Argon2id cost.
//
//	go run ./conformance/gen            # from the repository root
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/crypto/chacha20"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/conformance"
	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/dirtree"
	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/internal/testhook"
	"github.com/streamcrypt/scdb/pager"
	"github.com/streamcrypt/scdb/record"
)

var (
	key1       = seq(32, 0x00) // 000102...1f
	key2       = seq(32, 0x80)
	passphrase = "correct horse battery staple"
)

func main() {
	testhook.KDF = &crypt.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}
	out := flag.String("out", "conformance", "directory to write vectors.json, vectors/ and worked-example.md into")
	flag.Parse()
	dir := *out
	if err := os.MkdirAll(filepath.Join(dir, "vectors"), 0o755); err != nil {
		log.Fatal(err)
	}
	g := &generator{dir: dir}
	g.build()
	g.buildForged()
	md, img := workedExample(dir)
	g.ok("worked-example", "§13", "the file conformance/worked-example.md decrypts by hand: one list \"l\" with one record \"a\" = \"hi\", committed as generation 1", img, scdb.Options{Key: key1}, 1,
		model{"l": {"a": []byte("hi")}})
	m := conformance.Manifest{Format: "scdb 3.0", Vectors: g.vectors}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vectors.json"), append(manifest, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "worked-example.md"), md, 0o644); err != nil {
		log.Fatal(err)
	}
}

type generator struct {
	dir     string
	vectors []conformance.Vector
}

// model is the expected content of a file: list -> id -> value.
type model map[string]map[string][]byte

func (m model) clone() model {
	c := model{}
	for name, l := range m {
		c[name] = map[string][]byte{}
		for id, v := range l {
			c[name][id] = v
		}
	}
	return c
}

func (m model) lists() []conformance.List {
	var out []conformance.List
	for _, name := range sortedKeys(m) {
		l := conformance.List{NameHex: hex.EncodeToString([]byte(name))}
		for _, id := range sortedKeys(m[name]) {
			l.Records = append(l.Records, conformance.Record{IDHex: hex.EncodeToString([]byte(id)), ValueHex: hex.EncodeToString(m[name][id])})
		}
		out = append(out, l)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// history is a file built commit by commit: its bytes and model after each.
type history struct {
	images [][]byte
	models []model
}

func (h *history) last() ([]byte, model) {
	n := len(h.images) - 1
	return h.images[n], h.models[n]
}

// buildBasic makes a small file through three commits: inline and chained
// values, an update, a delete, an empty id and value, Append, and so freed
// pages and a freelist.
func buildBasic(name string, opts scdb.Options) *history {
	path := tempPath(name)
	defer os.Remove(path)
	testhook.Rand = newRand(name)
	db, err := scdb.Create(path, opts)
	check(err)
	h := &history{}
	m := model{}
	snap := func() {
		img, err := os.ReadFile(path)
		check(err)
		h.images = append(h.images, img)
		h.models = append(h.models, m.clone())
	}
	snap()
	put := func(tx *scdb.Tx, list, id string, v []byte) {
		check(tx.List(list).Put(id, v))
		if m[list] == nil {
			m[list] = map[string][]byte{}
		}
		m[list][id] = v
	}
	check(db.Update(func(tx *scdb.Tx) error {
		put(tx, "fruit", "apple", []byte("red"))
		put(tx, "fruit", "banana", []byte("yellow"))
		put(tx, "fruit", "cherry", []byte("dark red"))
		return nil
	}))
	snap()
	check(db.Update(func(tx *scdb.Tx) error {
		put(tx, "fruit", "banana", []byte("ripe"))
		put(tx, "blobs", "", []byte{})
		put(tx, "blobs", "big", pattern(3000))
		put(tx, "blobs", "mid", pattern(500))
		return nil
	}))
	snap()
	check(db.Update(func(tx *scdb.Tx) error {
		check(tx.List("fruit").Delete("cherry"))
		delete(m["fruit"], "cherry")
		for i := 0; i < 2; i++ {
			v := []byte(fmt.Sprintf("entry %d", i))
			id, err := tx.List("log").Append(v)
			check(err)
			if m["log"] == nil {
				m["log"] = map[string][]byte{}
			}
			m["log"][id] = v
		}
		return nil
	}))
	check(db.Close())
	snap()
	return h
}

func (g *generator) build() {
	keyOpts := scdb.Options{Key: key1, PageSize: 1024}
	passOpts := scdb.Options{Passphrase: []byte(passphrase), PageSize: 4096}

	// A file with nothing in it.
	testhook.Rand = newRand("empty-key-1k")
	path := tempPath("empty")
	db, err := scdb.Create(path, keyOpts)
	check(err)
	check(db.Close())
	empty, err := os.ReadFile(path)
	check(err)
	os.Remove(path)
	g.ok("empty-key-1k", "§5 §7", "a new file with no lists, raw key, 1 KiB pages", empty, keyOpts, 0, model{})

	basic := buildBasic("basic-key-1k", keyOpts)
	img, m := basic.last()
	g.ok("basic-key-1k", "§10", "three commits: inline and chained values, update, delete, empty id and value, Append; 1 KiB pages", img, keyOpts, 3, m)
	pbasic := buildBasic("basic-passphrase-4k", passOpts)
	pimg, pm := pbasic.last()
	g.ok("basic-passphrase-4k", "§4.3", "the same content under a passphrase slot (Argon2id t=1 m=64 KiB p=1), 4 KiB pages", pimg, passOpts, 3, pm)

	g.fail("wrong-key", "§4.3", "basic-key-1k opened with another raw key", img, scdb.Options{Key: key2}, "ErrWrongKey")
	g.fail("wrong-passphrase", "§4.3", "basic-passphrase-4k opened with another passphrase", pimg, scdb.Options{Passphrase: []byte("Tr0ub4dor&3")}, "ErrWrongKey")
	g.fail("key-for-passphrase-file", "§4.3", "basic-passphrase-4k opened with a raw key: no slot of that kind", pimg, keyOpts, "ErrWrongKey")
	g.fail("not-scdb-random", "§3.2", "4 KiB of random bytes", streamBytes("not-scdb", 4096), keyOpts, "ErrNotSCDB")
	g.fail("not-scdb-empty", "§3.2", "an empty file", []byte{}, keyOpts, "ErrNotSCDB")
	g.fail("not-scdb-short", "§3.2", "the first 7 bytes of a valid file", img[:7], keyOpts, "ErrNotSCDB")

	for _, major := range []uint16{1, 2, 4} {
		v := slices.Clone(img)
		for c := 0; c < 2; c++ {
			binary.LittleEndian.PutUint16(v[c*512+8:], major)
			fixChecksum(v, c)
		}
		g.fail(fmt.Sprintf("version-%d", major), "§11", fmt.Sprintf("both header copies say major version %d (checksums fixed)", major), v, keyOpts, "ErrVersion")
	}
	for _, id := range []struct {
		name, rule, what string
		off              int
		want             string
	}{
		{"file-id-changed", "§6.2", "file id", 16, "ErrCorrupt"},
		{"key-id-changed", "§4.3", "key id", 40, "ErrWrongKey"},
	} {
		v := slices.Clone(img)
		for c := 0; c < 2; c++ {
			v[c*512+id.off+3] ^= 0x10
			fixChecksum(v, c)
		}
		g.fail(id.name, id.rule, "basic-key-1k with one bit of the "+id.what+" flipped in both header copies (checksums fixed)", v, keyOpts, id.want)
	}

	minor := slices.Clone(img)
	for c := 0; c < 2; c++ {
		binary.LittleEndian.PutUint16(minor[c*512+10:], 1)
		fixChecksum(minor, c)
	}
	g.fail("minor-version-1", "§11", "both header copies say version 1.1", minor, keyOpts, "ErrVersion")

	h0 := slices.Clone(img)
	h0[64+20] ^= 0x01 // a salt byte of slot 0 in copy 0
	g.ok("header-copy0-damaged", "§3.2", "a byte of header copy 0 flipped: copy 1 is used", h0, keyOpts, 3, m)
	hb := slices.Clone(h0)
	hb[512+64+20] ^= 0x01
	g.fail("header-both-damaged", "§3.2", "the same byte flipped in both header copies", hb, keyOpts, "ErrCorrupt")

	meta := readMeta(img, keyOpts)
	newest := int(1 + meta.Gen%2)
	mn := slices.Clone(img)
	mn[newest*1024+100] ^= 0x80
	_, m2 := basic.images[2], basic.models[2]
	g.ok("meta-newest-damaged", "§7", "the newest meta page (generation 3) damaged: the reader opens generation 2, as after a torn commit", mn, keyOpts, 2, m2)
	mb := slices.Clone(mn)
	mb[(3-newest)*1024+100] ^= 0x80
	g.fail("meta-both-damaged", "§7", "both meta pages damaged", mb, keyOpts, "ErrCorrupt")

	rootPg := int(meta.Tree.Page)
	flip := slices.Clone(img)
	flip[rootPg*1024+500] ^= 0x04
	g.fail("root-bitflip", "§6.2", "one bit flipped in the directory root page's ciphertext", flip, keyOpts, "ErrCorrupt")

	swap := slices.Clone(img)
	other := 3
	if other == rootPg {
		other = 4
	}
	copy(swap[rootPg*1024:], img[other*1024:(other+1)*1024])
	copy(swap[other*1024:], img[rootPg*1024:(rootPg+1)*1024])
	g.fail("page-swap", "§6.2", fmt.Sprintf("pages %d (directory root) and %d swapped", rootPg, other), swap, keyOpts, "ErrCorrupt")

	// Page reuse puts new content at an old page number; putting the old
	// content back must fail.
	replayPg := replayable(img, basic.images[1], keyOpts)
	replay := slices.Clone(img)
	copy(replay[replayPg*1024:], basic.images[1][replayPg*1024:(replayPg+1)*1024])
	g.fail("page-replay", "§6.2", fmt.Sprintf("page %d, reachable at generation 3, replaced by its older copy from the file at generation 1", replayPg), replay, keyOpts, "ErrCorrupt")

	g.fail("truncated", "§2 §7", "the last page cut off", img[:len(img)-1024], keyOpts, "ErrCorrupt")

	// Another file whose random draws give it the same data key but its own
	// file id: its pages open under the same key but not in this file.
	twin := buildTwin(img, keyOpts)
	trans := slices.Clone(img)
	copy(trans[rootPg*1024:], twin[rootPg*1024:(rootPg+1)*1024])
	g.fail("page-from-other-file", "§6.2", fmt.Sprintf("page %d taken from a file with the same data key and another file id", rootPg), trans, keyOpts, "ErrCorrupt")

	g.buildQueue(keyOpts)
	g.buildDeep(keyOpts)
	g.buildFreelistLog(keyOpts)

	tail := append(slices.Clone(img), streamBytes("tail", 1024)...)
	g.ok("trailing-garbage", "§2", "a page of random bytes after the last page (an interrupted transaction leaves such pages)", tail, keyOpts, 3, m)
}

// buildQueue makes a list used as a queue: three Appends, all deleted (the
// directory keeps an entry with no records for the Append sequence, which is
// not a list), then one more Append, which continues the sequence.
func (g *generator) buildQueue(opts scdb.Options) {
	testhook.Rand = newRand("queue-1k")
	path := tempPath("queue")
	defer os.Remove(path)
	db, err := scdb.Create(path, opts)
	check(err)
	var ids []string
	check(db.Update(func(tx *scdb.Tx) error {
		for i := 0; i < 3; i++ {
			id, err := tx.List("queue").Append([]byte(fmt.Sprintf("job %d", i)))
			check(err)
			ids = append(ids, id)
		}
		return nil
	}))
	check(db.Update(func(tx *scdb.Tx) error {
		for _, id := range ids {
			check(tx.List("queue").Delete(id))
		}
		return nil
	}))
	drained, err := os.ReadFile(path)
	check(err)
	g.ok("queue-drained-1k", "§10.2", "three records Appended to list \"queue\", then all deleted: the directory holds an entry with no records, which is not a list", drained, opts, 2, model{})
	var id string
	check(db.Update(func(tx *scdb.Tx) error {
		id, err = tx.List("queue").Append([]byte("job 3"))
		return err
	}))
	check(db.Close())
	refilled, err := os.ReadFile(path)
	check(err)
	g.ok("queue-refilled-1k", "§10.2", "then one more Append: its id continues the sequence (0000000000000003)", refilled, opts, 3,
		model{"queue": {id: []byte("job 3")}})
}

// buildDeep makes a file whose list tree has branch nodes (300 records on
// 1 KiB pages), values on both sides of the inline limit, and a streamed
// value long enough for a chain of several runs.
func (g *generator) buildDeep(opts scdb.Options) {
	testhook.Rand = newRand("deep-1k")
	path := tempPath("deep")
	defer os.Remove(path)
	db, err := scdb.Create(path, opts)
	check(err)
	m := model{"many": {}, "edge": {}}
	check(db.Update(func(tx *scdb.Tx) error {
		for i := 0; i < 300; i++ {
			id, v := fmt.Sprintf("r%04d", i), []byte(fmt.Sprintf("value of record %d", i))
			check(tx.List("many").Put(id, v))
			m["many"][id] = v
		}
		// The largest inline value beside a 1-byte id, and one byte more.
		inline := dirtree.MaxValue(1024-crypt.Overhead, 1) - 1
		// In a fixed order: a map's would change the file from run to run.
		for _, e := range []struct {
			id   string
			size int
		}{{"i", inline}, {"j", inline + 1}} {
			id, v := e.id, pattern(e.size)
			check(tx.List("edge").Put(id, v))
			m["edge"][id] = v
		}
		// 40 pages of 960 bytes, streamed: runs of 16 and 32 pages are
		// allocated, and the last run keeps 24 of its 32.
		long := pattern(40 * 960)
		check(tx.List("edge").PutReader("long", bytes.NewReader(long)))
		m["edge"]["long"] = long
		return nil
	}))
	check(db.Close())
	img, err := os.ReadFile(path)
	check(err)
	g.ok("deep-1k", "§10.3 §10.4", "list \"many\": 300 records, so its tree has branch nodes; list \"edge\": a value at the inline limit (id \"i\", inline) and one byte over (id \"j\", a chain), and a 38400-byte value streamed in (id \"long\", a chain of two runs, of 16 and 24 pages)", img, opts, 1, m)
}

// buildFreelistLog makes a file whose free set is a checkpoint of two pages
// and two log pages after it (FORMAT.md §8): 170 values one byte over the
// inline limit (one chain page each at 1 KiB pages), every other one
// deleted, then two 1-record commits.
func (g *generator) buildFreelistLog(opts scdb.Options) {
	testhook.Rand = newRand("freelist-log-1k")
	path := tempPath("freelist-log")
	defer os.Remove(path)
	db, err := scdb.Create(path, opts)
	check(err)
	m := model{"f": {}}
	// Ids are 4 bytes ("r000"); the largest inline value is MaxValue - 1.
	size := dirtree.MaxValue(1024-crypt.Overhead, 4)
	value := func(i int) []byte {
		v := pattern(size)
		v[0] = byte(i)
		return v
	}
	check(db.Update(func(tx *scdb.Tx) error {
		for i := 0; i < 170; i++ {
			id := fmt.Sprintf("r%03d", i)
			check(tx.List("f").Put(id, value(i)))
			m["f"][id] = value(i)
		}
		return nil
	}))
	check(db.Update(func(tx *scdb.Tx) error {
		for i := 1; i < 170; i += 2 {
			id := fmt.Sprintf("r%03d", i)
			check(tx.List("f").Delete(id))
			delete(m["f"], id)
		}
		return nil
	}))
	for _, id := range []string{"s0", "s1"} {
		check(db.Put("f", id, []byte(id)))
		m["f"][id] = []byte(id)
	}
	check(db.Close())
	img, err := os.ReadFile(path)
	check(err)
	log2, log1, ckpt := freelistPages(img, opts)
	g.ok("freelist-log-1k", "§8", fmt.Sprintf("85 of 170 chain-page values deleted, then two 1-record commits: the free set is a checkpoint of two pages (pages %d, %d) and the log pages %d (sequence 1) and %d (sequence 2, the meta's freelist head), FORMAT.md §8", ckpt[0], ckpt[1], log1, log2), img, opts, 4, m)
}

// freelistPages returns the freelist head of img, the log page before it
// and the checkpoint's pages, and fails unless they are exactly that.
func freelistPages(img []byte, opts scdb.Options) (head, prev uint64, ckpt []uint64) {
	p, err := pager.Open(faultfile.New(img), crypt.Credential{Key: opts.Key, Passphrase: opts.Passphrase}, pager.Options{ReadOnly: true})
	check(err)
	defer p.Close()
	ref := p.Meta().Freelist
	var types []byte
	var pages []uint64
	for !ref.IsZero() {
		b, err := p.Page(ref)
		check(err)
		types, pages = append(types, b[0]), append(pages, ref.Page)
		if b[0] == 6 {
			ref = pager.GetRef(b[16:])
		} else {
			ref = pager.Ref{Page: binary.LittleEndian.Uint64(b[8:]), Gen: ref.Gen}
		}
	}
	if string(types) != "\x06\x06\x02\x02" {
		log.Fatalf("freelist-log-1k: freelist page types %v, want two log pages and a checkpoint of two", types)
	}
	return pages[0], pages[1], pages[2:]
}

// buildTwin makes basic-key-1k again with a different file id but the same
// data key, by replaying the same random stream except for the file id.
func buildTwin(img []byte, opts scdb.Options) []byte {
	// Create draws the file id (16 bytes) first, then the data key.
	base := newRand("basic-key-1k")
	id := make([]byte, 16)
	io.ReadFull(base, id)
	id[0] ^= 0xff
	testhook.Rand = io.MultiReader(bytes.NewReader(id), base)
	path := tempPath("twin")
	defer os.Remove(path)
	db, err := scdb.Create(path, opts)
	check(err)
	check(db.Update(func(tx *scdb.Tx) error { return tx.List("fruit").Put("apple", []byte("green")) }))
	check(db.Update(func(tx *scdb.Tx) error { return tx.List("fruit").Put("kiwi", []byte("green")) }))
	check(db.Update(func(tx *scdb.Tx) error { return tx.List("fruit").Put("lime", []byte("green")) }))
	check(db.Close())
	out, err := os.ReadFile(path)
	check(err)
	for len(out) < len(img) {
		out = append(out, make([]byte, 1024)...)
	}
	return out
}

func (g *generator) write(name string, img []byte) string {
	file := filepath.Join("vectors", name+".scdb")
	check(os.WriteFile(filepath.Join(g.dir, file), img, 0o644))
	return file
}

func (g *generator) ok(name, rule, desc string, img []byte, opts scdb.Options, gen uint64, m model) {
	v := vector(name, rule, desc, g.write(name, img), opts)
	v.Expect, v.Generation, v.Lists = "ok", gen, m.lists()
	g.vectors = append(g.vectors, v)
}

func (g *generator) fail(name, rule, desc string, img []byte, opts scdb.Options, expect string) {
	v := vector(name, rule, desc, g.write(name, img), opts)
	v.Expect = expect
	g.vectors = append(g.vectors, v)
}

func vector(name, rule, desc, file string, opts scdb.Options) conformance.Vector {
	v := conformance.Vector{Name: name, Rule: rule, Description: desc, File: file}
	if opts.Key != nil {
		v.KeyHex = hex.EncodeToString(opts.Key)
	} else {
		v.Passphrase = string(opts.Passphrase)
	}
	return v
}

// replayable returns a page reachable in img whose bytes differ in the
// older image old: a page reused since.
func replayable(img, old []byte, opts scdb.Options) int {
	p, err := pager.Open(faultfile.New(img), crypt.Credential{Key: opts.Key, Passphrase: opts.Passphrase}, pager.Options{ReadOnly: true})
	check(err)
	defer p.Close()
	var reachable []uint64
	pages := func(ref pager.Ref, leaf bool) { reachable = append(reachable, ref.Page) }
	dirtree.Open(p, p.Meta().Tree).Check(dirtree.CheckFuncs{Page: pages, Value: func(_, entry []byte) {
		list := dirtree.Open(p, pager.GetRef(entry[24:]))
		list.Check(dirtree.CheckFuncs{Page: pages, Value: func(_, cell []byte) {
			check(record.Pages(p, cell, func(ref pager.Ref) { reachable = append(reachable, ref.Page) }))
		}})
	}})
	slices.Sort(reachable)
	for _, pg := range reachable {
		lo, hi := int(pg)*1024, int(pg+1)*1024
		if hi <= len(old) && !bytes.Equal(old[lo:hi], img[lo:hi]) && !bytes.Equal(old[lo:hi], make([]byte, 1024)) {
			return int(pg)
		}
	}
	log.Fatal("replay: no reachable page was reused")
	return 0
}

// readMeta opens img and returns its current meta.
func readMeta(img []byte, opts scdb.Options) pager.Meta {
	p, err := pager.Open(faultfile.New(img), crypt.Credential{Key: opts.Key, Passphrase: opts.Passphrase}, pager.Options{ReadOnly: true})
	check(err)
	defer p.Close()
	return p.Meta()
}

func fixChecksum(img []byte, copyIdx int) {
	h := img[copyIdx*512 : copyIdx*512+512]
	binary.LittleEndian.PutUint64(h[504:], xxhash.Sum64(h[:504]))
}

// newRand returns a reproducible stream: ChaCha20 keyed with SHA-256(name).
func newRand(name string) io.Reader {
	key := sha256.Sum256([]byte("scdb conformance " + name))
	c, err := chacha20.NewUnauthenticatedCipher(key[:], make([]byte, 12))
	check(err)
	return &streamReader{c: c}
}

type streamReader struct{ c *chacha20.Cipher }

func (s *streamReader) Read(p []byte) (int, error) {
	clear(p)
	s.c.XORKeyStream(p, p)
	return len(p), nil
}

func streamBytes(name string, n int) []byte {
	b := make([]byte, n)
	io.ReadFull(newRand(name), b)
	return b
}

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func tempPath(name string) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("scdb-gen-%d-%s.scdb", os.Getpid(), strings.ReplaceAll(name, "/", "_")))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
