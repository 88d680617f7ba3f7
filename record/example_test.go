package record

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

// unhex decodes hex with spaces and newlines.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWorkedExample builds the 2-page chain of FORMAT.md §10.4.6
// and checks its cell and pages byte for byte.
func TestWorkedExample(t *testing.T) {
	s := memstore.New(payload1K)
	for s.Gen() < 7 {
		s.NextGen()
	}
	if p, _ := s.Alloc(9); p != 3 { // pages 3..11, so the chain gets 12 and 13
		t.Fatalf("memstore allocated from %d", p)
	}
	value := make([]byte, 1000)
	for i := range value {
		value[i] = byte(i)
	}
	cell, err := Put(s, value, 100)
	if err != nil {
		t.Fatal(err)
	}
	wantCell := unhex(t, `01 e8 03 00 00 00 00 00 00  0c 00 00 00 00 00 00 00  07 00 00 00 00 00 00 00`)
	if !bytes.Equal(cell, wantCell) {
		t.Fatalf("cell\n% x\nwant\n% x", cell, wantCell)
	}
	head := pageBytes(t, s, 12)
	wantHead := append(unhex(t, `05 01 c0 03 02 00 00 00 0c 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`), value[:960]...)
	if !bytes.Equal(head, wantHead) {
		t.Fatalf("page 12 header % x, want % x (or data differs)", head[:headerSize], wantHead[:headerSize])
	}
	if head[24] != 0x00 || head[25] != 0x01 || head[983] != 0xbf {
		t.Fatalf("page 12 data starts % x, ends %x", head[24:26], head[983])
	}
	cont := pageBytes(t, s, 13)
	wantCont := append(unhex(t, `05 02 28 00 01 00 00 00 0c 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`), value[960:]...)
	wantCont = append(wantCont, make([]byte, 920)...)
	if !bytes.Equal(cont, wantCont) {
		t.Fatalf("page 13 header % x, want % x (or data differs)", cont[:headerSize], wantCont[:headerSize])
	}
	if cont[24] != 0xc0 || cont[63] != 0xe7 || len(cont) != 984 {
		t.Fatalf("page 13 data % x … %x", cont[24], cont[63])
	}
	reads := s.Reads
	if err := Free(s, cell); err != nil || s.Reads-reads != 1 || s.Live() != 9 {
		t.Fatalf("Free = %v after %d reads, %d pages live", err, s.Reads-reads, s.Live())
	}
}

func pageBytes(t *testing.T, s *memstore.Store, pgno uint64) []byte {
	t.Helper()
	p, err := s.Page(pager.Ref{Page: pgno, Gen: 7})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
