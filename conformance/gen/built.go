package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/testhook"
	"github.com/streamcrypt/scdb/pager"
)

// The vectors below are built page by page (forge.go): each breaks exactly
// one reader rule of FORMAT.md, or sits exactly at a limit, in an otherwise
// valid file. All use 1 KiB pages and raw key key1.

var keyOpt = scdb.Options{Key: key1}

// okv records a vector that must open at gen with content m.
func (g *generator) okv(name, rule, desc string, img []byte, gen uint64, m model) {
	g.ok(name, rule, desc, img, keyOpt, gen, m)
}

// bad records a vector whose outcome is the error expect.
func (g *generator) bad(name, rule, desc string, img []byte, expect string) {
	g.fail(name, rule, desc, img, keyOpt, expect)
}

// corrupt records a vector whose outcome is ErrCorrupt.
func (g *generator) corrupt(name, rule, desc string, img []byte) {
	g.bad(name, rule, desc, img, "ErrCorrupt")
}

// std is the standard content: list "l" with the empty id (empty value),
// "a" and "b" inline and "c", a 2000-byte value in a 3-page chain.
func (b *builder) std(plan func(*chainPlan)) []list {
	p := chainPlan{value: pattern(2000), runs: []int{3}}
	if plan != nil {
		plan(&p)
	}
	c := b.chained(fG, "c", p)
	return []list{{"l", []rec{in("", ""), in("a", "alpha"), in("b", "bravo"), c}}}
}

// stdFile builds the standard content, committed as generation 1, with
// the edits applied; it returns the image and the content a reader finds
// if no edit breaks a rule.
func stdFile(name string, e edits, plan func(*chainPlan)) ([]byte, model) {
	b := newBuilder(name)
	ls := b.std(plan)
	b.commit(fG, b.dir(fG, e, ls...), nil)
	return b.img, expectOf(ls...)
}

func (g *generator) buildForged() {
	g.builtHeader()
	g.builtMeta()
	g.builtDepth()
	g.builtNodes()
	g.builtEntries()
	g.builtCells()
	g.builtChains()
	g.builtBounds()
	g.builtSuccessor()
}

// editHeader changes the given header copies of a copy of img and, with
// fix, recomputes their checksums.
func editHeader(img []byte, copies []int, fix bool, edit func(h []byte)) []byte {
	out := slices.Clone(img)
	for _, c := range copies {
		h := out[c*512 : c*512+512]
		edit(h)
		if fix {
			binary.LittleEndian.PutUint64(h[504:], xxhash.Sum64(h[:504]))
		}
	}
	return out
}

var both = []int{0, 1}

