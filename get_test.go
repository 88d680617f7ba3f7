package scdb_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/streamcrypt/scdb"
)

// db.Get recycles its snapshots and what they looked up: each Get still
// reads the last commit, whether the commit changed the value, created or
// emptied the list, or replaced it; values it returns are the caller's.
func TestGetSeesEveryCommit(t *testing.T) {
	db := newDB(t, scdb.Options{CacheSize: 16 << 10})
	for i := range 200 {
		list := fmt.Sprintf("l%d", i%3)
		v := fill(1+i*37%3000, uint64(i))
		mustPut(t, db, list, "k", v)
		got, err := db.Get(list, "k")
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("step %d: Get after Put = %d bytes, %v; want %d bytes", i, len(got), err, len(v))
		}
		got[0] ^= 0xff // the caller's own copy
		if i%5 == 4 {
			if err := db.Update(func(tx *scdb.Tx) error { return tx.DeleteList(list) }); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Get(list, "k"); !errors.Is(err, scdb.ErrNotFound) {
				t.Fatalf("step %d: Get from a dropped list: %v", i, err)
			}
		}
	}
}

// Concurrent Gets beside a writer (run with -race): every Get returns a
// value some commit stored, never a mix, and nothing is shared between
// callers.
func TestGetConcurrentWithCommits(t *testing.T) {
	db := newDB(t)
	val := func(i, gen int) []byte { return bytes.Repeat([]byte{byte(i), byte(gen)}, 50+i%300) }
	const ids = 40
	for i := range ids {
		mustPut(t, db, "l", fmt.Sprint(i), val(i, 0))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				i := (n*7 + g) % ids
				v, err := db.Get("l", fmt.Sprint(i))
				if err != nil {
					t.Error(err)
					return
				}
				if len(v) != 2*(50+i%300) || v[0] != byte(i) || !bytes.Equal(v, val(i, int(v[1]))) {
					t.Errorf("id %d: Get returned %d bytes that no commit stored", i, len(v))
					return
				}
				clear(v)
			}
		}()
	}
	for gen := 1; gen <= 100; gen++ {
		mustPut(t, db, "l", fmt.Sprint(gen%ids), val(gen%ids, gen))
	}
	close(stop)
	wg.Wait()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get("l", "1"); !errors.Is(err, scdb.ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}
