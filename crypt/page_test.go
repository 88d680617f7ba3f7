package crypt_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/errs"
)

const testPageSize = 1024 // the smallest page size: every byte position is cheap to try

func fileID(b byte) [crypt.FileIDSize]byte {
	var id [crypt.FileIDSize]byte
	for i := range id {
		id[i] = b + byte(i)
	}
	return id
}

func newCipher(t testing.TB, key []byte, id [crypt.FileIDSize]byte) *crypt.PageCipher {
	t.Helper()
	c, err := crypt.NewPageCipher(key, id, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func seal(t testing.TB, c *crypt.PageCipher, payload []byte, pgno, gen uint64) []byte {
	t.Helper()
	sealed := make([]byte, len(payload)+crypt.Overhead)
	if err := c.Seal(sealed, payload, pgno, gen); err != nil {
		t.Fatal(err)
	}
	return sealed
}

// wantCorrupt checks that err wraps ErrCorrupt through a *errs.PageError
// that names pgno.
func wantCorrupt(t *testing.T, err error, pgno uint64) {
	t.Helper()
	if !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("error %v, want ErrCorrupt", err)
	}
	var pe *errs.PageError
	if !errors.As(err, &pe) || pe.Page != pgno {
		t.Fatalf("error %v does not name page %d", err, pgno)
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	key := randomBytes(t, crypt.KeySize)
	c := newCipher(t, key, fileID(1))
	for _, size := range []int{0, 1, testPageSize - crypt.Overhead, 4096 - crypt.Overhead, 65536 - crypt.Overhead} {
		payload := randomBytes(t, size)
		sealed := seal(t, c, payload, 7, 3)
		if len(sealed) != size+crypt.Overhead {
			t.Fatalf("sealed %d bytes, want %d", len(sealed), size+crypt.Overhead)
		}
		if size >= 16 && bytes.Contains(sealed, payload[:16]) {
			t.Fatalf("sealed page contains plaintext")
		}
		got := make([]byte, size)
		if err := c.Open(got, sealed, 7, 3); err != nil {
			t.Fatalf("Open of %d-byte payload: %v", size, err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("round trip of %d bytes changed the payload", size)
		}
		// Another cipher built from the same key and file id opens it too.
		if err := newCipher(t, key, fileID(1)).Open(got, sealed, 7, 3); err != nil {
			t.Fatalf("second cipher: %v", err)
		}
	}
}

// TestSealLayout pins the sealed page format: nonce || XChaCha20-Poly1305
// ciphertext and tag, associated data fileID || pgno || gen, little-endian.
func TestSealLayout(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, crypt.KeySize)
	nonce := bytes.Repeat([]byte{0x24}, crypt.NonceSize)
	id := fileID(0xa0)
	c, err := crypt.NewPageCipher(key, id, bytes.NewReader(nonce))
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte("a page payload")
	got := seal(t, c, payload, 0x0102030405060708, 0x1112131415161718)

	ad := append(id[:], 8, 7, 6, 5, 4, 3, 2, 1, 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11)
	pad := crypt.PageAD(id, 0x0102030405060708, 0x1112131415161718)
	if !bytes.Equal(pad[:], ad) {
		t.Fatalf("PageAD = %x, want %x", pad, ad)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		t.Fatal(err)
	}
	want := aead.Seal(append([]byte{}, nonce...), nonce, payload, ad)
	if !bytes.Equal(got, want) {
		t.Fatalf("sealed page\n%x\nwant\n%x", got, want)
	}
}

func TestNoncesDiffer(t *testing.T) {
	c := newCipher(t, randomBytes(t, crypt.KeySize), fileID(1))
	payload := make([]byte, testPageSize-crypt.Overhead)
	seen := map[string]bool{}
	var prev []byte
	for i := 0; i < 64; i++ {
		s := seal(t, c, payload, 5, 1)
		nonce := string(s[:crypt.NonceSize])
		if seen[nonce] {
			t.Fatalf("nonce repeated after %d seals", i)
		}
		seen[nonce] = true
		if prev != nil && bytes.Equal(s[crypt.NonceSize:], prev[crypt.NonceSize:]) {
			t.Fatalf("two seals of the same payload share their ciphertext")
		}
		prev = s
	}
}

// TestTamperingDetected flips every bit of a 1 KiB sealed page, and opens
// it with every other binding; each must fail as corruption of the page.
func TestTamperingDetected(t *testing.T) {
	const pgno, gen = 9, 4
	key := randomBytes(t, crypt.KeySize)
	c := newCipher(t, key, fileID(1))
	payload := randomBytes(t, testPageSize-crypt.Overhead)
	sealed := seal(t, c, payload, pgno, gen)
	dst := make([]byte, len(payload))

	t.Run("bit flips", func(t *testing.T) {
		for i := range sealed {
			for bit := 0; bit < 8; bit++ {
				bad := bytes.Clone(sealed)
				bad[i] ^= 1 << bit
				for j := range dst {
					dst[j] = 0xff
				}
				err := c.Open(dst, bad, pgno, gen)
				if !errors.Is(err, errs.ErrCorrupt) {
					t.Fatalf("flip of byte %d bit %d: error %v, want ErrCorrupt", i, bit, err)
				}
				var pe *errs.PageError
				if !errors.As(err, &pe) || pe.Page != pgno {
					t.Fatalf("flip of byte %d: error %v does not name page %d", i, err, pgno)
				}
				if !bytes.Equal(dst, make([]byte, len(dst))) {
					t.Fatalf("flip of byte %d: failed Open left bytes in dst", i)
				}
			}
		}
	})

	other, err := crypt.NewPageCipher(randomBytes(t, crypt.KeySize), fileID(1), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		c         *crypt.PageCipher
		sealed    []byte
		pgno, gen uint64
	}{
		{"wrong page number", c, sealed, pgno + 1, gen},
		{"page number high bits", c, sealed, pgno | 1<<63, gen},
		{"older generation", c, sealed, pgno, gen - 1},
		{"newer generation", c, sealed, pgno, gen + 1},
		{"other file id", newCipher(t, key, fileID(2)), sealed, pgno, gen},
		{"other key", other, sealed, pgno, gen},
		{"truncated by one byte", c, sealed[:len(sealed)-1], pgno, gen},
		{"truncated to a tag", c, sealed[:crypt.Overhead], pgno, gen},
		{"truncated below a tag", c, sealed[:crypt.Overhead-1], pgno, gen},
		{"empty", c, nil, pgno, gen},
		{"extended", c, append(bytes.Clone(sealed), 0), pgno, gen},
		{"all zero", c, make([]byte, len(sealed)), pgno, gen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]byte, max(len(tc.sealed)-crypt.Overhead, 0))
			wantCorrupt(t, tc.c.Open(out, tc.sealed, tc.pgno, tc.gen), tc.pgno)
		})
	}
	if err := c.Open(dst, sealed, pgno, gen); err != nil || !bytes.Equal(dst, payload) {
		t.Fatalf("the untouched page no longer opens: %v", err)
	}
}