func (g *generator) builtHeader() {
	img, m := stdFile("header", edits{}, nil)
	g.okv("built-std", "§2 §7 §10", "the standard built file every other built vector changes: list \"l\" with ids \"\", \"a\", \"b\" inline and \"c\" (2000 bytes, a 3-page chain), generation 1", img, 1, m)

	// Several fields bad in one copy: the check order of §3.2 decides.
	g.bad("header-version4-and-shift9", "§3.2", "both copies say major version 4 and page size shift 9 (checksums fixed): the version is checked before the shift",
		editHeader(img, both, true, func(h []byte) { h[8], h[13] = 4, 9 }), "ErrVersion")
	g.bad("header-suite2-and-reserved", "§3.2", "both copies have cipher suite 2 and a non-zero reserved byte 480 (checksums fixed): the suite is checked before reserved bytes",
		editHeader(img, both, true, func(h []byte) { h[12], h[480] = 2, 1 }), "ErrVersion")
	g.bad("header-checksum-and-version4", "§3.2", "both copies say major version 4 but their checksums were not recomputed: the checksum is checked first",
		editHeader(img, both, false, func(h []byte) { h[8] = 4 }), "ErrCorrupt")
	g.bad("header-shift9-and-slot-kind", "§3.2", "both copies have page size shift 9 and slot 3 of kind 7 (checksums fixed): both are damage",
		editHeader(img, both, true, func(h []byte) { h[13], h[64+3*104] = 9, 7 }), "ErrCorrupt")
	g.bad("header-flags-1", "§3.1 §11", "both copies have flag bit 0 set (checksums fixed)",
		editHeader(img, both, true, func(h []byte) { h[14] = 1 }), "ErrVersion")
	g.bad("header-suite-2", "§3.1 §11", "both copies name cipher suite 2 (checksums fixed)",
		editHeader(img, both, true, func(h []byte) { h[12] = 2 }), "ErrVersion")
	g.bad("header-shift-17", "§3.1", "both copies say page size shift 17 (checksums fixed)",
		editHeader(img, both, true, func(h []byte) { h[13] = 17 }), "ErrCorrupt")
	g.bad("header-reserved-56", "§3.1 §1", "both copies have reserved byte 56 set (checksums fixed)",
		editHeader(img, both, true, func(h []byte) { h[56] = 1 }), "ErrCorrupt")
	g.bad("header-reserved-503", "§3.1 §1", "both copies have reserved byte 503, the last before the checksum, set (checksums fixed)",
		editHeader(img, both, true, func(h []byte) { h[503] = 0x80 }), "ErrCorrupt")
	v := editHeader(img, []int{0}, true, func(h []byte) { h[8] = 4 })
	v = editHeader(v, []int{1}, false, func(h []byte) { h[100] ^= 1 })
	g.bad("header-copy0-version4-copy1-damaged", "§3.2", "copy 0 says major version 4 (checksum fixed), copy 1 fails its checksum: no copy is valid, and one failed on a version field",
		v, "ErrVersion")
	g.okv("header-copy0-no-magic", "§3.2", "copy 0's magic is broken (the copy is absent), copy 1 is valid and used",
		editHeader(img, []int{0}, false, func(h []byte) { h[1] = 's' }), 1, m)
	g.bad("header-no-magic-copy1-valid-short", "§3.2", "the first 1000 bytes of built-std with copy 0's magic broken: copy 1 is not wholly inside the file, so no copy has the magic",
		editHeader(img, []int{0}, false, func(h []byte) { h[1] = 's' })[:1000], "ErrNotSCDB")
	g.bad("header-newer-copy-no-slots", "§3.2 §4.3", "copy 1 has epoch 2 and all slots empty (checksum fixed): it is used, and the reader does not fall back to copy 0",
		editHeader(img, []int{1}, true, func(h []byte) { h[32] = 2; clear(h[64:480]) }), "ErrWrongKey")
	g.okv("header-epoch-tie", "§3.2", "copy 1 has the same epoch as copy 0 and all slots empty (checksum fixed): on a tie copy 0 is used",
		editHeader(img, []int{1}, true, func(h []byte) { clear(h[64:480]) }), 1, m)
	g.bad("slot-kind-3", "§4.2", "slot 1 of both copies has kind 3 (checksums fixed)",
		editHeader(img, both, true, func(h []byte) { h[64+104] = 3 }), "ErrCorrupt")
	g.bad("slot-empty-not-zero", "§4.2", "slot 1 of both copies has kind 0 and a non-zero salt byte (checksums fixed)",
		editHeader(img, both, true, func(h []byte) { h[64+104+16] = 1 }), "ErrCorrupt")
	g.bad("slot-raw-with-kdf", "§4.2", "slot 0 (raw key) of both copies has Argon2id parallelism 1 (checksums fixed)",
		editHeader(img, both, true, func(h []byte) { h[64+1] = 1 }), "ErrCorrupt")
	g.bad("slot-reserved", "§4.2", "slot 0 of both copies has reserved byte 2 set (checksums fixed)",
		editHeader(img, both, true, func(h []byte) { h[64+2] = 1 }), "ErrCorrupt")
	passSlot := func(p byte, t, mem uint32) func(h []byte) {
		return func(h []byte) {
			s := h[64+104 : 64+208]
			s[0], s[1] = 1, p
			binary.LittleEndian.PutUint32(s[4:], t)
			binary.LittleEndian.PutUint32(s[8:], mem)
			s[20] = 1 // a salt byte, so the slot is not all zero
		}
	}
	g.bad("slot-passphrase-t0", "§4.2", "slot 1 of both copies is a passphrase slot with t = 0 (checksums fixed)",
		editHeader(img, both, true, passSlot(1, 0, 64)), "ErrCorrupt")
	g.bad("slot-passphrase-m-below-8p", "§4.2", "slot 1 of both copies is a passphrase slot with p = 2, m = 15 KiB (below 8p) (checksums fixed)",
		editHeader(img, both, true, passSlot(2, 1, 15)), "ErrCorrupt")
	g.bad("slot-passphrase-t65", "§4.2", "slot 1 of both copies is a passphrase slot with t = 65 (checksums fixed)",
		editHeader(img, both, true, passSlot(1, 65, 64)), "ErrCorrupt")
	g.okv("slot-passphrase-valid-unused", "§4.2 §4.3", "slot 1 of both copies is a well-formed passphrase slot (t = 1, m = 8 KiB, p = 1) that no credential opens; the raw key opens slot 0",
		editHeader(img, both, true, passSlot(1, 1, 8)), 1, m)
	g.bad("slot-salt-changed", "§4.3", "slot 0's salt changed in both copies (checksums fixed): the KEK differs and the wrapped key does not open",
		editHeader(img, both, true, func(h []byte) { h[64+16] ^= 1 }), "ErrWrongKey")
	g.bad("slot-nonce-changed", "§4.3", "slot 0's wrap nonce changed in both copies (checksums fixed): the data key does not unwrap",
		editHeader(img, both, true, func(h []byte) { h[64+32] ^= 1 }), "ErrWrongKey")

	// A second raw-key slot that opens, behind one that does not.
	b := newBuilder("header-second-slot")
	var keyID [crypt.KeyIDSize]byte
	copy(keyID[:], b.img[40:56])
	other, err := crypt.NewSlot(b.key, crypt.Credential{Key: key2}, crypt.KDFParams{}, keyID, newRand("second slot"))
	check(err)
	ls := b.std(nil)
	b.commit(fG, b.dir(fG, edits{}, ls...), nil)
	two := editHeader(b.img, both, true, func(h []byte) {
		copy(h[64+104:], h[64:64+104])
		copy(h[64:], other[:])
	})
	g.okv("slot-second-opens", "§4.3", "slot 0 wraps the data key for another raw key, slot 1 for this one: every slot of the credential's kind is tried in order",
		two, 1, expectOf(ls...))

	for _, n := range []int{512, 1024, 2048, 3*1024 - 1} {
		g.corrupt(fmt.Sprintf("short-%d", n), "§2 §7", fmt.Sprintf("the first %d bytes of built-std: a valid header copy 0 but fewer than 3 pages", n), img[:n])
	}
	g.okv("trailing-partial-page", "§2", "built-std followed by 100 bytes, less than a page: ignored", append(slices.Clone(img), streamBytes("partial", 100)...), 1, m)
}

// twoCommits builds generation 1 (the standard content, meta on page 2)
// and generation 2 (a list "m" added, meta on page 1); edit changes the
// generation-2 meta's payload before it is sealed.
func twoCommits(name string, edit func(p []byte, pages uint64)) (img []byte, m1, m2 model) {
	b := newBuilder(name)
	ls := b.std(nil)
	b.commit(fG, b.dir(fG, edits{}, ls...), nil)
	ls2 := append(slices.Clone(ls), list{"m", []rec{in("x", "y")}})
	root := b.dir(2, edits{}, ls2...)
	pages := b.pages()
	b.commit(2, root, func(p []byte) {
		if edit != nil {
			edit(p, pages)
		}
	})
	return b.img, expectOf(ls...), expectOf(ls2...)
}

