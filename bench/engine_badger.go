package main

// Badger v4 with its own encryption (WithEncryptionKey) and a durable commit
// (WithSyncWrites), other options at their defaults except logging. Keys are
// list‖0x00‖id, so one iteration over the key space walks every list in
// order, as the other engines do.

import (
	"bytes"
	"errors"
	"io"
	"os"

	badger "github.com/dgraph-io/badger/v4"
)

var badgerDriver = Driver{Name: "badger", Label: "Badger v4.9.6, WithEncryptionKey (32 bytes), WithSyncWrites(true), 64 MiB index cache, other options default (Snappy compression, 256 MiB block cache)",
	Open: openBadger, HugeHeld: true}

type badgerEngine struct{ db *badger.DB }

func openBadger(dir string, create, _ bool) (Engine, error) {
	if !create {
		// Badger creates a missing directory; a missing fixture is an error here.
		if _, err := os.Stat(dir); err != nil {
			return nil, err
		}
	}
	opts := badger.DefaultOptions(dir).
		WithEncryptionKey(benchKey).
		// Badger keeps the tables' indexes in memory unless given a cache; with
		// encryption on, its docs ask for one.
		WithIndexCacheSize(64 << 20).
		WithSyncWrites(true).
		WithLogger(nil)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, err
	}
	return &badgerEngine{db: db}, nil
}

func badgerKey(list, id string) []byte {
	k := make([]byte, 0, len(list)+1+len(id))
	k = append(k, list...)
	k = append(k, 0)
	return append(k, id...)
}

// update runs fn over recs in as few transactions as Badger accepts: a
// transaction is capped (15 % of the memtable), and a user who hits
// ErrTxnTooBig commits and carries on in a new one.
func (e *badgerEngine) update(recs []KV, fn func(txn *badger.Txn, r KV) error) error {
	txn := e.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for _, r := range recs {
		err := fn(txn, r)
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err = txn.Commit(); err != nil {
				return err
			}
			txn = e.db.NewTransaction(true)
			err = fn(txn, r)
		}
		if err != nil {
			return err
		}
	}
	return txn.Commit()
}

func (e *badgerEngine) PutBatch(recs []KV) error {
	return e.update(recs, func(txn *badger.Txn, r KV) error {
		return txn.Set(badgerKey(r.List, r.ID), r.Value)
	})
}

func (e *badgerEngine) DeleteBatch(recs []KV) error {
	return e.update(recs, func(txn *badger.Txn, r KV) error {
		return txn.Delete(badgerKey(r.List, r.ID))
	})
}

func (e *badgerEngine) Get(list, id string) ([]byte, error) {
	var v []byte
	err := e.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(badgerKey(list, id))
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	return v, err
}

func (e *badgerEngine) Scan(fn func(list, id string, value []byte) error) error {
	return e.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			sep := bytes.IndexByte(k, 0)
			if sep < 0 {
				return errors.New("badger: key without a list separator")
			}
			list, id := string(k[:sep]), string(k[sep+1:])
			if err := item.Value(func(v []byte) error { return fn(list, id, v) }); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutHuge holds the value whole: Badger takes a value as one slice.
func (e *badgerEngine) PutHuge(list, id string, r io.Reader, size int64) error {
	value := make([]byte, size)
	if _, err := io.ReadFull(r, value); err != nil {
		return err
	}
	return e.PutBatch([]KV{{List: list, ID: id, Value: value}})
}

func (e *badgerEngine) GetHuge(list, id string, w io.Writer) (int64, error) {
	var n int
	err := e.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(badgerKey(list, id))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			n, err = w.Write(v)
			return err
		})
	})
	return int64(n), err
}

// GroupPut is a plain Update: Badger's writer goroutine already coalesces
// the commits of concurrent transactions into one write and one fsync.
func (e *badgerEngine) GroupPut(list, id string, value []byte) error {
	return e.db.Update(func(txn *badger.Txn) error { return txn.Set(badgerKey(list, id), value) })
}

func (e *badgerEngine) Close() error { return e.db.Close() }
