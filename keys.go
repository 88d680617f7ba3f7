package scdb

import (
	"fmt"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/pager"
)

// Credential unlocks a key slot: exactly one of a 32-byte raw key or a
// passphrase.
type Credential struct {
	Key        []byte // a 32-byte raw key, or
	Passphrase []byte // a passphrase, stretched with Argon2id
}

func (c Credential) crypt() crypt.Credential {
	return crypt.Credential{Key: c.Key, Passphrase: c.Passphrase}
}

// KeySlot describes one of the file's key slots; it reveals nothing secret.
type KeySlot struct {
	Index      int    // the slot's position, as AddKeySlot, ReplaceKeySlot and RemoveKeySlot take it
	Passphrase bool   // a passphrase slot; otherwise a raw-key slot
	KDFTime    uint32 // Argon2id passes of a passphrase slot
	KDFMemory  uint32 // Argon2id memory in KiB of a passphrase slot
	KDFThreads uint8  // Argon2id parallelism of a passphrase slot
}

// KeySlots lists the file's non-empty key slots.
func (db *DB) KeySlots() []KeySlot {
	var out []KeySlot
	for i, s := range db.p.Slots() {
		if s.Kind == crypt.SlotEmpty {
			continue
		}
		out = append(out, KeySlot{Index: i, Passphrase: s.Kind == crypt.SlotPassphrase,
			KDFTime: s.KDF.Time, KDFMemory: s.KDF.MemoryKiB, KDFThreads: s.KDF.Threads})
	}
	return out
}

// MaxKeySlots is the number of key slots a file has.
const MaxKeySlots = pager.NumSlots

// AddKeySlot lets cred open the file too, and returns the new slot's index.
// It rewrites only the header: O(1) whatever the file's size, and
// crash-safe (the file opens with the old set of slots or the new one).
func (db *DB) AddKeySlot(cred Credential) (int, error) {
	if err := db.lockWriter(); err != nil {
		return -1, err
	}
	defer db.writer.Unlock()
	return db.p.AddSlot(cred.crypt())
}

// ReplaceKeySlot makes slot i open with cred instead of what opened it
// before, in one crash-safe header rewrite: this is how a passphrase is
// changed. The data is not re-encrypted: someone who kept a copy of the
// old header and knows the old credential can still read the data.
func (db *DB) ReplaceKeySlot(i int, cred Credential) error {
	if err := db.lockWriter(); err != nil {
		return err
	}
	defer db.writer.Unlock()
	return db.p.ReplaceSlot(i, cred.crypt())
}

// RemoveKeySlot empties slot i. The last slot cannot be removed.
func (db *DB) RemoveKeySlot(i int) error {
	if err := db.lockWriter(); err != nil {
		return err
	}
	defer db.writer.Unlock()
	return db.p.RemoveSlot(i)
}

// lockWriter takes the writer lock, held by a write transaction or a header
// rewrite (the two must not interleave).
func (db *DB) lockWriter() error {
	if db.fl == nil {
		return ErrReadOnly
	}
	db.writer.Lock()
	if db.closed.Load() {
		db.writer.Unlock()
		return ErrClosed
	}
	if db.superseded != "" {
		db.writer.Unlock()
		return fmt.Errorf("%w: this database was compacted into %s, which replaces it; open that file to write",
			ErrReadOnly, db.superseded)
	}
	return nil
}