func (g *generator) builtMeta() {
	img, _, m2 := twoCommits("meta", nil)
	g.okv("meta-two-commits", "§7", "generation 1 on page 2 and generation 2 (a list \"m\" added) on page 1: generation 2 opens", img, 2, m2)

	// Each breaks one rule of the generation-2 meta: it is invalid and
	// generation 1 opens instead.
	fallback := []struct {
		name, rule, desc string
		edit             func(p []byte, pages uint64)
	}{
		{"meta-zero-root-gen", "§6.2 §7", "directory root reference (0, 2): a zero reference with a non-zero generation", func(p []byte, _ uint64) { putRef(p[24:], pager.Ref{Gen: 2}) }},
		{"meta-zero-freelist-gen", "§6.2 §7", "freelist head reference (0, 1): a zero reference with a non-zero generation", func(p []byte, _ uint64) { putRef(p[40:], pager.Ref{Gen: 1}) }},
		{"meta-root-at-page-count", "§7", "directory root at page number = page count", func(p []byte, n uint64) { binary.LittleEndian.PutUint64(p[24:], n) }},
		{"meta-root-page-2", "§7", "directory root at page 2 (a meta page)", func(p []byte, _ uint64) { binary.LittleEndian.PutUint64(p[24:], 2) }},
		{"meta-root-newer", "§7", "directory root generation 3, above the meta's 2", func(p []byte, _ uint64) { binary.LittleEndian.PutUint64(p[32:], 3) }},
		{"meta-freelist-at-page-count", "§7", "freelist head at page number = page count (generation 2)", func(p []byte, n uint64) { putRef(p[40:], pager.Ref{Page: n, Gen: 2}) }},
		{"meta-freelist-page-2", "§7", "freelist head at page 2 (a meta page), generation 2", func(p []byte, _ uint64) { putRef(p[40:], pager.Ref{Page: 2, Gen: 2}) }},
		{"meta-freelist-newer", "§7", "freelist head generation 3, above the meta's 2", func(p []byte, _ uint64) { putRef(p[40:], pager.Ref{Page: 3, Gen: 3}) }},
		{"meta-gen-on-wrong-page", "§7", "the meta on page 1 says generation 3 (odd generations belong on page 2)", func(p []byte, _ uint64) { binary.LittleEndian.PutUint64(p[8:], 3) }},
		{"meta-page-count-2", "§7", "page count 2, below 3", func(p []byte, _ uint64) { binary.LittleEndian.PutUint64(p[16:], 2) }},
		{"meta-page-count-over-max", "§7", "page count 2^53 + 1, above 2^(63 - 10)", func(p []byte, _ uint64) { binary.LittleEndian.PutUint64(p[16:], fT+1) }},
		{"meta-shift-11", "§7", "page size shift 11, the header says 10", func(p []byte, _ uint64) { p[1] = 11 }},
		{"meta-major-2", "§7", "major version 2 (the previous format)", func(p []byte, _ uint64) { p[2] = 2 }},
		{"meta-reserved-4", "§7", "reserved byte 4 set", func(p []byte, _ uint64) { p[4] = 1 }},
		{"meta-reserved-tail", "§7", "the last reserved byte of the payload set", func(p []byte, _ uint64) { p[fS-1] = 1 }},
		{"meta-type-4", "§7", "page type 4 (leaf) instead of 1", func(p []byte, _ uint64) { p[0] = 4 }},
	}
	for _, f := range fallback {
		img, m1, _ := twoCommits(f.name, f.edit)
		g.okv(f.name, f.rule, "the generation-2 meta is invalid, "+f.desc+": generation 1 opens", img, 1, m1)
	}

	img, _, m2 = twoCommits("meta-freelist-not-read", func(p []byte, _ uint64) { putRef(p[40:], pager.Ref{Page: 3, Gen: 1}) })
	g.okv("meta-freelist-not-read", "§7", "the generation-2 meta's freelist head points at page 3, a value chain page of generation 1, in bounds: valid; a reader does not open freelist pages", img, 2, m2)
	img, _, m2 = twoCommits("meta-generation-gap", func(p []byte, _ uint64) { binary.LittleEndian.PutUint64(p[8:], 4) })
	g.okv("meta-generation-gap", "§7", "the meta on page 1 says generation 4 beside generation 1 on page 2: not a healthy pair, but valid, and 4 is the higher", img, 4, m2)
	img, _, _ = twoCommits("meta-page-count-past-file", func(p []byte, n uint64) { binary.LittleEndian.PutUint64(p[16:], n+1) })
	g.corrupt("meta-page-count-past-file", "§7", "the generation-2 meta says one page more than the file holds: it is chosen, then the file is truncated (no fallback)", img)
	img, _, _ = twoCommits("meta-page-count-max", func(p []byte, n uint64) { binary.LittleEndian.PutUint64(p[16:], fT) })
	g.corrupt("meta-page-count-max", "§7", "the generation-2 meta says page count 2^53, the largest allowed at 1 KiB pages: chosen, then the file is truncated", img)

	img, _, m2 = twoCommits("meta-older-damaged", nil)
	img[2*fP+200] ^= 1
	g.okv("meta-older-damaged", "§7", "the older meta (generation 1, page 2) fails to open: generation 2 opens", img, 2, m2)
	img, _, m2 = twoCommits("meta-older-zero", nil)
	clear(img[2*fP : 3*fP])
	g.okv("meta-older-zero", "§7", "the older meta page is all zeros: generation 2 opens", img, 2, m2)
	img, _, _ = twoCommits("meta-both-invalid", func(p []byte, _ uint64) { binary.LittleEndian.PutUint64(p[16:], 2) })
	img[2*fP+200] ^= 1
	g.corrupt("meta-both-invalid", "§7", "the generation-2 meta says page count 2 and the generation-1 meta page fails to open", img)
	img, _, _ = twoCommits("meta-both-zero", nil)
	clear(img[1*fP : 3*fP])
	g.corrupt("meta-both-zero", "§7", "both meta pages all zeros", img)
}