func TestSealOpenSizeMismatch(t *testing.T) {
	c := newCipher(t, randomBytes(t, crypt.KeySize), fileID(1))
	payload := make([]byte, 100)
	if err := c.Seal(make([]byte, 100+crypt.Overhead-1), payload, 3, 1); err == nil {
		t.Fatal("Seal into a short buffer succeeded")
	}
	if err := c.Seal(make([]byte, 100+crypt.Overhead+1), payload, 3, 1); err == nil {
		t.Fatal("Seal into a long buffer succeeded")
	}
	sealed := seal(t, c, payload, 3, 1)
	err := c.Open(make([]byte, 99), sealed, 3, 1)
	if err == nil || errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("Open into a wrong-sized buffer: %v; want a caller error, not corruption", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestRandomnessFailure(t *testing.T) {
	c, err := crypt.NewPageCipher(make([]byte, crypt.KeySize), fileID(1), failingReader{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Seal(make([]byte, 10+crypt.Overhead), make([]byte, 10), 3, 1); err == nil {
		t.Fatal("Seal without randomness succeeded")
	}
	if _, err := crypt.NewDataKey(failingReader{}); err == nil {
		t.Fatal("NewDataKey without randomness succeeded")
	}
	if _, err := crypt.NewPageCipher(make([]byte, crypt.KeySize-1), fileID(1), rand.Reader); err == nil {
		t.Fatal("NewPageCipher accepted a 31-byte key")
	}
}

func TestNewDataKey(t *testing.T) {
	a, err := crypt.NewDataKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := crypt.NewDataKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != crypt.KeySize || bytes.Equal(a, b) {
		t.Fatalf("data keys %x and %x", a, b)
	}
}
