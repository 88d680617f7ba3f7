package crypt_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/errs"
)

// cheapKDF keeps Argon2id fast in tests; DefaultKDF costs 64 MiB per try.
var cheapKDF = crypt.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func pass(s string) crypt.Credential { return crypt.Credential{Passphrase: []byte(s)} }

func rawKey(b byte) crypt.Credential {
	return crypt.Credential{Key: bytes.Repeat([]byte{b}, crypt.KeySize)}
}

func newSlot(t *testing.T, dataKey []byte, cred crypt.Credential, id [crypt.FileIDSize]byte) crypt.Slot {
	t.Helper()
	s, err := crypt.NewSlot(dataKey, cred, cheapKDF, id, rand.Reader)
	if err != nil {
		t.Fatalf("NewSlot: %v", err)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("a new slot does not validate: %v", err)
	}
	return s
}

func TestSlotRoundTrip(t *testing.T) {
	dataKey := randomBytes(t, crypt.KeySize)
	id := fileID(7)
	tests := []struct {
		name     string
		cred     crypt.Credential
		kind     byte
		wrong    []crypt.Credential
		wantKDF  crypt.KDFParams
		otherKDF crypt.KDFParams
	}{
		{
			name: "passphrase", cred: pass("correct horse"), kind: crypt.SlotPassphrase, wantKDF: cheapKDF,
			wrong: []crypt.Credential{pass("correct horsE"), pass("correct horse "), pass("c"), rawKey(1)},
		},
		{
			name: "raw key", cred: rawKey(1), kind: crypt.SlotRawKey,
			wrong: []crypt.Credential{rawKey(2), pass("correct horse"), {Key: append(bytes.Repeat([]byte{1}, 31), 0)}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSlot(t, dataKey, tc.cred, id)
			if s.Kind() != tc.kind || s.KDF() != tc.wantKDF {
				t.Fatalf("slot kind %d kdf %+v, want %d %+v", s.Kind(), s.KDF(), tc.kind, tc.wantKDF)
			}
			if bytes.Contains(s[:], dataKey[:16]) {
				t.Fatal("slot holds the data key in clear")
			}
			got, err := s.Unwrap(tc.cred, id, crypt.DefaultKDFLimit)
			if err != nil || !bytes.Equal(got, dataKey) {
				t.Fatalf("Unwrap = %x, %v; want the data key", got, err)
			}
			for _, w := range tc.wrong {
				if _, err := s.Unwrap(w, id, crypt.DefaultKDFLimit); !errors.Is(err, errs.ErrWrongKey) {
					t.Errorf("Unwrap with wrong credential: %v, want ErrWrongKey", err)
				}
			}
			if _, err := s.Unwrap(tc.cred, fileID(8), crypt.DefaultKDFLimit); !errors.Is(err, errs.ErrWrongKey) {
				t.Errorf("Unwrap in another file: %v, want ErrWrongKey", err)
			}
			// Two slots for the same credential use different salts.
			s2 := newSlot(t, dataKey, tc.cred, id)
			if bytes.Equal(s[16:], s2[16:]) {
				t.Error("two slots share salt, nonce and ciphertext")
			}
		})
	}
}

