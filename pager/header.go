package pager

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/errs"
)

// The plaintext header: two copies of headerSize bytes at the start of page
// 0, so a header rewrite (a key slot change) torn by a crash leaves the other
// copy intact.
const (
	headerSize   = 512
	headerCopies = 2
	// HeaderBytes is how many bytes at the start of the file hold the header
	// copies; every valid page size is at least this.
	HeaderBytes = headerSize * headerCopies
	// NumSlots is the number of key slots in the header.
	NumSlots = 4

	keyIDOffset    = 40
	slotsOffset    = 64
	checksumOffset = headerSize - 8

	// FormatMajor and FormatMinor are the format version this package
	// reads and writes.
	FormatMajor = 3
	FormatMinor = 0

	// Page size bounds, as log2.
	MinPageShift = 10
	MaxPageShift = 16
)

// Magic opens every scdb file: 0x89 "SCDB" CR LF 0x1A, so text-mode mangling
// and truncated transfers are noticed.
var Magic = [8]byte{0x89, 'S', 'C', 'D', 'B', '\r', '\n', 0x1a}

// header is one decoded header copy.
type header struct {
	major, minor uint16
	suite        byte
	pageShift    byte
	flags        uint16
	fileID       [crypt.FileIDSize]byte // drawn for every file: bound into every page
	keyID        [crypt.KeyIDSize]byte  // names the data key: bound into every key slot
	epoch        uint64                 // bumped by every header rewrite; the highest valid copy wins
	slots        [NumSlots]crypt.Slot
}

func (h *header) pageSize() int { return 1 << h.pageShift }

// encode writes h into a headerSize buffer, checksum included.
func (h *header) encode() []byte {
	b := make([]byte, headerSize)
	copy(b, Magic[:])
	binary.LittleEndian.PutUint16(b[8:], h.major)
	binary.LittleEndian.PutUint16(b[10:], h.minor)
	b[12] = h.suite
	b[13] = h.pageShift
	binary.LittleEndian.PutUint16(b[14:], h.flags)
	copy(b[16:32], h.fileID[:])
	binary.LittleEndian.PutUint64(b[32:], h.epoch)
	copy(b[keyIDOffset:], h.keyID[:])
	for i := range h.slots {
		copy(b[slotsOffset+i*crypt.SlotSize:], h.slots[i][:])
	}
	binary.LittleEndian.PutUint64(b[checksumOffset:], xxhash.Sum64(b[:checksumOffset]))
	return b
}

// hasMagic reports whether a header copy starts with the scdb magic.
func hasMagic(b []byte) bool { return len(b) >= len(Magic) && bytes.Equal(b[:len(Magic)], Magic[:]) }

// decodeHeader parses one header copy. It checks, in order: the checksum
// (damage), then the version (ErrVersion), then every field's range. It
// assumes the magic was checked by the caller.
func decodeHeader(b []byte) (*header, error) {
	if len(b) < headerSize {
		return nil, errs.Corrupt(0, "header copy is %d bytes", len(b))
	}
	b = b[:headerSize]
	if binary.LittleEndian.Uint64(b[checksumOffset:]) != xxhash.Sum64(b[:checksumOffset]) {
		return nil, errs.Corrupt(0, "header checksum mismatch")
	}
	h := &header{
		major:     binary.LittleEndian.Uint16(b[8:]),
		minor:     binary.LittleEndian.Uint16(b[10:]),
		suite:     b[12],
		pageShift: b[13],
		flags:     binary.LittleEndian.Uint16(b[14:]),
		epoch:     binary.LittleEndian.Uint64(b[32:]),
	}
	copy(h.fileID[:], b[16:32])
	copy(h.keyID[:], b[keyIDOffset:])
	if h.major != FormatMajor || h.minor != FormatMinor || h.flags != 0 {
		return nil, fmt.Errorf("%w: file is format %d.%d flags %#x; this build reads %d.%d",
			errs.ErrVersion, h.major, h.minor, h.flags, FormatMajor, FormatMinor)
	}
	if h.suite != crypt.SuiteXChaCha20Poly1305 {
		return nil, fmt.Errorf("%w: unknown cipher suite %d", errs.ErrVersion, h.suite)
	}
	if h.pageShift < MinPageShift || h.pageShift > MaxPageShift {
		return nil, errs.Corrupt(0, "page size 2^%d outside 2^%d..2^%d", h.pageShift, MinPageShift, MaxPageShift)
	}
	if !allZero(b[keyIDOffset+crypt.KeyIDSize:slotsOffset]) || !allZero(b[slotsOffset+NumSlots*crypt.SlotSize:checksumOffset]) {
		return nil, errs.Corrupt(0, "reserved header bytes are not zero")
	}
	for i := range h.slots {
		copy(h.slots[i][:], b[slotsOffset+i*crypt.SlotSize:])
		if err := h.slots[i].Validate(); err != nil {
			return nil, errs.Corrupt(0, "key slot %d: %v", i, err)
		}
	}
	return h, nil
}

// pickHeader chooses the header copy to use from the first HeaderBytes of a
// file: the valid copy with the highest epoch. It returns which copy that is.
// No magic anywhere means the file is not scdb; magic but no valid copy
// means a damaged header, or a version this build does not read.
func pickHeader(b []byte) (*header, int, error) {
	var best *header
	bestIdx := -1
	var firstErr error
	magic := false
	for i := 0; i < headerCopies; i++ {
		lo := i * headerSize
		if len(b) < lo+headerSize || !hasMagic(b[lo:]) {
			continue
		}
		magic = true
		h, err := decodeHeader(b[lo : lo+headerSize])
		if err != nil {
			if firstErr == nil || errors.Is(err, errs.ErrVersion) {
				firstErr = err // a newer version explains more than damage does
			}
			continue
		}
		if best == nil || h.epoch > best.epoch {
			best, bestIdx = h, i
		}
	}
	switch {
	case best != nil:
		return best, bestIdx, nil
	case !magic:
		return nil, -1, errs.ErrNotSCDB
	default:
		return nil, -1, firstErr
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
