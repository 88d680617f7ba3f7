package main

import (
	"encoding/binary"
	"os"
	"slices"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/testhook"
	"github.com/streamcrypt/scdb/pager"
)

// This file builds files page by page from FORMAT.md's layouts, sealing each
// payload with the file's data key: the way to make a file that breaks
// exactly one reader rule. Only the header and the generation-0 meta come
// from the Go writer (scdb.Create); every other page is encoded here, so no
// vector depends on how the Go writer allocates pages or lays out its
// freelist (none of these files has a freelist page). Nonces come from a
// stream seeded with the vector's name, so the bytes are reproducible.

const (
	fP = 1024            // page size of every built file
	fS = fP - 40         // payload size S
	fD = fS - 24         // value bytes per chain page D
	fG = uint64(1)       // generation of the first built commit
	fM = 301             // MaxKey(984)
	fV = (fS-4)/2 - 6    // MaxValue(984, 0) = 484
	fN = 1 << 40         // MaxSize
	fR = 1024            // longest run
	fT = uint64(1 << 53) // MaxPageCount at 1 KiB pages: 2^(63-10)
)

// builder is a file under construction: a real header and generation-0
// meta, then pages appended and sealed by the generator.
type builder struct {
	img []byte
	pc  *crypt.PageCipher
	id  [crypt.FileIDSize]byte
	key []byte
}

// newBuilder makes an empty 1 KiB-page file under key1 whose random draws
// (file id, data key, slot) and page nonces come from streams named name.
func newBuilder(name string) *builder {
	testhook.Rand = newRand("built " + name)
	path := tempPath("built-" + name)
	defer os.Remove(path)
	db, err := scdb.Create(path, scdb.Options{Key: key1, PageSize: fP})
	check(err)
	check(db.Close())
	img, err := os.ReadFile(path)
	check(err)
	b := &builder{img: img}
	var keyID [crypt.KeyIDSize]byte
	copy(b.id[:], img[16:32])
	copy(keyID[:], img[40:56])
	var slot crypt.Slot
	copy(slot[:], img[64:64+crypt.SlotSize])
	b.key, err = slot.Unwrap(crypt.Credential{Key: key1}, keyID, crypt.DefaultKDFLimit)
	check(err)
	b.pc, err = crypt.NewPageCipher(b.key, b.id, newRand("nonces "+name))
	check(err)
	return b
}

// pages is the number of whole pages in the image.
func (b *builder) pages() uint64 { return uint64(len(b.img) / fP) }

// alloc appends n zero pages and returns the first one's number.
func (b *builder) alloc(n int) uint64 {
	first := b.pages()
	b.img = append(b.img, make([]byte, n*fP)...)
	return first
}

// seal seals payload as page pg at generation gen.
func (b *builder) seal(pg, gen uint64, payload []byte) {
	for b.pages() <= pg {
		b.alloc(1)
	}
	check(b.pc.Seal(b.img[pg*fP:(pg+1)*fP], payload, pg, gen))
}

// put appends one page holding payload at generation gen.
func (b *builder) put(gen uint64, payload []byte) pager.Ref {
	pg := b.alloc(1)
	b.seal(pg, gen, payload)
	return pager.Ref{Page: pg, Gen: gen}
}

// open decrypts page pg as sealed at gen.
func (b *builder) open(pg, gen uint64) []byte {
	out := make([]byte, fS)
	check(b.pc.Open(out, b.img[pg*fP:(pg+1)*fP], pg, gen))
	return out
}

// metaPayload encodes a meta (FORMAT.md §7).
func metaPayload(gen, pageCount uint64, tree, free pager.Ref) []byte {
	p := make([]byte, fS)
	p[0], p[1] = pager.TypeMeta, 10
	binary.LittleEndian.PutUint16(p[2:], pager.FormatMajor)
	binary.LittleEndian.PutUint64(p[8:], gen)
	binary.LittleEndian.PutUint64(p[16:], pageCount)
	putRef(p[24:], tree)
	putRef(p[40:], free)
	return p
}