// deepTree builds a list tree of levels levels: branch d has child 0 a
// leaf with one key and child 1 the branch below it; the last branch has
// two leaves. Leaves are at different depths, which readers accept.
func (g *generator) deepTree(levels int, expect string) {
	name := fmt.Sprintf("tree-depth-%d", levels)
	b := newBuilder(name)
	key := func(d int) string { return fmt.Sprintf("%03d", d) }
	recs := []rec{}
	// The leaf at the deepest level, then branches bottom-up.
	d := levels - 1
	below := b.put(fG, leafPayload([]kv{{[]byte(key(d)), inlineCell([]byte("v" + key(d)))}}))
	recs = append(recs, in(key(d), "v"+key(d)))
	for d = levels - 2; d >= 0; d-- {
		leaf := b.put(fG, leafPayload([]kv{{[]byte(key(d)), inlineCell([]byte("v" + key(d)))}}))
		recs = append(recs, in(key(d), "v"+key(d)))
		below = b.put(fG, branchPayload([]pager.Ref{leaf, below}, [][]byte{[]byte(key(d + 1))}))
	}
	slices.Reverse(recs)
	entry := entryBytes(uint64(len(recs)), uint64(4*len(recs)), 0, below)
	root := b.put(fG, leafPayload([]kv{{[]byte("deep"), entry}}))
	b.commit(fG, root, nil)
	desc := fmt.Sprintf("list \"deep\": a tree of %d levels (root at depth 0, a leaf at depth %d), one key per leaf", levels, levels-1)
	if expect == "ok" {
		g.okv(name, "§10.3.4", desc, b.img, 1, expectOf(list{"deep", recs}))
	} else {
		g.corrupt(name, "§10.3.4", desc+": deeper than a reader follows", b.img)
	}
}

func (g *generator) builtDepth() {
	g.deepTree(64, "ok")
	g.deepTree(65, "ok")
	g.deepTree(66, "ErrCorrupt")
}

// leafEdit returns edits that change list "l"'s leaf.
func leafEdit(f func(p []byte)) edits { return edits{leaf: func(_ int, p []byte) { f(p) }} }

// twoLeaves builds list "l" as a root branch with separator sep over two
// leaves holding left and right; edit may change the branch.
func twoLeaves(name string, left, right []rec, sep string, edit func(b *builder, br []byte, kids []pager.Ref)) ([]byte, model) {
	b := newBuilder(name)
	l0 := b.put(fG, leafPayload(list{"", left}.cells()))
	l1 := b.put(fG, leafPayload(list{"", right}.cells()))
	kids := []pager.Ref{l0, l1}
	br := branchPayload(kids, [][]byte{[]byte(sep)})
	if edit != nil {
		edit(b, br, kids)
	}
	l := list{"l", append(slices.Clone(left), right...)}
	root := b.put(fG, br)
	b.commit(fG, b.put(fG, leafPayload([]kv{{[]byte("l"), entryBytes(uint64(len(l.recs)), l.total(), 0, root)}})), nil)
	return b.img, expectOf(l)
}

