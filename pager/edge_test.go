package pager_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/pager"
)

// setSlotCost rewrites every slot of header copy c as a passphrase slot
// asking Argon2id for t passes over m KiB: what anyone who can write the
// file can do without the key (the checksum is recomputed).
func setSlotCost(b []byte, c int, t, m uint32) {
	editHeader(b, c, func(h []byte) {
		for i := 0; i < pager.NumSlots; i++ {
			s := h[64+i*crypt.SlotSize : 64+(i+1)*crypt.SlotSize]
			s[0], s[1] = crypt.SlotPassphrase, 4
			binary.LittleEndian.PutUint32(s[4:], t)
			binary.LittleEndian.PutUint32(s[8:], m)
			for j := 16; j < len(s); j++ {
				s[j] = byte(i + j) // salt, nonce and wrapped key: any bytes
			}
		}
	})
}

// TestKDFCostBomb: a header edited without the key to ask the format's
// maximum Argon2id cost (t=64, m=4 GiB) in all four slots is refused before
// any of that work is paid, with an error that names the limit. (Paying it
// would take tens of minutes and 4 GiB per slot: this test would not end.)
func TestKDFCostBomb(t *testing.T) {
	b := twoGenFile(t, pass("pw")).Bytes()
	setSlotCost(b, 0, 64, 4<<20)
	setSlotCost(b, 1, 64, 4<<20)
	_, err := pager.Open(faultfile.New(b), pass("pw"), opts())
	if !errors.Is(err, errs.ErrKDFLimit) || !strings.Contains(err.Error(), "MaxKDFMemoryKiB") {
		t.Fatalf("Open: %v, want ErrKDFLimit naming the limit", err)
	}
	// An application that raised the limit is asked to pay: here the slots
	// are junk, so once paid they fail as a wrong passphrase would.
	setSlotCost(b, 0, 1, 64)
	setSlotCost(b, 1, 1, 64)
	o := opts()
	o.KDFLimit = crypt.KDFLimit{MemoryKiB: 64, Work: 64}
	if _, err := pager.Open(faultfile.New(b), pass("pw"), o); !errors.Is(err, errs.ErrWrongKey) {
		t.Fatalf("Open within the limit: %v, want ErrWrongKey", err)
	}
	// Create refuses a slot that the same options could not open.
	o = opts()
	o.KDF = crypt.KDFParams{Time: 3, MemoryKiB: 1 << 20, Threads: 4}
	if _, err := pager.Create(faultfile.New(nil), pass("pw"), o); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("Create over the limit: %v, want ErrInvalid", err)
	}
}

// TestKDFOneBufferAtATime: trying four passphrase slots in turn never holds
// two Argon2id buffers at once, so a hostile header cannot double the peak.
//
// The heap's growth is measured in a fresh process: in this one, garbage
// and goroutines left by earlier tests can take part of a freed buffer and
// make the next one grow the heap. Overlapping buffers grow it in every
// process, so the test fails only if three processes in a row saw growth.
func TestKDFOneBufferAtATime(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 4 × 32 MiB")
	}
	if os.Getenv(kdfChildEnv) != "" {
		kdfOneBufferChild(t)
		return
	}
	var out []byte
	for range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKDFOneBufferAtATime$", "-test.count=1")
		cmd.Env = append(os.Environ(), kdfChildEnv+"=1")
		var err error
		if out, err = cmd.CombinedOutput(); err == nil {
			return
		}
	}
	t.Fatalf("three fresh processes failed:\n%s", out)
}

const kdfChildEnv = "SCDB_TEST_KDF_CHILD"

func kdfOneBufferChild(t *testing.T) {
	const m = 32 << 10 // KiB
	b := twoGenFile(t, pass("pw")).Bytes()
	setSlotCost(b, 0, 1, m)
	setSlotCost(b, 1, 1, m)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := pager.Open(faultfile.New(b), pass("pw"), opts()); !errors.Is(err, errs.ErrWrongKey) {
		t.Fatalf("Open: %v, want ErrWrongKey", err)
	}
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapSys) - int64(before.HeapSys); grew > 3*m<<10/2 {
		t.Fatalf("heap grew %d MiB over four %d MiB Argon2id runs: buffers overlapped", grew>>20, m>>10)
	}
}