// commit seals the meta of gen on page 1 + gen%2, counting every page of
// the image; edit, if given, changes its payload first.
func (b *builder) commit(gen uint64, tree pager.Ref, edit func([]byte)) {
	p := metaPayload(gen, b.pages(), tree, pager.Ref{})
	if edit != nil {
		edit(p)
	}
	b.seal(1+gen%2, 0, p)
}

func putRef(b []byte, r pager.Ref) {
	binary.LittleEndian.PutUint64(b, r.Page)
	binary.LittleEndian.PutUint64(b[8:], r.Gen)
}

// kv is one leaf cell: key and value as stored (for a list tree, the value
// is a record cell).
type kv struct{ k, v []byte }

// leafPayload encodes a leaf (§10.3.2) with the cells in slot order, packed
// at the end of the payload in that order.
func leafPayload(cells []kv) []byte {
	p := make([]byte, fS)
	p[0] = pager.TypeLeaf
	binary.LittleEndian.PutUint16(p[2:], uint16(len(cells)))
	used := 0
	for _, c := range cells {
		used += 4 + len(c.k) + len(c.v)
	}
	off := fS - used
	for i, c := range cells {
		binary.LittleEndian.PutUint16(p[4+2*i:], uint16(off))
		binary.LittleEndian.PutUint16(p[off:], uint16(len(c.k)))
		binary.LittleEndian.PutUint16(p[off+2:], uint16(len(c.v)))
		off += 4
		off += copy(p[off:], c.k)
		off += copy(p[off:], c.v)
	}
	return p
}

// branchPayload encodes a branch (§10.3.2.4): child 0, then separator i
// beside child i+1.
func branchPayload(kids []pager.Ref, seps [][]byte) []byte {
	p := make([]byte, fS)
	p[0] = pager.TypeBranch
	binary.LittleEndian.PutUint16(p[2:], uint16(len(seps)))
	putRef(p[4:], kids[0])
	used := 0
	for _, s := range seps {
		used += 18 + len(s)
	}
	off := fS - used
	for i, s := range seps {
		binary.LittleEndian.PutUint16(p[20+2*i:], uint16(off))
		putRef(p[off:], kids[i+1])
		binary.LittleEndian.PutUint16(p[off+16:], uint16(len(s)))
		off += 18
		off += copy(p[off:], s)
	}
	return p
}

// slotOf returns the offset of cell i of a node payload.
func slotOf(p []byte, i int) int {
	h := 4
	if p[0] == pager.TypeBranch {
		h = 20
	}
	return int(binary.LittleEndian.Uint16(p[h+2*i:]))
}

// entryBytes encodes a list entry (§10.2).
func entryBytes(count, total, seq uint64, root pager.Ref) []byte {
	e := make([]byte, 40)
	binary.LittleEndian.PutUint64(e, count)
	binary.LittleEndian.PutUint64(e[8:], total)
	binary.LittleEndian.PutUint64(e[16:], seq)
	putRef(e[24:], root)
	return e
}

func inlineCell(v []byte) []byte { return append([]byte{0}, v...) }

func chainCellBytes(size, first, gen uint64) []byte {
	c := make([]byte, 25)
	c[0] = 1
	binary.LittleEndian.PutUint64(c[1:], size)
	binary.LittleEndian.PutUint64(c[9:], first)
	binary.LittleEndian.PutUint64(c[17:], gen)
	return c
}

// chainPage encodes a value chain page (§10.4.2.1).
func chainPage(role byte, used int, lenOrIndex uint32, owner, next uint64, data []byte) []byte {
	p := make([]byte, fS)
	p[0], p[1] = 5, role
	binary.LittleEndian.PutUint16(p[2:], uint16(used))
	binary.LittleEndian.PutUint32(p[4:], lenOrIndex)
	binary.LittleEndian.PutUint64(p[8:], owner)
	binary.LittleEndian.PutUint64(p[16:], next)
	copy(p[24:], data)
	return p
}