func (g *generator) builtNodes() {
	// Leaf pages.
	img, _ := stdFile("leaf-keys-out-of-order", leafEdit(func(p []byte) {
		a, b := slotOf(p, 1), slotOf(p, 2)
		binary.LittleEndian.PutUint16(p[4+2:], uint16(b))
		binary.LittleEndian.PutUint16(p[4+4:], uint16(a))
	}), nil)
	g.corrupt("leaf-keys-out-of-order", "§10.3.2.2 §10.3.4", "list \"l\"'s leaf has slots 1 and 2 swapped (keys \"b\" before \"a\")", img)
	img, _ = stdFile("leaf-duplicate-key", leafEdit(func(p []byte) { binary.LittleEndian.PutUint16(p[4+4:], uint16(slotOf(p, 1))) }), nil)
	g.corrupt("leaf-duplicate-key", "§10.3.2.2 §10.3.4", "list \"l\"'s leaf has slot 2 pointing at cell 1: key \"a\" twice", img)
	img, m := stdFile("leaf-cells-any-order", leafEdit(func(p []byte) {
		// Repack the cells in reverse physical order; slots keep key order.
		var cells [][]byte
		n := int(binary.LittleEndian.Uint16(p[2:]))
		for i := 0; i < n; i++ {
			off := slotOf(p, i)
			k, v := int(binary.LittleEndian.Uint16(p[off:])), int(binary.LittleEndian.Uint16(p[off+2:]))
			cells = append(cells, slices.Clone(p[off:off+4+k+v]))
		}
		clear(p[4+2*n:])
		end := fS
		for i, c := range cells {
			end -= len(c)
			copy(p[end:], c)
			binary.LittleEndian.PutUint16(p[4+2*i:], uint16(end))
		}
	}), nil)
	g.okv("leaf-cells-any-order", "§10.3.2.2", "list \"l\"'s leaf stores its cells in reverse physical order: only slot order counts", img, 1, m)
	img, m = stdFile("leaf-free-space-not-zero", leafEdit(func(p []byte) { p[100], p[500] = 0xff, 0x55 }), nil)
	g.okv("leaf-free-space-not-zero", "§10.3.2.2", "list \"l\"'s leaf has non-zero bytes in its free space: ignored", img, 1, m)
	img, _ = stdFile("leaf-zero-cells", leafEdit(func(p []byte) { p[2] = 0 }), nil)
	g.corrupt("leaf-zero-cells", "§10.3.2.1", "list \"l\"'s leaf says 0 cells", img)
	img, _ = stdFile("leaf-count-overflow", leafEdit(func(p []byte) { binary.LittleEndian.PutUint16(p[2:], (fS-4)/2+1) }), nil)
	g.corrupt("leaf-count-overflow", "§10.3.2.1", "list \"l\"'s leaf says 491 cells: the slot array would pass the payload end", img)
	img, _ = stdFile("leaf-reserved", leafEdit(func(p []byte) { p[1] = 1 }), nil)
	g.corrupt("leaf-reserved", "§10.3.2.1", "list \"l\"'s leaf has reserved byte 1 set", img)
	img, _ = stdFile("leaf-type-2", leafEdit(func(p []byte) { p[0] = 2 }), nil)
	g.corrupt("leaf-type-2", "§10.3.2.1 §6.2", "list \"l\"'s root page has type 2 (freelist)", img)
	img, _ = stdFile("leaf-slot-in-slot-array", leafEdit(func(p []byte) { binary.LittleEndian.PutUint16(p[4:], 10) }), nil)
	g.corrupt("leaf-slot-in-slot-array", "§10.3.2.2", "list \"l\"'s leaf has slot 0 = 10, inside the header and slot array (which end at 12)", img)
	img, _ = stdFile("leaf-slot-past-end", leafEdit(func(p []byte) { binary.LittleEndian.PutUint16(p[4:], fS-3) }), nil)
	g.corrupt("leaf-slot-past-end", "§10.3.2.2", "list \"l\"'s leaf has slot 0 = S - 3: the cell's 4-byte fixed part passes the payload end", img)
	img, _ = stdFile("leaf-cell-past-end", leafEdit(func(p []byte) {
		off := slotOf(p, 3) // the physically last cell, "c"
		binary.LittleEndian.PutUint16(p[off+2:], binary.LittleEndian.Uint16(p[off+2:])+1)
	}), nil)
	g.corrupt("leaf-cell-past-end", "§10.3.2.2", "list \"l\"'s last cell says one value byte more than the payload holds", img)

	// Key and value limits at 1 KiB pages: MaxKey 301, MaxValue(S, k) = 484 - k.
	limit := func(name, desc, expect string, id []byte, cellLen int) {
		b := newBuilder(name)
		ls := b.std(nil)
		val := pattern(cellLen - 1)
		ls[0].recs = append(ls[0].recs, rec{string(id), val, inlineCell(val)})
		b.commit(fG, b.dir(fG, edits{}, ls...), nil)
		if expect == "ok" {
			g.okv(name, "§10.3.2.3 §10.3.3", desc, b.img, 1, expectOf(ls...))
		} else {
			g.corrupt(name, "§10.3.2.3 §10.3.3", desc, b.img)
		}
	}
	limit("key-at-limit", "list \"l\" holds a 301-byte id (MaxKey) with a 182-byte value (cell 183 = MaxValue(984, 301))", "ok", keyed("z", fM), fV-fM)
	limit("key-over-limit", "list \"l\" holds a 302-byte id, one over MaxKey, with a 10-byte value", "ErrCorrupt", keyed("z", fM+1), 11)
	limit("value-at-limit", "list \"l\" holds id \"z\" with a 482-byte inline value (cell 483 = MaxValue(984, 1))", "ok", []byte("z"), fV-1)
	limit("value-over-limit", "list \"l\" holds id \"z\" with a 483-byte inline value (cell 484, one over MaxValue(984, 1))", "ErrCorrupt", []byte("z"), fV)
	b := newBuilder("name-over-limit")
	ls := b.std(nil)
	ls[0].name = string(keyed("l", fM+1))
	b.commit(fG, b.dir(fG, edits{}, ls...), nil)
	g.corrupt("name-over-limit", "§10.3.2.3 §10.3.3", "the directory holds a 302-byte list name, one over MaxKey", b.img)
	b = newBuilder("name-empty")
	ls = b.std(nil)
	ls[0].name = ""
	b.commit(fG, b.dir(fG, edits{}, ls...), nil)
	g.okv("name-empty", "§10.1", "the standard list under the empty name", b.img, 1, expectOf(ls...))

	// Branch pages.
	left, right := []rec{in("a", "1"), in("b", "2")}, []rec{in("n", "3"), in("o", "4")}
	img, m = twoLeaves("branch-ok", left, right, "m", nil)
	g.okv("branch-ok", "§10.3.2.4", "list \"l\" is a root branch (separator \"m\") over two leaves", img, 1, m)
	img, _ = twoLeaves("separator-bounds-broken", left, []rec{in("c", "3"), in("d", "4")}, "m", nil)
	g.corrupt("separator-bounds-broken", "§10.3.4", "separator \"m\" but the right leaf holds \"c\" and \"d\": the scan yields increasing keys, but below the bound \"m\" its path gives (a lookup of \"c\" would miss it)", img)
	img, _ = twoLeaves("keys-out-of-order-across-leaves", []rec{in("a", "1"), in("x", "2")}, right, "m", nil)
	g.corrupt("keys-out-of-order-across-leaves", "§10.3.4", "the left leaf holds \"a\" and \"x\", the right \"n\" and \"o\": the scan yields \"n\" after \"x\"", img)
	br := func(name, rule, desc string, edit func(b *builder, p []byte, kids []pager.Ref)) {
		img, _ := twoLeaves(name, left, right, "m", edit)
		g.corrupt(name, rule, desc, img)
	}
	cell0 := func(p []byte) int { return slotOf(p, 0) }
	br("branch-child-page-0", "§10.3.2.4", "the branch's child 1 is (0, 0)", func(_ *builder, p []byte, _ []pager.Ref) { putRef(p[cell0(p):], pager.Ref{}) })
	br("branch-child-page-1", "§10.3.2.4 §6.2", "the branch's child 0 is page 1 (a meta page)", func(_ *builder, p []byte, _ []pager.Ref) { putRef(p[4:], pager.Ref{Page: 1, Gen: 0}) })
	br("branch-child-newer", "§10.3.2.4", "the branch (generation 1) has child 1 at generation 2, a page really sealed at generation 2", func(b *builder, p []byte, kids []pager.Ref) {
		b.seal(kids[1].Page, 2, b.open(kids[1].Page, fG))
		putRef(p[cell0(p):], pager.Ref{Page: kids[1].Page, Gen: 2})
	})
	br("branch-child-wrong-gen", "§6.2", "the branch's child 1 says generation 0; the page was sealed at 1", func(_ *builder, p []byte, kids []pager.Ref) {
		putRef(p[cell0(p):], pager.Ref{Page: kids[1].Page, Gen: 0})
	})
	br("branch-separator-over-limit", "§10.3.2.4 §10.3.3", "the branch's separator is 302 bytes, one over MaxKey", func(_ *builder, p []byte, kids []pager.Ref) {
		copy(p, branchPayload(kids, [][]byte{keyed("m", fM+1)}))
	})
	br("branch-separator-past-end", "§10.3.2.2", "the branch's separator length runs past the payload end", func(_ *builder, p []byte, _ []pager.Ref) {
		binary.LittleEndian.PutUint16(p[cell0(p)+16:], 2)
	})
	br("branch-child-self", "§10.3.4", "the branch's child 1 is the branch itself: a cycle, stopped by the depth limit or the key order", func(b *builder, p []byte, _ []pager.Ref) {
		putRef(p[cell0(p):], pager.Ref{Page: b.pages(), Gen: fG}) // the branch is the next page put
	})
	br("branch-shared-leaf", "§10.3.4", "both children of the branch are the left leaf: the scan yields \"a\" again after \"b\"", func(_ *builder, p []byte, kids []pager.Ref) {
		putRef(p[cell0(p):], kids[0])
	})
	br("branch-child-chain-page", "§10.3.2.4 §6.2", "the branch's child 1 is a value chain page (type 5) of generation 1", func(b *builder, p []byte, kids []pager.Ref) {
		b.seal(kids[1].Page, fG, chainPage(1, 10, 1, kids[1].Page, 0, []byte("0123456789")))
	})
	br("branch-reserved", "§10.3.2.1", "the branch has reserved byte 1 set", func(_ *builder, p []byte, _ []pager.Ref) { p[1] = 1 })
	br("branch-zero-cells", "§10.3.2.1", "the branch says 0 cells", func(_ *builder, p []byte, _ []pager.Ref) { p[2] = 0 })
	br("branch-child-past-count", "§6.2", "the branch's child 1 is page 1000, past the page count", func(_ *builder, p []byte, _ []pager.Ref) {
		putRef(p[cell0(p):], pager.Ref{Page: 1000, Gen: fG})
	})
}

