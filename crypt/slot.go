package crypt

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"

	"github.com/streamcrypt/scdb/internal/errs"
)

// Slot kinds (byte 0 of an encoded slot).
const (
	SlotEmpty      byte = 0
	SlotPassphrase byte = 1
	SlotRawKey     byte = 2
)

// SlotSize is the encoded size of one key slot.
const SlotSize = 104

const (
	saltSize    = 16
	slotAuthLen = 32 // kind, parameters and salt: the bytes bound as AD
	wrappedSize = KeySize + TagSize
)

// rawKeyInfo is the HKDF info string for raw-key slots.
const rawKeyInfo = "scdb v1 raw-key slot"

// KDFParams are Argon2id's cost parameters for a passphrase slot.
type KDFParams struct {
	Time      uint32 // passes (t)
	MemoryKiB uint32 // memory in KiB (m)
	Threads   uint8  // parallelism (p)
}

// DefaultKDF is RFC 9106's second recommended option (t=3, m=64 MiB, p=4),
// strong enough for a passphrase typed by a person.
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// The format's bounds on a slot's parameters (FORMAT.md §4.2). They only
// say what a well-formed slot looks like; what a reader is willing to pay is
// its KDFLimit.
const (
	maxKDFTime   = 64
	maxKDFMemory = 4 << 20 // 4 GiB in KiB
)

// KeyIDSize is the size of the key id that key slots bind: it names the data
// key, and every file that holds that data key (a file and its compacted
// successors) has the same one.
const KeyIDSize = 16

// KDFLimit is the most Argon2id work a reader pays to try one passphrase
// slot. Slot parameters sit in the plaintext header, where anyone who can
// write the file can raise them before any AEAD can object, so the file may
// ask but the application decides: a slot above the limit is not tried.
type KDFLimit struct {
	MemoryKiB uint32 // largest m, in KiB
	Work      uint64 // largest t × m, in KiB-passes
}

// DefaultKDFLimit allows twice DefaultKDF's memory and twice its work, so
// an open of a file whose four slots were all raised to the limit costs at
// most eight times an open of a default slot, with one Argon2id buffer of at
// most 128 MiB alive at a time.
var DefaultKDFLimit = KDFLimit{
	MemoryKiB: 2 * DefaultKDF.MemoryKiB,
	Work:      2 * uint64(DefaultKDF.Time) * uint64(DefaultKDF.MemoryKiB),
}

// Allows reports, as an error wrapping errs.ErrKDFLimit, a cost above l.
func (l KDFLimit) Allows(p KDFParams) error {
	if p.MemoryKiB > l.MemoryKiB || uint64(p.Time)*uint64(p.MemoryKiB) > l.Work {
		return fmt.Errorf("%w: Argon2id t=%d m=%d KiB is above the limit of m ≤ %d KiB and t×m ≤ %d "+
			"(raise Options.MaxKDFMemoryKiB / MaxKDFWork to open a file created with a higher cost)",
			errs.ErrKDFLimit, p.Time, p.MemoryKiB, l.MemoryKiB, l.Work)
	}
	return nil
}

func (p KDFParams) validate() error {
	switch {
	case p.Threads == 0:
		return errors.New("argon2id threads must be at least 1")
	case p.Time == 0 || p.Time > maxKDFTime:
		return fmt.Errorf("argon2id time %d outside 1..%d", p.Time, maxKDFTime)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemory:
		return fmt.Errorf("argon2id memory %d KiB outside %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxKDFMemory)
	}
	return nil
}

// Credential is what unlocks a key slot: exactly one of a 32-byte raw key or
// a passphrase.
type Credential struct {
	Key        []byte // a 32-byte raw key, or
	Passphrase []byte // a passphrase, used as the exact bytes given
}

func (c Credential) kind() (byte, error) {
	switch {
	case c.Key != nil && c.Passphrase != nil:
		return 0, fmt.Errorf("%w: give a key or a passphrase, not both", errs.ErrInvalid)
	case c.Key != nil:
		if len(c.Key) != KeySize {
			return 0, fmt.Errorf("%w: raw key is %d bytes, want %d", errs.ErrInvalid, len(c.Key), KeySize)
		}
		return SlotRawKey, nil
	case c.Passphrase != nil:
		if len(c.Passphrase) == 0 {
			return 0, fmt.Errorf("%w: empty passphrase", errs.ErrInvalid)
		}
		return SlotPassphrase, nil
	}
	return 0, fmt.Errorf("%w: no key or passphrase given", errs.ErrInvalid)
}

// Slot is one encoded key slot: the data key wrapped under a key-encryption
// key derived from a credential.
//
//	0   1  kind
//	1   1  Argon2id threads (p); 0 for raw-key slots
//	2   2  reserved, zero
//	4   4  Argon2id time (t); 0 for raw-key slots
//	8   4  Argon2id memory in KiB (m); 0 for raw-key slots
//	12  4  reserved, zero
//	16 16  salt
//	32 24  nonce
//	56 48  wrapped data key (ciphertext || tag)
type Slot [SlotSize]byte

// Kind returns the slot's kind byte.
func (s *Slot) Kind() byte { return s[0] }

// KDF returns the Argon2id parameters of a passphrase slot.
func (s *Slot) KDF() KDFParams {
	return KDFParams{
		Threads:   s[1],
		Time:      binary.LittleEndian.Uint32(s[4:]),
		MemoryKiB: binary.LittleEndian.Uint32(s[8:]),
	}
}

// Validate checks the slot's structure without any key: an empty slot is all
// zero, a passphrase slot has sane Argon2id parameters, a raw-key slot has
// zero parameters, and reserved bytes are zero.
func (s *Slot) Validate() error {
	switch s.Kind() {
	case SlotEmpty:
		if *s != (Slot{}) {
			return errors.New("empty slot is not all zero")
		}
		return nil
	case SlotPassphrase:
		if err := s.KDF().validate(); err != nil {
			return err
		}
	case SlotRawKey:
		if s.KDF() != (KDFParams{}) {
			return errors.New("raw-key slot has Argon2id parameters")
		}
	default:
		return fmt.Errorf("unknown slot kind %d", s.Kind())
	}
	if s[2] != 0 || s[3] != 0 || binary.LittleEndian.Uint32(s[12:]) != 0 {
		return errors.New("reserved slot bytes are not zero")
	}
	return nil
}

// NewDataKey draws a fresh random data key.
func NewDataKey(rand io.Reader) ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := io.ReadFull(rand, k); err != nil {
		return nil, fmt.Errorf("crypt: data key: %w", err)
	}
	return k, nil
}

