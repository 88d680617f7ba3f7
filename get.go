package scdb

import "github.com/streamcrypt/scdb/dirtree"

// DB.Get runs in a read snapshot of its own that the caller never sees, so
// its Tx can be recycled: a sync.Pool keeps them with one scratch buffer
// each, and with the directory tree and the list states they read, which
// stay valid while the next Get reads the same committed state (the same
// pager.Meta; every commit has its own). A get on a warm Tx then costs the
// snapshot's registration, one lookup in the list's tree and the copy of
// the value: the list's directory entry is not looked up again.

// maxGetLists bounds the list states a recycled Get transaction keeps.
const maxGetLists = 64

// beginGet returns a read snapshot of the last commit for Get.
func (db *DB) beginGet() (*Tx, error) {
	meta, err := db.snapshot()
	if err != nil {
		return nil, err
	}
	tx, _ := db.gets.Get().(*Tx)
	if tx == nil {
		tx = &Tx{db: db, shared: make([]byte, db.p.PayloadSize())}
	}
	if tx.dir == nil || tx.meta != meta || len(tx.lists) > maxGetLists {
		tx.meta = meta
		tx.rd = snapshotReader{db.p, meta.PageCount}
		tx.dir = dirtree.Open(tx.rd, meta.Tree)
		tx.dir.SetScratch(tx.shared)
		tx.lists = nil
	}
	tx.done = false
	tx.managed = true
	return tx, nil
}

// endGet ends Get's snapshot and keeps its Tx for the next Get.
func (db *DB) endGet(tx *Tx) {
	tx.done = true
	db.endRead(tx.meta.Gen)
	db.gets.Put(tx)
}