func (g *generator) builtEntries() {
	entry := func(name, desc, expect string, f func(e []byte) []byte) {
		img, m := stdFile(name, edits{entry: func(_ int, e []byte) []byte { return f(e) }}, nil)
		if expect == "ok" {
			g.okv(name, "§10.2", desc, img, 1, m)
		} else {
			g.corrupt(name, "§10.2", desc, img)
		}
	}
	u64 := func(off int, v uint64) func(e []byte) []byte {
		return func(e []byte) []byte { binary.LittleEndian.PutUint64(e[off:], v); return e }
	}
	entry("entry-39-bytes", "list \"l\"'s directory value is 39 bytes", "ErrCorrupt", func(e []byte) []byte { return e[:39] })
	entry("entry-41-bytes", "list \"l\"'s directory value is 41 bytes", "ErrCorrupt", func(e []byte) []byte { return append(e, 0) })
	entry("entry-count-0-root-set", "list \"l\"'s entry says 0 records with a non-zero root", "ErrCorrupt", u64(0, 0))
	entry("entry-count-1-root-zero", "list \"l\"'s entry says 1 record with a zero root", "ErrCorrupt", func(e []byte) []byte {
		binary.LittleEndian.PutUint64(e, 1)
		clear(e[24:])
		return e
	})
	entry("entry-count-wrong", "list \"l\"'s entry says 7 records and 9 bytes; its tree holds 4 records: readers use the stored numbers and read the tree", "ok", func(e []byte) []byte {
		binary.LittleEndian.PutUint64(e, 7)
		binary.LittleEndian.PutUint64(e[8:], 9)
		return e
	})
	entry("entry-root-zero-page-gen-1", "list \"l\"'s entry has 4 records and root (0, 1)", "ErrCorrupt", func(e []byte) []byte { clear(e[24:32]); return e })
	entry("entry-root-past-count", "list \"l\"'s root is page 1000, past the page count", "ErrCorrupt", u64(24, 1000))
	entry("entry-root-wrong-gen", "list \"l\"'s root says generation 0; the page was sealed at 1", "ErrCorrupt", u64(32, 0))

	// A second entry beside "l" that has no records.
	kept := func(name, desc, expect string, count, total, seq uint64, root pager.Ref) {
		b := newBuilder(name)
		ls := b.std(nil)
		root1 := b.dir(fG, edits{dir: func(p []byte) {
			e := []kv{{[]byte("l"), nil}, {[]byte("q"), entryBytes(count, total, seq, root)}}
			// Keep "l"'s entry as written: re-encode with it.
			off := slotOf(p, 0)
			e[0].v = slices.Clone(p[off+4+1 : off+4+1+40])
			copy(p, leafPayload(e))
		}}, ls...)
		b.commit(fG, root1, nil)
		if expect == "ok" {
			g.okv(name, "§10.2", desc, b.img, 1, expectOf(ls...))
		} else {
			g.corrupt(name, "§10.2", desc, b.img)
		}
	}
	kept("entry-kept-sequence", "beside list \"l\", an entry \"q\" with 0 records, 0 bytes, next Append number 5 and a zero root: kept for its sequence, not a list", "ok", 0, 0, 5, pager.Ref{})
	kept("entry-kept-bytes", "entry \"q\" with 0 records but a byte total of 1", "ErrCorrupt", 0, 1, 5, pager.Ref{})
	kept("entry-kept-seq-0", "entry \"q\" with 0 records, 0 bytes, Append number 0 and a zero root: neither form", "ErrCorrupt", 0, 0, 0, pager.Ref{})
	kept("entry-kept-root-gen", "entry \"q\" with 0 records, Append number 5 and root (0, 1): a zero reference with a non-zero generation", "ErrCorrupt", 0, 0, 5, pager.Ref{Gen: 1})

	// A list root written at a later generation than the directory leaf
	// holding it: only tree children are checked for that.
	b := newBuilder("entry-root-newer")
	ls := b.std(nil)
	lroot := b.put(5, leafPayload(ls[0].cells()))
	b.commit(fG, b.put(fG, leafPayload([]kv{{[]byte("l"), entryBytes(4, ls[0].total(), 0, lroot)}})), nil)
	g.okv("entry-root-newer", "§6.2 §10.2", "list \"l\"'s root page was sealed at generation 5 and its entry says 5; the meta is generation 1: a list root's generation is not compared", b.img, 1, expectOf(ls...))

	img, _ := stdFile("dir-names-out-of-order", edits{dir: func(p []byte) {
		copy(p, leafPayload([]kv{{[]byte("z"), entryBytes(1, 1, 0, pager.Ref{Page: 3, Gen: 1})}, {[]byte("l"), slices.Clone(p[slotOf(p, 0)+5 : slotOf(p, 0)+45])}}))
	}}, nil)
	g.corrupt("dir-names-out-of-order", "§10.3.4", "the directory leaf holds \"z\" before \"l\"", img)
}

