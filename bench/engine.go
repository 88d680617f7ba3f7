package main

// The engines compared, behind the smallest interface the workloads need.
// Each implementation is what a Go programmer would write by hand against
// that store's public API, durable (fsync at every commit).

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
)

// KV is one record to write. Value is ignored by DeleteBatch.
type KV struct {
	List, ID string // where the record goes
	Value    []byte // its value
}

// Engine is an open store.
type Engine interface {
	// PutBatch writes recs in one durable transaction.
	PutBatch(recs []KV) error
	// DeleteBatch removes recs in one durable transaction.
	DeleteBatch(recs []KV) error
	// Get returns a value from a read transaction of its own.
	Get(list, id string) ([]byte, error)
	// Scan calls fn for every record of every list, lists and ids in byte
	// order, from one read transaction. value is valid during the call only.
	Scan(fn func(list, id string, value []byte) error) error
	// PutHuge writes one value of size bytes read from r, in one durable
	// transaction, holding as little of it as the store allows.
	PutHuge(list, id string, r io.Reader, size int64) error
	// GetHuge copies one value to w.
	GetHuge(list, id string, w io.Writer) (int64, error)
	// GroupPut writes one record in a durable commit that the store may
	// share with concurrent callers; errNoGroupCommit if it has no such call.
	GroupPut(list, id string, value []byte) error
	Close() error
}

var errNoGroupCommit = errors.New("no group commit in this store's API")

// Driver creates or opens an engine whose files all live in dir.
type Driver struct {
	Name  string // column name in the report
	Label string // a longer description for the report's footnote
	// Open opens (or creates) the store in dir. keepFree asks a store that
	// gives free space back when it closes not to (see Workload.KeepFree).
	Open func(dir string, create, keepFree bool) (Engine, error)
	// HugeHeld says that a huge value is held whole in memory, for the table.
	HugeHeld bool
}

var drivers = []Driver{scdbDriver, boltDriver, badgerDriver}

func driverByName(name string) (Driver, error) {
	for _, d := range drivers {
		if d.Name == name {
			return d, nil
		}
	}
	return Driver{}, fmt.Errorf("unknown engine %q", name)
}

// benchKey is the 32-byte key every engine encrypts under: fixed, because
// key derivation is not what is measured (scdb's raw-key slot uses HKDF, not
// Argon2id).
var benchKey = func() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i*7 + 1)
	}
	return k
}()

// dirBytes returns the total size of the files under dir: an engine's whole
// footprint, whatever files it keeps.
func dirBytes(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	return total, err
}