// NewSlot wraps dataKey, named by keyID, for cred. kdf is used for a
// passphrase and ignored for a raw key.
func NewSlot(dataKey []byte, cred Credential, kdf KDFParams, keyID [KeyIDSize]byte, rand io.Reader) (Slot, error) {
	var s Slot
	kind, err := cred.kind()
	if err != nil {
		return s, err
	}
	s[0] = kind
	if kind == SlotPassphrase {
		if err := kdf.validate(); err != nil {
			return s, fmt.Errorf("%w: %v", errs.ErrInvalid, err)
		}
		s[1] = kdf.Threads
		binary.LittleEndian.PutUint32(s[4:], kdf.Time)
		binary.LittleEndian.PutUint32(s[8:], kdf.MemoryKiB)
	}
	if _, err := io.ReadFull(rand, s[16:56]); err != nil { // salt and nonce
		return s, fmt.Errorf("crypt: slot salt: %w", err)
	}
	kek, err := s.kek(cred)
	if err != nil {
		return s, err
	}
	defer clear(kek)
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return s, err
	}
	ad := s.ad(keyID)
	aead.Seal(s[56:56], s[32:56], dataKey, ad[:])
	return s, nil
}

// Unwrap returns the data key if cred opens this slot, and an error wrapping
// errs.ErrWrongKey if it does not (or if the slot is of the other kind). A
// passphrase slot whose cost is above limit is not tried: errs.ErrKDFLimit.
func (s *Slot) Unwrap(cred Credential, keyID [KeyIDSize]byte, limit KDFLimit) ([]byte, error) {
	kind, err := cred.kind()
	if err != nil {
		return nil, err
	}
	if kind != s.Kind() {
		return nil, errs.ErrWrongKey
	}
	if kind == SlotPassphrase {
		if err := limit.Allows(s.KDF()); err != nil {
			return nil, err
		}
	}
	kek, err := s.kek(cred)
	if err != nil {
		return nil, err
	}
	defer clear(kek)
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return nil, err
	}
	ad := s.ad(keyID)
	key, err := aead.Open(nil, s[32:56], s[56:], ad[:])
	if err != nil {
		return nil, errs.ErrWrongKey
	}
	return key, nil
}

// kek derives the key-encryption key of this slot from cred.
func (s *Slot) kek(cred Credential) ([]byte, error) {
	salt := s[16:32]
	if s.Kind() == SlotPassphrase {
		p := s.KDF()
		if err := p.validate(); err != nil {
			return nil, errs.Corrupt(0, "key slot: %v", err)
		}
		return argon2.IDKey(cred.Passphrase, salt, p.Time, p.MemoryKiB, p.Threads, KeySize), nil
	}
	kek := make([]byte, KeySize)
	if _, err := io.ReadFull(hkdf.New(sha256.New, cred.Key, salt, []byte(rawKeyInfo)), kek); err != nil {
		return nil, err
	}
	return kek, nil
}

// ad is the associated data of the wrap: keyID || slot bytes 0..32 (kind,
// parameters, salt), so a slot's parameters cannot be altered unnoticed. It
// binds the key id, not the file id, so that a successor file (a new file
// id, the same data key) keeps its predecessor's slots as they are.
func (s *Slot) ad(keyID [KeyIDSize]byte) [KeyIDSize + slotAuthLen]byte {
	var ad [KeyIDSize + slotAuthLen]byte
	copy(ad[:], keyID[:])
	copy(ad[KeyIDSize:], s[:slotAuthLen])
	return ad
}