func (g *generator) builtCells() {
	cell := func(name, desc, expect string, c []byte, val []byte) {
		b := newBuilder(name)
		ls := b.std(nil)
		ls[0].recs = append(ls[0].recs, rec{"z", val, c})
		b.commit(fG, b.dir(fG, edits{}, ls...), nil)
		if expect == "ok" {
			g.okv(name, "§10.4.1", desc, b.img, 1, expectOf(ls...))
		} else {
			g.corrupt(name, "§10.4.1", desc, b.img)
		}
	}
	cell("cell-empty", "record \"z\" has an empty cell (value length 0 in the leaf)", "ErrCorrupt", []byte{}, nil)
	cell("cell-tag-2", "record \"z\" has a cell with tag 0x02", "ErrCorrupt", []byte{2, 'x'}, nil)
	cell("cell-inline-empty", "record \"z\" has the 1-byte inline cell 00: the empty value", "ok", []byte{0}, []byte{})
	cell("chain-cell-24-bytes", "record \"z\" has a chain cell of 24 bytes", "ErrCorrupt", chainCellBytes(5, 3, 1)[:24], nil)
	cell("chain-cell-26-bytes", "record \"z\" has a chain cell of 26 bytes", "ErrCorrupt", append(chainCellBytes(5, 3, 1), 0), nil)
	cell("chain-cell-size-0", "record \"z\" has a chain cell of size 0", "ErrCorrupt", chainCellBytes(0, 3, 1), nil)
	cell("chain-cell-size-over", "record \"z\" has a chain cell of size 2^40 + 1", "ErrCorrupt", chainCellBytes(fN+1, 3, 1), nil)
	cell("chain-cell-first-2", "record \"z\" has a chain cell whose first page is 2", "ErrCorrupt", chainCellBytes(5, 2, 1), nil)

	b := newBuilder("chain-small-value")
	ls := b.std(nil)
	ls[0].recs = append(ls[0].recs, b.chained(fG, "z", chainPlan{value: []byte("tiny"), runs: []int{1}}))
	b.commit(fG, b.dir(fG, edits{}, ls...), nil)
	g.okv("chain-small-value", "§10.4.1", "record \"z\" holds a 4-byte value in a 1-page chain, though it would fit inline", b.img, 1, expectOf(ls...))

	b = newBuilder("chain-cell-wrong-gen")
	ls = b.std(nil)
	binary.LittleEndian.PutUint64(ls[0].recs[3].cell[17:], 2)
	b.commit(fG, b.dir(fG, edits{}, ls...), nil)
	g.corrupt("chain-cell-wrong-gen", "§10.4.1.2 §6.2", "record \"c\"'s chain cell says generation 2; its pages were sealed at 1", b.img)
	for _, d := range []struct {
		name string
		size uint64
	}{{"chain-cell-size-short", 1920}, {"chain-cell-size-long", 2001}} {
		b = newBuilder(d.name)
		ls = b.std(nil)
		binary.LittleEndian.PutUint64(ls[0].recs[3].cell[1:], d.size)
		b.commit(fG, b.dir(fG, edits{}, ls...), nil)
		g.corrupt(d.name, "§10.4.2.2", fmt.Sprintf("record \"c\"'s chain cell says %d bytes; its chain holds 2000", d.size), b.img)
	}
}

