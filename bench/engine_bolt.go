package main

// bbolt with each value sealed by XChaCha20-Poly1305: the store a Go
// programmer builds by hand. List names and ids are in the clear (bucket
// names and keys); a value is stored as nonce‖ciphertext‖tag, with a random
// 24-byte nonce and the list and id bound in as additional data, so a value
// moved to another key fails to open.

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/chacha20poly1305"
)

var boltDriver = Driver{Name: "bbolt+AEAD", Label: "bbolt v1.5.0 defaults (fsync at commit), values sealed with XChaCha20-Poly1305, names and ids in the clear",
	Open: openBolt, HugeHeld: true}

type boltEngine struct {
	db   *bolt.DB
	aead cipher.AEAD
	buf  []byte // Scan's plaintext buffer, reused record to record
}

func openBolt(dir string, create, _ bool) (Engine, error) {
	path := filepath.Join(dir, "data.bolt")
	if create {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(benchKey)
	if err != nil {
		return nil, err
	}
	return &boltEngine{db: db, aead: aead}, nil
}

// ad is the additional data: list‖0x00‖id (list names hold no NUL).
func ad(list, id string) []byte {
	b := make([]byte, 0, len(list)+1+len(id))
	b = append(b, list...)
	b = append(b, 0)
	return append(b, id...)
}

func (e *boltEngine) seal(list, id string, value []byte) ([]byte, error) {
	out := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(value)+e.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return e.aead.Seal(out, out, value, ad(list, id)), nil
}

func (e *boltEngine) open(dst []byte, list, id string, sealed []byte) ([]byte, error) {
	if len(sealed) < chacha20poly1305.NonceSizeX+e.aead.Overhead() {
		return nil, fmt.Errorf("%s/%s: sealed value too short", list, id)
	}
	n := chacha20poly1305.NonceSizeX
	return e.aead.Open(dst, sealed[:n], sealed[n:], ad(list, id))
}

func (e *boltEngine) PutBatch(recs []KV) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		for _, r := range recs {
			b, err := tx.CreateBucketIfNotExists([]byte(r.List))
			if err != nil {
				return err
			}
			sealed, err := e.seal(r.List, r.ID, r.Value)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(r.ID), sealed); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *boltEngine) DeleteBatch(recs []KV) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		for _, r := range recs {
			b := tx.Bucket([]byte(r.List))
			if b == nil || b.Get([]byte(r.ID)) == nil {
				return fmt.Errorf("%s/%s: not found", r.List, r.ID)
			}
			if err := b.Delete([]byte(r.ID)); err != nil {
				return err
			}
		}
		return nil
	})
}

var errBoltNotFound = errors.New("not found")

func (e *boltEngine) Get(list, id string) ([]byte, error) {
	var v []byte
	err := e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(list))
		if b == nil {
			return errBoltNotFound
		}
		sealed := b.Get([]byte(id))
		if sealed == nil {
			return errBoltNotFound
		}
		var err error
		v, err = e.open(nil, list, id, sealed)
		return err
	})
	return v, err
}

func (e *boltEngine) Scan(fn func(list, id string, value []byte) error) error {
	return e.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			list := string(name)
			c := b.Cursor()
			for k, sealed := c.First(); k != nil; k, sealed = c.Next() {
				id := string(k)
				v, err := e.open(e.buf[:0], list, id, sealed)
				if err != nil {
					return err
				}
				e.buf = v
				if err := fn(list, id, v); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// PutHuge must hold the value whole: bbolt takes a value as one slice, and
// one AEAD seal covers it (chunking it would be a format of one's own).
func (e *boltEngine) PutHuge(list, id string, r io.Reader, size int64) error {
	value := make([]byte, size)
	if _, err := io.ReadFull(r, value); err != nil {
		return err
	}
	return e.PutBatch([]KV{{List: list, ID: id, Value: value}})
}

func (e *boltEngine) GetHuge(list, id string, w io.Writer) (int64, error) {
	v, err := e.Get(list, id)
	if err != nil {
		return 0, err
	}
	n, err := w.Write(v)
	return int64(n), err
}

// GroupPut uses bolt's DB.Batch, which coalesces concurrent callers into one
// transaction and one fsync.
func (e *boltEngine) GroupPut(list, id string, value []byte) error {
	sealed, err := e.seal(list, id, value)
	if err != nil {
		return err
	}
	return e.db.Batch(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(list))
		if err != nil {
			return err
		}
		return b.Put([]byte(id), sealed)
	})
}

func (e *boltEngine) Close() error { return e.db.Close() }