// TestSlotTampering changes the slot's bound bytes: every change must make
// the right credential fail as a wrong key (never return a key).
func TestSlotTampering(t *testing.T) {
	dataKey := randomBytes(t, crypt.KeySize)
	id := fileID(3)
	for _, cred := range []crypt.Credential{pass("pw"), rawKey(9)} {
		s := newSlot(t, dataKey, cred, id)
		// Salt, nonce and wrapped key: every bit.
		for i := 16; i < crypt.SlotSize; i++ {
			for bit := 0; bit < 8; bit++ {
				bad := s
				bad[i] ^= 1 << bit
				if _, err := bad.Unwrap(cred, id, crypt.DefaultKDFLimit); !errors.Is(err, errs.ErrWrongKey) {
					t.Fatalf("kind %d: flip of byte %d bit %d: %v, want ErrWrongKey", s.Kind(), i, bit, err)
				}
			}
		}
		// Kind and reserved bytes.
		for _, i := range []int{0, 2, 3, 12, 15} {
			bad := s
			bad[i] ^= 0x02
			if _, err := bad.Unwrap(cred, id, crypt.DefaultKDFLimit); !errors.Is(err, errs.ErrWrongKey) {
				t.Errorf("kind %d: change of byte %d: %v, want ErrWrongKey", s.Kind(), i, err)
			}
		}
	}

	// Argon2id parameters changed to other valid values: a wrong key, not a
	// key derived with weaker parameters.
	s := newSlot(t, dataKey, pass("pw"), id)
	params := []struct {
		name string
		edit func(s *crypt.Slot)
	}{
		{"time", func(s *crypt.Slot) { binary.LittleEndian.PutUint32(s[4:], 2) }},
		{"memory", func(s *crypt.Slot) { binary.LittleEndian.PutUint32(s[8:], 128) }},
		{"threads", func(s *crypt.Slot) { s[1] = 2 }},
	}
	for _, p := range params {
		t.Run(p.name, func(t *testing.T) {
			bad := s
			p.edit(&bad)
			if err := bad.Validate(); err != nil {
				t.Fatalf("edited slot should still be well-formed: %v", err)
			}
			if _, err := bad.Unwrap(pass("pw"), id, crypt.DefaultKDFLimit); !errors.Is(err, errs.ErrWrongKey) {
				t.Fatalf("Unwrap after changing %s: %v, want ErrWrongKey", p.name, err)
			}
		})
	}
	// Parameters out of bounds: refused before any Argon2id work.
	bad := s
	binary.LittleEndian.PutUint32(bad[8:], 1<<31)
	if _, err := bad.Unwrap(pass("pw"), id, crypt.DefaultKDFLimit); err == nil {
		t.Fatal("Unwrap with 2 TiB of Argon2id memory succeeded")
	}
}

func TestInvalidCredentials(t *testing.T) {
	dataKey := randomBytes(t, crypt.KeySize)
	id := fileID(1)
	valid := newSlot(t, dataKey, rawKey(1), id)
	tests := []struct {
		name string
		cred crypt.Credential
	}{
		{"nothing", crypt.Credential{}},
		{"both", crypt.Credential{Key: rawKey(1).Key, Passphrase: []byte("pw")}},
		{"short key", crypt.Credential{Key: make([]byte, crypt.KeySize-1)}},
		{"long key", crypt.Credential{Key: make([]byte, crypt.KeySize+1)}},
		{"empty key", crypt.Credential{Key: []byte{}}},
		{"empty passphrase", crypt.Credential{Passphrase: []byte{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := crypt.NewSlot(dataKey, tc.cred, cheapKDF, id, rand.Reader); !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("NewSlot: %v, want ErrInvalid", err)
			}
			if _, err := valid.Unwrap(tc.cred, id, crypt.DefaultKDFLimit); !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("Unwrap: %v, want ErrInvalid", err)
			}
		})
	}
	for _, kdf := range []crypt.KDFParams{
		{},
		{Time: 0, MemoryKiB: 64, Threads: 1},
		{Time: 65, MemoryKiB: 64, Threads: 1},
		{Time: 1, MemoryKiB: 64, Threads: 0},
		{Time: 1, MemoryKiB: 15, Threads: 2},
		{Time: 1, MemoryKiB: 4<<20 + 1, Threads: 1},
	} {
		if _, err := crypt.NewSlot(dataKey, pass("pw"), kdf, id, rand.Reader); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("NewSlot with KDF %+v: %v, want ErrInvalid", kdf, err)
		}
	}
	// A raw key ignores the KDF parameters.
	if _, err := crypt.NewSlot(dataKey, rawKey(1), crypt.KDFParams{}, id, rand.Reader); err != nil {
		t.Errorf("raw-key slot with zero KDF: %v", err)
	}
	if _, err := crypt.NewSlot(dataKey, pass("pw"), cheapKDF, id, failingReader{}); err == nil {
		t.Error("NewSlot without randomness succeeded")
	}
}