func (g *generator) builtChains() {
	chain := func(name, desc string, edit func(i int, pg uint64, p []byte)) {
		img, _ := stdFile(name, edits{}, func(c *chainPlan) { c.edit = edit })
		g.corrupt(name, "§10.4.2", desc, img)
	}
	at := func(want int, f func(p []byte)) func(int, uint64, []byte) {
		return func(i int, _ uint64, p []byte) {
			if i == want {
				f(p)
			}
		}
	}
	u16 := func(off int, v uint16) func(p []byte) {
		return func(p []byte) { binary.LittleEndian.PutUint16(p[off:], v) }
	}
	u32 := func(off int, v uint32) func(p []byte) {
		return func(p []byte) { binary.LittleEndian.PutUint32(p[off:], v) }
	}
	u64 := func(off int, v uint64) func(p []byte) {
		return func(p []byte) { binary.LittleEndian.PutUint64(p[off:], v) }
	}
	chain("chain-head-role-2", "record \"c\"'s head page has role 2", at(0, func(p []byte) { p[1] = 2 }))
	chain("chain-cont-role-1", "record \"c\"'s second page has role 1", at(1, func(p []byte) { p[1] = 1 }))
	chain("chain-role-3", "record \"c\"'s second page has role 3", at(1, func(p []byte) { p[1] = 3 }))
	chain("chain-type-4", "record \"c\"'s second page has page type 4", at(1, func(p []byte) { p[0] = 4 }))
	chain("chain-head-used-short", "record \"c\"'s head page says 959 bytes used, not D = 960", at(0, u16(2, fD-1)))
	chain("chain-last-used-short", "record \"c\"'s last page says 79 bytes used, not 80", at(2, u16(2, 79)))
	chain("chain-last-used-long", "record \"c\"'s last page says 81 bytes used, not 80", at(2, u16(2, 81)))
	chain("chain-padding-not-zero", "record \"c\"'s last page has a non-zero byte after its 80 used bytes", at(2, func(p []byte) { p[24+80] = 1 }))
	chain("chain-padding-last-byte", "record \"c\"'s last page has a non-zero last payload byte", at(2, func(p []byte) { p[fS-1] = 1 }))
	chain("chain-owner-wrong", "record \"c\"'s second page names another page as owner", at(1, func(p []byte) { binary.LittleEndian.PutUint64(p[8:], binary.LittleEndian.Uint64(p[8:])+1) }))
	chain("chain-head-owner-wrong", "record \"c\"'s head page names page 3 as owner", at(0, func(p []byte) { binary.LittleEndian.PutUint64(p[8:], binary.LittleEndian.Uint64(p[8:])+1) }))
	chain("chain-index-wrong", "record \"c\"'s second page says index 2", at(1, u32(4, 2)))
	chain("chain-cont-next-set", "record \"c\"'s second page has its reserved next field set", at(1, u64(16, 3)))
	chain("chain-run-0", "record \"c\"'s head says run length 0", at(0, u32(4, 0)))
	chain("chain-run-longer", "record \"c\"'s head says run length 4 with next 0; 3 pages remain", at(0, u32(4, 4)))
	chain("chain-run-shorter-last", "record \"c\"'s head says run length 2 with next 0; 3 pages remain", at(0, u32(4, 2)))
	chain("chain-run-1025", "record \"c\"'s head says run length 1025, above 1024", at(0, u32(4, 1025)))
	chain("chain-next-whole", "record \"c\"'s head has run length 3 (all remaining pages) and next 3: a run that is not the last must be shorter than what remains", at(0, u64(16, 3)))

	long := pattern(40*fD - 100) // 40 pages
	multi := func(name, desc, expect string, runs []int, heads []uint64, edit func(i int, pg uint64, p []byte)) {
		img, m := stdFile(name, edits{}, func(c *chainPlan) { *c = chainPlan{value: long, runs: runs, heads: heads, edit: edit} })
		if expect == "ok" {
			g.okv(name, "§10.4.2", desc, img, 1, m)
		} else {
			g.corrupt(name, "§10.4.2", desc, img)
		}
	}
	multi("chain-two-runs", "record \"c\" holds 38300 bytes in 40 pages: a run of 16 at pages 30-45, then a run of 24 at pages 3-26", "ok", []int{16, 24}, []uint64{30, 3}, nil)
	multi("chain-short-first-run", "record \"c\" holds 40 pages in runs of 15 and 25: a run that is not the last has fewer than 16 pages", "ErrCorrupt", []int{15, 25}, nil, nil)
	multi("chain-loop", "record \"c\"'s first run (16 of 40 pages) names its own head as next", "ErrCorrupt", []int{16, 24}, nil,
		func(i int, pg uint64, p []byte) {
			if i == 0 {
				binary.LittleEndian.PutUint64(p[16:], pg)
			}
		})
	multi("chain-next-2", "record \"c\"'s first run names page 2 as next", "ErrCorrupt", []int{16, 24}, nil, at(0, u64(16, 2)))
	multi("chain-next-past-count", "record \"c\"'s first run names page 1000, past the page count, as next", "ErrCorrupt", []int{16, 24}, nil, at(0, u64(16, 1000)))
	multi("chain-next-into-run", "record \"c\"'s first run names its own second page (a continuation page) as next", "ErrCorrupt", []int{16, 24}, nil,
		func(i int, pg uint64, p []byte) {
			if i == 0 {
				binary.LittleEndian.PutUint64(p[16:], pg+1)
			}
		})

	// A run that passes the page count: the chain is laid down last and
	// the meta counts one page fewer.
	b := newBuilder("chain-run-past-count")
	leaf, dir := b.alloc(1), b.alloc(1)
	ls := b.std(nil)
	b.seal(leaf, fG, leafPayload(ls[0].cells()))
	b.seal(dir, fG, leafPayload([]kv{{[]byte("l"), entryBytes(4, ls[0].total(), 0, pager.Ref{Page: leaf, Gen: fG})}}))
	b.commit(fG, pager.Ref{Page: dir, Gen: fG}, func(p []byte) { binary.LittleEndian.PutUint64(p[16:], b.pages()-1) })
	g.corrupt("chain-run-past-count", "§6.2 §10.4.2", "record \"c\"'s 3-page run ends on the last page of the file, which the meta's page count leaves out", b.img)
}

func (g *generator) builtBounds() {
	// The list root is an authentic page sealed at generation 1 past the
	// page count (as an interrupted transaction leaves them).
	b := newBuilder("pointer-past-count-authentic")
	ls := b.std(nil)
	root := b.dir(fG, edits{}, ls...)
	count := b.pages()
	extra := b.put(fG, leafPayload(ls[0].cells()))
	b.seal(root.Page, fG, leafPayload([]kv{{[]byte("l"), entryBytes(4, ls[0].total(), 0, extra)}}))
	b.commit(fG, root, func(p []byte) { binary.LittleEndian.PutUint64(p[16:], count) })
	g.corrupt("pointer-past-count-authentic", "§6.2", "list \"l\"'s root is an authentic leaf of generation 1 at page = page count, in the file but outside the state", b.img)
}

// builtSuccessor compacts built-std's content into a successor with the Go
// writer: its first generation is the predecessor's + 1, its content
// commits at + 2.
func (g *generator) builtSuccessor() {
	testhook.Rand = newRand("successor")
	path, path2 := tempPath("pred"), tempPath("succ")
	defer os.Remove(path)
	defer os.Remove(path2)
	db, err := scdb.Create(path, scdb.Options{Key: key1, PageSize: fP})
	check(err)
	check(db.Put("l", "a", []byte("alpha")))
	check(db.Put("l", "b", []byte("bravo")))
	check(db.CompactTo(path2))
	check(db.Close())
	img, err := os.ReadFile(path2)
	check(err)
	g.okv("successor", "§9.4", "a file at generation 2 compacted into a successor: the successor's empty state is generation 3 and its content commits as 4", img, 4,
		model{"l": {"a": []byte("alpha"), "b": []byte("bravo")}})
}
