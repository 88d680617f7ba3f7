//go:build ignore

// livego is the Go side of python/tests/test_live.py (FORMAT.md §9.5: a file
// shared live between processes). The ignore tag keeps it out of the scdb
// module's packages; the tests build it with
// `go build -o BIN python/tests/livego.go` from the repository root.
//
//	livego write FILE MILLISECONDS   commit the workload continuously; print the commit count
//	livego hold FILE                 hold one read snapshot: print "ready N DIGEST", wait for a
//	                                 line on stdin, read the snapshot again, print "done N DIGEST"
//
// The key is SCDB_KEY (64 hex digits). Commit j of the workload (the
// Python tests apply the same one): state/n = j; data/%04d(j mod 50) =
// value(j, j mod 50); when j mod 3 == 0, delete data/%04d((j+25) mod 50)
// if it is there.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/streamcrypt/scdb"
)

var sizes = [4]int{10, 300, 2500, 7000}

func value(j, k int) []byte {
	p := fmt.Sprintf("%d:%d;", j, k)
	n := sizes[j%4]
	return []byte(strings.Repeat(p, n/len(p)+1)[:n])
}

func commit(tx *scdb.Tx, j int) error {
	if err := tx.List("state").Put("n", []byte(strconv.Itoa(j))); err != nil {
		return err
	}
	if err := tx.List("data").Put(fmt.Sprintf("%04d", j%50), value(j, j%50)); err != nil {
		return err
	}
	if j%3 == 0 {
		err := tx.List("data").Delete(fmt.Sprintf("%04d", (j+25)%50))
		if err != nil && !errors.Is(err, scdb.ErrNotFound) {
			return err
		}
	}
	return nil
}

// snapshot returns state/n and the digest of list data (sha256 over id,
// 0, 8-byte little-endian length, value, in id order).
func snapshot(tx *scdb.Tx) (int, string, error) {
	n := 0
	if v, err := tx.List("state").Get("n"); err == nil {
		if n, err = strconv.Atoi(string(v)); err != nil {
			return 0, "", err
		}
	} else if !errors.Is(err, scdb.ErrNotFound) {
		return 0, "", err
	}
	h := sha256.New()
	for rec, err := range tx.List("data").All() {
		if err != nil {
			return 0, "", err
		}
		v, err := rec.Value()
		if err != nil {
			return 0, "", err
		}
		h.Write([]byte(rec.ID()))
		h.Write([]byte{0})
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(v))))
		h.Write(v)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "livego:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	key, err := hex.DecodeString(os.Getenv("SCDB_KEY"))
	if err != nil {
		return err
	}
	switch {
	case len(args) == 3 && args[0] == "write":
		ms, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		db, err := scdb.Open(args[1], scdb.Options{Key: key, NoSync: true})
		if err != nil {
			return err
		}
		defer db.Close()
		var j int
		if err := db.View(func(tx *scdb.Tx) error { j, _, err = snapshot(tx); return err }); err != nil {
			return err
		}
		commits := 0
		for end := time.Now().Add(time.Duration(ms) * time.Millisecond); time.Now().Before(end); commits++ {
			j++
			if err := db.Update(func(tx *scdb.Tx) error { return commit(tx, j) }); err != nil {
				return fmt.Errorf("commit %d: %w", j, err)
			}
		}
		fmt.Println(commits, j)
		return db.Close()
	case len(args) == 2 && args[0] == "hold":
		db, err := scdb.Open(args[1], scdb.Options{Key: key, ReadOnly: true})
		if err != nil {
			return err
		}
		defer db.Close()
		tx, err := db.Begin(false)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		n, d, err := snapshot(tx)
		if err != nil {
			return err
		}
		fmt.Println("ready", n, d, tx.Generation())
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			return err
		}
		n2, d2, err := snapshot(tx)
		if err != nil {
			return fmt.Errorf("reading the held snapshot again: %w", err)
		}
		fmt.Println("done", n2, d2, tx.Generation())
		return nil
	}
	return errors.New("usage: livego write FILE MS | livego hold FILE")
}
