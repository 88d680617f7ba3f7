package conformance

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/streamcrypt/scdb/crypt"
)

// The page-seal known answer of FORMAT.md §6.3: the leaf of §10.3.6 sealed
// as page 5 at generation 7 of a file with id 00 01 .. 0f, under data key
// 00 01 .. 1f, with nonce 40 41 .. 57. The values below are copied into
// FORMAT.md; this test keeps the two in step.
const (
	katCiphertextHead = "d03907701be3a8158ff487beaf9c659292baadc41359539a6a31fd4509042390" // first 32 bytes of the ciphertext (sealed bytes 24..55)
	katTag            = "5b2a3ab9d090e7c6355f43dcb4281e5d"                                 // sealed bytes P-16..P-1
	katSHA256         = "7a87aa6a731b0bfad2da87824cbb914fd0f75dbcf85805720493de55bfa1a79c" // SHA-256 of the whole 1024-byte sealed page
)

func katLeaf() []byte {
	p := make([]byte, 984)
	p[0] = 4
	binary.LittleEndian.PutUint16(p[2:], 2)
	binary.LittleEndian.PutUint16(p[4:], 0x03cb)
	binary.LittleEndian.PutUint16(p[6:], 0x03d1)
	copy(p[0x3cb:], []byte{1, 0, 1, 0, 'a', 'x', 1, 0, 2, 0, 'b', 'y', 'z'})
	return p
}

func TestPageSealKnownAnswer(t *testing.T) {
	key, id, nonce := make([]byte, 32), [16]byte{}, make([]byte, 24)
	for i := range key {
		key[i] = byte(i)
	}
	for i := range id {
		id[i] = byte(i)
	}
	for i := range nonce {
		nonce[i] = 0x40 + byte(i)
	}
	c, err := crypt.NewPageCipher(key, id, bytes.NewReader(nonce))
	if err != nil {
		t.Fatal(err)
	}
	sealed := make([]byte, 1024)
	if err := c.Seal(sealed, katLeaf(), 5, 7); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(sealed)
	got := [3]string{hex.EncodeToString(sealed[24:56]), hex.EncodeToString(sealed[1024-16:]), hex.EncodeToString(sum[:])}
	want := [3]string{katCiphertextHead, katTag, katSHA256}
	if got != want || !bytes.Equal(sealed[:24], nonce) {
		t.Errorf("page seal known answer:\n got %q\nwant %q", got, want)
	}
	back := make([]byte, 984)
	if err := c.Open(back, sealed, 5, 7); err != nil || !bytes.Equal(back, katLeaf()) {
		t.Errorf("sealed page does not open back: %v", err)
	}
}