// TestRequireNewestMeta: damage to the newest meta page makes Open fall back
// to the previous commit, silently by default; MetaFault says so, and with
// RequireNewestMeta Open refuses. A never-written meta page (a new file's
// second) is no fault.
func TestRequireNewestMeta(t *testing.T) {
	strict := opts()
	strict.RequireNewestMeta = true

	f := twoGenFile(t, keyA)
	f.FlipBit(metaOffset(2)+100, 3)
	p := open(t, f, keyA)
	if p.Meta().Gen != 1 || p.MetaFault() == nil {
		t.Fatalf("default: generation %d fault %v, want 1 and a fault", p.Meta().Gen, p.MetaFault())
	}
	if _, err := pager.Open(f, keyA, strict); !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("strict: %v, want ErrCorrupt", err)
	}

	nf, _ := create(t, keyA)
	if _, err := pager.Open(image(nf), keyA, strict); err != nil {
		t.Fatalf("strict, new file: %v", err)
	}
	if _, err := pager.Open(twoGenFile(t, keyA), keyA, strict); err != nil {
		t.Fatalf("strict, healthy file: %v", err)
	}
}

// TestMetaGenerationGap: the two meta pages of a healthy file hold
// consecutive generations. An older copy of the older meta page put back
// (generations 4 and 1) opens the newest state but is reported.
func TestMetaGenerationGap(t *testing.T) {
	f, p := create(t, keyA)
	var page2 []byte
	for gen := uint64(1); gen <= 4; gen++ {
		commit(t, p, pager.Meta{Gen: gen, PageCount: pager.FirstDataPage})
		if gen == 1 {
			page2 = bytes.Clone(image(f).Bytes()[metaOffset(1) : metaOffset(1)+testPageSize])
		}
	}
	b := image(f).Bytes()
	copy(b[metaOffset(1):], page2)
	q := open(t, faultfile.New(b), keyA)
	if q.Meta().Gen != 4 || q.MetaFault() == nil {
		t.Fatalf("generation %d fault %v, want 4 and a fault", q.Meta().Gen, q.MetaFault())
	}
	strict := opts()
	strict.RequireNewestMeta = true
	if _, err := pager.Open(faultfile.New(b), keyA, strict); !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("strict: %v, want ErrCorrupt", err)
	}
}

// TestPageCountOverflow: a meta whose page count times the page size wraps
// a 64-bit integer back to the file's real size must not pass the length
// check (the meta is authentic here: sealed with the right key).
func TestPageCountOverflow(t *testing.T) {
	m := pager.Meta{Gen: 1, PageCount: pager.FirstDataPage + 1<<54} // × 1 KiB = 2^64 + 3 KiB
	_, p := create(t, keyA)
	if err := p.Commit(m); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("Commit of a page count past any file: %v, want ErrInvalid", err)
	}
	if got := pager.MaxPageCount(10); got != 1<<53 {
		t.Fatalf("MaxPageCount(10) = %d", got)
	}
}

// TestSuccessorFreshFileID: a successor shares the key id and slots (the
// same credential opens it) but not the file id, so no page of one opens
// in the other.
func TestSuccessorFreshFileID(t *testing.T) {
	f := twoGenFile(t, keyA)
	src := open(t, f, keyA)
	sf := faultfile.New(nil)
	succ, err := pager.CreateSuccessor(src, sf, opts())
	if err != nil {
		t.Fatal(err)
	}
	if succ.FileID() == src.FileID() {
		t.Fatal("successor has its predecessor's file id")
	}
	if succ.Meta().Gen != src.Meta().Gen+1 {
		t.Fatalf("successor at generation %d, want %d", succ.Meta().Gen, src.Meta().Gen+1)
	}
	commit(t, succ, pager.Meta{Gen: succ.Meta().Gen + 1, PageCount: 5,
		Tree: pager.Ref{Page: 4, Gen: succ.Meta().Gen + 1}})
	q := open(t, image(sf), keyA)
	// Page 4 of the predecessor put into the successor does not open.
	b := image(sf).Bytes()
	copy(b[4*testPageSize:], f.Bytes()[4*testPageSize:5*testPageSize])
	r := open(t, faultfile.New(b), keyA)
	if _, err := r.Page(pager.Ref{Page: 4, Gen: q.Meta().Gen}); !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("predecessor's page in the successor: %v, want ErrCorrupt", err)
	}
}