func TestSlotValidate(t *testing.T) {
	id := fileID(1)
	dataKey := randomBytes(t, crypt.KeySize)
	pw := newSlot(t, dataKey, pass("pw"), id)
	raw := newSlot(t, dataKey, rawKey(1), id)
	with := func(s crypt.Slot, edit func(s *crypt.Slot)) crypt.Slot { edit(&s); return s }
	setKDF := func(p crypt.KDFParams) func(s *crypt.Slot) {
		return func(s *crypt.Slot) {
			s[1] = p.Threads
			binary.LittleEndian.PutUint32(s[4:], p.Time)
			binary.LittleEndian.PutUint32(s[8:], p.MemoryKiB)
		}
	}
	tests := []struct {
		name string
		slot crypt.Slot
		ok   bool
	}{
		{"empty", crypt.Slot{}, true},
		{"passphrase", pw, true},
		{"raw key", raw, true},
		{"default KDF", with(pw, setKDF(crypt.DefaultKDF)), true},
		{"max KDF", with(pw, setKDF(crypt.KDFParams{Time: 64, MemoryKiB: 4 << 20, Threads: 255})), true},
		{"empty with junk", with(crypt.Slot{}, func(s *crypt.Slot) { s[100] = 1 }), false},
		{"empty with params", with(crypt.Slot{}, func(s *crypt.Slot) { s[4] = 1 }), false},
		{"unknown kind 3", with(raw, func(s *crypt.Slot) { s[0] = 3 }), false},
		{"unknown kind 255", with(pw, func(s *crypt.Slot) { s[0] = 255 }), false},
		{"zero threads", with(pw, setKDF(crypt.KDFParams{Time: 1, MemoryKiB: 64})), false},
		{"zero time", with(pw, setKDF(crypt.KDFParams{MemoryKiB: 64, Threads: 1})), false},
		{"time too high", with(pw, setKDF(crypt.KDFParams{Time: 65, MemoryKiB: 64, Threads: 1})), false},
		{"memory below 8 per thread", with(pw, setKDF(crypt.KDFParams{Time: 1, MemoryKiB: 31, Threads: 4})), false},
		{"memory too high", with(pw, setKDF(crypt.KDFParams{Time: 1, MemoryKiB: 4<<20 + 1, Threads: 1})), false},
		{"raw key with threads", with(raw, func(s *crypt.Slot) { s[1] = 1 }), false},
		{"raw key with time", with(raw, func(s *crypt.Slot) { s[4] = 1 }), false},
		{"raw key with memory", with(raw, func(s *crypt.Slot) { s[11] = 1 }), false},
		{"reserved byte 2", with(pw, func(s *crypt.Slot) { s[2] = 1 }), false},
		{"reserved byte 3", with(raw, func(s *crypt.Slot) { s[3] = 0x80 }), false},
		{"reserved byte 12", with(pw, func(s *crypt.Slot) { s[12] = 1 }), false},
		{"reserved byte 15", with(raw, func(s *crypt.Slot) { s[15] = 1 }), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.slot.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// A slot's Argon2id cost sits in plaintext: anyone can raise it. A reader
// refuses a slot above its limit before paying for it, with an error that
// names the limit, and tries a slot within it as usual.
func TestKDFLimit(t *testing.T) {
	dataKey := make([]byte, crypt.KeySize)
	id := fileID(1)
	s, err := crypt.NewSlot(dataKey, pass("pw"), cheapKDF, id, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	low := crypt.KDFLimit{MemoryKiB: cheapKDF.MemoryKiB - 1, Work: 1 << 40}
	if _, err := s.Unwrap(pass("pw"), id, low); !errors.Is(err, errs.ErrKDFLimit) || !strings.Contains(err.Error(), "MaxKDFMemoryKiB") {
		t.Fatalf("memory over the limit: %v, want ErrKDFLimit naming the option", err)
	}
	lowWork := crypt.KDFLimit{MemoryKiB: 1 << 30, Work: uint64(cheapKDF.Time)*uint64(cheapKDF.MemoryKiB) - 1}
	if _, err := s.Unwrap(pass("pw"), id, lowWork); !errors.Is(err, errs.ErrKDFLimit) {
		t.Fatalf("work over the limit: %v, want ErrKDFLimit", err)
	}
	exact := crypt.KDFLimit{MemoryKiB: cheapKDF.MemoryKiB, Work: uint64(cheapKDF.Time) * uint64(cheapKDF.MemoryKiB)}
	if _, err := s.Unwrap(pass("pw"), id, exact); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	// The default limit admits the default cost.
	if err := crypt.DefaultKDFLimit.Allows(crypt.DefaultKDF); err != nil {
		t.Fatal(err)
	}
	if err := crypt.DefaultKDFLimit.Allows(crypt.KDFParams{Time: 64, MemoryKiB: 4 << 20, Threads: 4}); err == nil {
		t.Fatal("the format's maximum cost is within the default limit")
	}
}