// chainPlan is a value chain to lay down: its runs' lengths and where each
// run's head goes (0: the next free page), and a hook to break one page.
type chainPlan struct {
	value []byte
	runs  []int
	heads []uint64                         // optional, per run
	edit  func(i int, pg uint64, p []byte) // i: index in the chain
}

// chain writes the value chain of plan at generation gen and returns its
// record cell. Pages are placed at the heads given, else appended.
func (b *builder) chain(gen uint64, plan chainPlan) []byte {
	size := len(plan.value)
	heads := make([]uint64, len(plan.runs))
	for r, l := range plan.runs {
		if r < len(plan.heads) && plan.heads[r] != 0 {
			heads[r] = plan.heads[r]
			for b.pages() < heads[r]+uint64(l) {
				b.alloc(1)
			}
		} else {
			heads[r] = b.alloc(l)
		}
	}
	first := heads[0]
	i := 0
	for r, l := range plan.runs {
		var next uint64
		if r+1 < len(plan.runs) {
			next = heads[r+1]
		}
		for k := 0; k < l; k++ {
			lo := min(i*fD, size)
			hi := min(lo+fD, size)
			var p []byte
			if k == 0 {
				p = chainPage(1, hi-lo, uint32(l), first, next, plan.value[lo:hi])
			} else {
				p = chainPage(2, hi-lo, uint32(k), first, 0, plan.value[lo:hi])
			}
			if plan.edit != nil {
				plan.edit(i, heads[r]+uint64(k), p)
			}
			b.seal(heads[r]+uint64(k), gen, p)
			i++
		}
	}
	return chainCellBytes(uint64(size), first, gen)
}

// rec is one record to build: its id, value and record cell.
type rec struct {
	id   string
	val  []byte
	cell []byte
}

// in is a record stored inline.
func in(id, val string) rec { return rec{id, []byte(val), inlineCell([]byte(val))} }

// chained is a record whose value is written as the chain plan says, at gen.
func (b *builder) chained(gen uint64, id string, plan chainPlan) rec {
	return rec{id, plan.value, b.chain(gen, plan)}
}

// list is one list to build: its name and records in slot order.
type list struct {
	name string
	recs []rec
}

func (l list) cells() []kv {
	var out []kv
	for _, r := range l.recs {
		out = append(out, kv{[]byte(r.id), r.cell})
	}
	return out
}

func (l list) total() uint64 {
	var t uint64
	for _, r := range l.recs {
		t += uint64(len(r.val))
	}
	return t
}

// edits change payloads of a built state before they are sealed: a list's
// leaf (by list index) or its directory entry, and the directory leaf.
type edits struct {
	leaf  func(i int, p []byte)
	entry func(i int, e []byte) []byte
	dir   func(p []byte)
}

// dir writes each list's tree as one leaf and a directory leaf over them,
// all at gen, and returns the directory root.
func (b *builder) dir(gen uint64, e edits, lists ...list) pager.Ref {
	var entries []kv
	for i, l := range lists {
		p := leafPayload(l.cells())
		if e.leaf != nil {
			e.leaf(i, p)
		}
		root := b.put(gen, p)
		ent := entryBytes(uint64(len(l.recs)), l.total(), 0, root)
		if e.entry != nil {
			ent = e.entry(i, ent)
		}
		entries = append(entries, kv{[]byte(l.name), ent})
	}
	p := leafPayload(entries)
	if e.dir != nil {
		e.dir(p)
	}
	return b.put(gen, p)
}

// expectOf is the model a reader must find in lists.
func expectOf(lists ...list) model {
	m := model{}
	for _, l := range lists {
		m[l.name] = map[string][]byte{}
		for _, r := range l.recs {
			m[l.name][r.id] = r.val
		}
	}
	return m
}

// keyed returns a key of n bytes starting with prefix, padded with 'k'.
func keyed(prefix string, n int) []byte {
	k := slices.Repeat([]byte("k"), n)
	copy(k, prefix)
	return k
}
