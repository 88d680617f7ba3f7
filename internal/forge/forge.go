// Package forge is a test-only tool that plays an attacker who holds the key:
// it opens any sealed page of an scdb file image and seals an arbitrary
// payload in its place, so that tests can drive the engine through pages
// that authenticate but lie (cycles, lying counts, wrong types). Mutating
// ciphertext only exercises the AEAD; forged plaintext reaches the decoders.
//
// It reads the header and key slots on its own (FORMAT.md §3, §4) and uses
// crypt for unwrapping and sealing, so it does not depend on how the pager
// reads files. It must never be imported by non-test code.
package forge

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/streamcrypt/scdb/crypt"
)

// Header layout (FORMAT.md §3.1): what forge needs of it.
const (
	headerCopy  = 512
	shiftOff    = 13
	fileIDOff   = 16
	keyIDOff    = 40
	epochOff    = 32
	slotsOff    = 64
	numSlots    = 4
	minShift    = 10
	maxShift    = 16
	typeMeta    = 1
	metaGenOff  = 8
	metaPageOff = 16
)

// File is a file image that forge can open and reseal pages of. Image is
// the file's bytes; Seal writes into it.
type File struct {
	Image    []byte // the file's bytes, edited in place by Seal
	PageSize int    // bytes per page
	fileID   [crypt.FileIDSize]byte
	cipher   *crypt.PageCipher
	gens     map[uint64]uint64 // page -> generation that opened it, filled by Index
}

// Open unwraps the data key of image with the 32-byte raw key, trying the
// raw-key slots of each header copy that has the magic, and returns a File
// over image (not a copy: Seal changes it).
func Open(image, rawKey []byte) (*File, error) {
	var errsSeen []error
	for c := 0; c < 2; c++ {
		h := image[min(len(image), c*headerCopy):min(len(image), (c+1)*headerCopy)]
		if len(h) < headerCopy || !bytes.HasPrefix(h, []byte("\x89SCDB\r\n\x1a")) {
			continue
		}
		f, err := openCopy(image, h, rawKey)
		if err == nil {
			return f, nil
		}
		errsSeen = append(errsSeen, err)
	}
	return nil, fmt.Errorf("forge: no header copy opens with the key: %w", errors.Join(errsSeen...))
}

func openCopy(image, h, rawKey []byte) (*File, error) {
	shift := int(h[shiftOff])
	if shift < minShift || shift > maxShift {
		return nil, fmt.Errorf("page size shift %d", shift)
	}
	var id [crypt.FileIDSize]byte
	copy(id[:], h[fileIDOff:])
	var keyID [crypt.KeyIDSize]byte
	copy(keyID[:], h[keyIDOff:])
	for i := range numSlots {
		var s crypt.Slot
		copy(s[:], h[slotsOff+i*crypt.SlotSize:])
		if s.Kind() != crypt.SlotRawKey {
			continue
		}
		key, err := s.Unwrap(crypt.Credential{Key: rawKey}, keyID, crypt.DefaultKDFLimit)
		if err != nil {
			continue
		}
		c, err := crypt.NewPageCipher(key, id, rand.Reader)
		if err != nil {
			return nil, err
		}
		return &File{Image: image, PageSize: 1 << shift, fileID: id, cipher: c, gens: map[uint64]uint64{}}, nil
	}
	return nil, errors.New("no raw-key slot opens")
}

// Pages is the number of whole pages in the image.
func (f *File) Pages() uint64 { return uint64(len(f.Image) / f.PageSize) }

// PayloadSize is the plaintext size of a page.
func (f *File) PayloadSize() int { return f.PageSize - crypt.Overhead }

func (f *File) sealed(pgno uint64) ([]byte, error) {
	if pgno == 0 || pgno >= f.Pages() {
		return nil, fmt.Errorf("forge: page %d is not a sealed page of a %d-page image", pgno, f.Pages())
	}
	off := int(pgno) * f.PageSize
	return f.Image[off : off+f.PageSize], nil
}

// OpenPage decrypts page pgno as sealed at generation gen (0 for a meta
// page) and returns a fresh copy of its payload.
func (f *File) OpenPage(pgno, gen uint64) ([]byte, error) {
	s, err := f.sealed(pgno)
	if err != nil {
		return nil, err
	}
	payload := make([]byte, f.PayloadSize())
	if err := f.cipher.Open(payload, s, pgno, gen); err != nil {
		return nil, err
	}
	return payload, nil
}

// Seal seals payload as page pgno at generation gen into the image, with a
// fresh nonce.
func (f *File) Seal(pgno, gen uint64, payload []byte) error {
	s, err := f.sealed(pgno)
	if err != nil {
		return err
	}
	if len(payload) != f.PayloadSize() {
		return fmt.Errorf("forge: payload of %d bytes, want %d", len(payload), f.PayloadSize())
	}
	if err := f.cipher.Seal(s, payload, pgno, gen); err != nil {
		return err
	}
	f.gens[pgno] = gen
	return nil
}

// MaxGen returns the highest generation recorded in the meta pages that
// open (meta pages are sealed at generation 0 and hold theirs at offset 8).
func (f *File) MaxGen() (uint64, bool) {
	var best uint64
	found := false
	for pgno := uint64(1); pgno <= 2; pgno++ {
		p, err := f.OpenPage(pgno, 0)
		if err != nil || p[0] != typeMeta {
			continue
		}
		if g := binary.LittleEndian.Uint64(p[metaGenOff:]); !found || g > best {
			best, found = g, true
		}
	}
	return best, found
}

// Find returns the payload of page pgno and the generation it opened at:
// 0 for a meta page, else the highest generation from the newest meta's
// down to 0 that opens it. Results are remembered.
func (f *File) Find(pgno uint64) ([]byte, uint64, error) {
	if g, ok := f.gens[pgno]; ok {
		p, err := f.OpenPage(pgno, g)
		return p, g, err
	}
	if pgno <= 2 {
		p, err := f.OpenPage(pgno, 0)
		if err == nil {
			f.gens[pgno] = 0
		}
		return p, 0, err
	}
	maxGen, ok := f.MaxGen()
	if !ok {
		return nil, 0, errors.New("forge: no meta page opens")
	}
	for g := maxGen + 1; g > 0; g-- {
		if p, err := f.OpenPage(pgno, g-1); err == nil {
			f.gens[pgno] = g - 1
			return p, g - 1, nil
		}
	}
	return nil, 0, fmt.Errorf("forge: page %d opens at no generation 0..%d", pgno, maxGen)
}

// Edit opens page pgno (see Find), lets edit change its payload, and seals
// the result at the same generation.
func (f *File) Edit(pgno uint64, edit func(payload []byte)) error {
	p, gen, err := f.Find(pgno)
	if err != nil {
		return err
	}
	edit(p)
	return f.Seal(pgno, gen, p)
}

// MetaOffsets: where a meta payload keeps its page count and references
// (FORMAT.md §7), for tests that forge metas.
const (
	MetaGen       = metaGenOff
	MetaPageCount = metaPageOff
	MetaTree      = 24
	MetaFreelist  = 40
)
