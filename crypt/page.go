package crypt

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/streamcrypt/scdb/internal/errs"
)

// Sizes of the sealed page framing.
const (
	KeySize    = chacha20poly1305.KeySize    // 32-byte keys
	NonceSize  = chacha20poly1305.NonceSizeX // 24-byte random nonces
	TagSize    = chacha20poly1305.Overhead   // 16-byte Poly1305 tag
	Overhead   = NonceSize + TagSize         // bytes of a sealed page that are not payload
	FileIDSize = 16
	adSize     = FileIDSize + 8 + 8
)

// SuiteXChaCha20Poly1305 is the only cipher suite of format version 1.
const SuiteXChaCha20Poly1305 byte = 1

// PageCipher seals and opens pages under one file's data key. Each sealed
// page is nonce || ciphertext || tag, and its associated data binds the
// file id, the page number and the generation, so a page moved, copied from
// another file or replaced by an older copy of itself fails to open.
// A PageCipher is safe for concurrent use.
type PageCipher struct {
	aead   cipher.AEAD
	fileID [FileIDSize]byte
	rand   io.Reader
}

// NewPageCipher returns a PageCipher for dataKey (KeySize bytes) and fileID,
// drawing nonces from rand.
func NewPageCipher(dataKey []byte, fileID [FileIDSize]byte, rand io.Reader) (*PageCipher, error) {
	aead, err := chacha20poly1305.NewX(dataKey)
	if err != nil {
		return nil, fmt.Errorf("crypt: page key: %w", err)
	}
	return &PageCipher{aead: aead, fileID: fileID, rand: rand}, nil
}

// PageAD returns the associated data of page pgno sealed at generation gen
// in file fileID: fileID || pgno (u64 LE) || gen (u64 LE).
func PageAD(fileID [FileIDSize]byte, pgno, gen uint64) [adSize]byte {
	var ad [adSize]byte
	copy(ad[:], fileID[:])
	binary.LittleEndian.PutUint64(ad[16:], pgno)
	binary.LittleEndian.PutUint64(ad[24:], gen)
	return ad
}

// Seal encrypts payload as page pgno at generation gen into dst, which must
// be exactly len(payload)+Overhead bytes. A fresh random nonce is drawn for
// every call.
func (c *PageCipher) Seal(dst, payload []byte, pgno, gen uint64) error {
	if len(dst) != len(payload)+Overhead {
		return fmt.Errorf("crypt: seal into %d bytes, want %d", len(dst), len(payload)+Overhead)
	}
	nonce := dst[:NonceSize]
	if _, err := io.ReadFull(c.rand, nonce); err != nil {
		return fmt.Errorf("crypt: nonce: %w", err)
	}
	ad := PageAD(c.fileID, pgno, gen)
	c.aead.Seal(dst[NonceSize:NonceSize], nonce, payload, ad[:])
	return nil
}

// Open authenticates and decrypts the sealed page into dst, which must be
// exactly len(sealed)-Overhead bytes. Any mismatch (a flipped bit, another
// page number, generation or file) yields an error wrapping errs.ErrCorrupt
// that names pgno; dst then holds no plaintext.
func (c *PageCipher) Open(dst, sealed []byte, pgno, gen uint64) error {
	if len(sealed) < Overhead {
		clear(dst)
		return errs.Corrupt(pgno, "sealed page is %d bytes, shorter than its nonce and tag", len(sealed))
	}
	if len(dst) != len(sealed)-Overhead {
		return fmt.Errorf("crypt: open %d bytes into %d", len(sealed), len(dst))
	}
	ad := PageAD(c.fileID, pgno, gen)
	if _, err := c.aead.Open(dst[:0], sealed[:NonceSize], sealed[NonceSize:], ad[:]); err != nil {
		clear(dst)
		return errs.Corrupt(pgno, "authentication failed at generation %d (damaged, moved, replaced or from another file)", gen)
	}
	return nil
}
