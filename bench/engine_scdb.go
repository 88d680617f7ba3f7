package main

// scdb with its defaults (4 KiB pages, fsync at commit, 64 MiB cache) under a
// raw 32-byte key, written the way its README shows.

import (
	"io"
	"os"
	"path/filepath"

	"github.com/streamcrypt/scdb"
)

var scdbDriver = Driver{Name: "scdb", Label: "scdb, durable defaults, 4 KiB pages, raw 32-byte key", Open: openSCDB}

type scdbEngine struct{ db *scdb.DB }

func openSCDB(dir string, create, keepFree bool) (Engine, error) {
	path := filepath.Join(dir, "data.scdb")
	opts := scdb.Options{Key: benchKey, KeepFreeSpace: keepFree}
	var db *scdb.DB
	var err error
	if create {
		if err = os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		db, err = scdb.Create(path, opts)
	} else {
		db, err = scdb.Open(path, opts)
	}
	if err != nil {
		return nil, err
	}
	return &scdbEngine{db: db}, nil
}

func (e *scdbEngine) PutBatch(recs []KV) error {
	return e.db.Update(func(tx *scdb.Tx) error {
		for _, r := range recs {
			if err := tx.List(r.List).Put(r.ID, r.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *scdbEngine) DeleteBatch(recs []KV) error {
	return e.db.Update(func(tx *scdb.Tx) error {
		for _, r := range recs {
			if err := tx.List(r.List).Delete(r.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *scdbEngine) Get(list, id string) ([]byte, error) { return e.db.Get(list, id) }

func (e *scdbEngine) Scan(fn func(list, id string, value []byte) error) error {
	return e.db.View(func(tx *scdb.Tx) error {
		// Names first: a list is then iterated with no other iterator open.
		var names []string
		for name, err := range tx.Lists() {
			if err != nil {
				return err
			}
			names = append(names, name)
		}
		// Each lends the id and value for the call, as the bbolt engine
		// lends its one decryption buffer: the digest copies nothing.
		for _, name := range names {
			err := tx.List(name).Each(func(id, value []byte) error {
				return fn(name, string(id), value)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *scdbEngine) PutHuge(list, id string, r io.Reader, _ int64) error {
	return e.db.Update(func(tx *scdb.Tx) error { return tx.List(list).PutReader(id, r) })
}

func (e *scdbEngine) GetHuge(list, id string, w io.Writer) (int64, error) {
	var n int64
	err := e.db.View(func(tx *scdb.Tx) error {
		rec, err := tx.List(list).Open(id)
		if err != nil {
			return err
		}
		n, err = io.Copy(w, rec.Reader())
		return err
	})
	return n, err
}

// batcher is the group-commit call scdb may grow (issue 9); asserting it at
// run time keeps this module building against a library without it.
type batcher interface {
	Batch(fn func(tx *scdb.Tx) error) error
}

func (e *scdbEngine) GroupPut(list, id string, value []byte) error {
	b, ok := any(e.db).(batcher)
	if !ok {
		return errNoGroupCommit
	}
	return b.Batch(func(tx *scdb.Tx) error { return tx.List(list).Put(id, value) })
}

func (e *scdbEngine) Close() error { return e.db.Close() }
