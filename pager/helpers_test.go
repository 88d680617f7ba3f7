package pager_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/pager"
)

const (
	testPageSize = 1024
	headerSize   = pager.HeaderBytes / 2 // one header copy
	checksumOff  = headerSize - 8
)

// testKDF keeps Argon2id cheap; DefaultKDF costs 64 MiB per try.
var testKDF = crypt.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func opts() pager.Options { return pager.Options{PageSize: testPageSize, KDF: testKDF} }

func rawKey(b byte) crypt.Credential {
	return crypt.Credential{Key: bytes.Repeat([]byte{b}, crypt.KeySize)}
}

func pass(s string) crypt.Credential { return crypt.Credential{Passphrase: []byte(s)} }

var keyA = rawKey(0xa1)

// create makes a new file in memory.
func create(t testing.TB, cred crypt.Credential) (*faultfile.File, *pager.Pager) {
	t.Helper()
	f := faultfile.New(nil)
	p, err := pager.Create(f, cred, opts())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return f, p
}

// open opens f with cred and the test options.
func open(t testing.TB, f pager.File, cred crypt.Credential) *pager.Pager {
	t.Helper()
	p, err := pager.Open(f, cred, opts())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return p
}

// image is a copy of f as it stands, unsynced writes included, for
// reopening without disturbing f.
func image(f *faultfile.File) *faultfile.File { return f.Crash(faultfile.KeepAll, nil) }

// payload is a page payload of p's size whose bytes are a function of tag.
func payload(p interface{ PayloadSize() int }, tag uint64) []byte {
	b := make([]byte, p.PayloadSize())
	b[0] = pager.TypeLeaf
	for i := 8; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], tag*0x9e3779b97f4a7c15+uint64(i))
	}
	return b
}

func writePage(t testing.TB, p *pager.Pager, pgno, gen, tag uint64) {
	t.Helper()
	if err := p.WritePage(pgno, gen, payload(p, tag)); err != nil {
		t.Fatalf("WritePage(%d, %d): %v", pgno, gen, err)
	}
}

func commit(t testing.TB, p *pager.Pager, m pager.Meta) {
	t.Helper()
	if err := p.Commit(m); err != nil {
		t.Fatalf("Commit(%+v): %v", m, err)
	}
}

func wantPage(t testing.TB, p *pager.Pager, ref pager.Ref, tag uint64) {
	t.Helper()
	got, err := p.Page(ref)
	if err != nil {
		t.Fatalf("Page(%v): %v", ref, err)
	}
	if !bytes.Equal(got, payload(p, tag)) {
		t.Fatalf("Page(%v) holds other content", ref)
	}
}

// wantPageError checks that err is corruption reported on page pgno.
func wantPageError(t testing.TB, err error, pgno uint64) {
	t.Helper()
	if !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("error %v, want ErrCorrupt", err)
	}
	var pe *errs.PageError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *errs.PageError", err)
	}
	if pe.Page != pgno {
		t.Fatalf("error names page %d, want %d: %v", pe.Page, pgno, err)
	}
}

// twoGenFile is a file with two commits: page 3 (tag 3) at generation 1 and
// page 4 (tag 4) at generation 2, the tree pointing at page 4.
func twoGenFile(t testing.TB, cred crypt.Credential) *faultfile.File {
	t.Helper()
	f, p := create(t, cred)
	writePage(t, p, 3, 1, 3)
	commit(t, p, pager.Meta{Gen: 1, PageCount: 4, Tree: pager.Ref{Page: 3, Gen: 1}})
	writePage(t, p, 4, 2, 4)
	commit(t, p, pager.Meta{Gen: 2, PageCount: 5, Tree: pager.Ref{Page: 4, Gen: 2}})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return image(f)
}

// editHeader applies edit to header copy c of file image b and fixes that
// copy's checksum, so only the edited field can be what a reader objects to.
func editHeader(b []byte, c int, edit func(h []byte)) {
	h := b[c*headerSize : (c+1)*headerSize]
	edit(h)
	binary.LittleEndian.PutUint64(h[checksumOff:], xxhash.Sum64(h[:checksumOff]))
}
