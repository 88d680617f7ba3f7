package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/streamcrypt/scdb"
)

// TestBackupLiveFile: scdb backup of a file that another open (as another
// process would have it) keeps committing to. Every backup passes the
// command's own check and holds exactly the committed state of its
// generation.
func TestBackupLiveFile(t *testing.T) {
	path := newFile(t)
	db := openTest(t, path, false)
	defer db.Close()
	var (
		mu     sync.Mutex
		states = map[uint64]map[string][32]byte{db.Generation(): {}}
		stop   atomic.Bool
		werr   = make(chan error, 1)
	)
	go func() {
		rng := rand.New(rand.NewPCG(3, 4))
		model := map[string][32]byte{}
		for !stop.Load() {
			next := maps.Clone(model)
			err := db.Update(func(tx *scdb.Tx) error {
				for range 1 + rng.IntN(5) {
					id := fmt.Sprintf("k%03d", rng.IntN(200))
					if rng.IntN(3) == 0 {
						if err := tx.List("l").Delete(id); err != nil && !errors.Is(err, scdb.ErrNotFound) {
							return err
						}
						delete(next, id)
						continue
					}
					v := make([]byte, rng.IntN(20_000))
					for i := range v {
						v[i] = byte(rng.Uint32())
					}
					if err := tx.List("l").Put(id, v); err != nil {
						return err
					}
					next[id] = sha256.Sum256(v)
				}
				return nil
			})
			if err != nil {
				werr <- err
				return
			}
			model = next
			mu.Lock()
			states[db.Generation()] = maps.Clone(model)
			mu.Unlock()
		}
		werr <- nil
	}()

	dir := t.TempDir()
	var dsts []string
	for i := range 8 {
		dst := filepath.Join(dir, fmt.Sprintf("b%d.scdb", i))
		mustRun(t, keyEnv(), "", "backup", path, dst)
		dsts = append(dsts, dst)
	}
	stop.Store(true)
	if err := <-werr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	gens := map[uint64]bool{}
	for _, dst := range dsts {
		b := openTest(t, dst, true)
		gen := b.Generation()
		got := map[string][32]byte{}
		for rec, err := range b.Records("l") {
			if err != nil {
				t.Fatalf("%s: %v", dst, err)
			}
			v, err := rec.Value()
			if err != nil {
				t.Fatalf("%s: %v", dst, err)
			}
			got[rec.ID()] = sha256.Sum256(v)
		}
		b.Close()
		want, ok := states[gen]
		switch {
		case !ok:
			t.Errorf("%s opens at generation %d, which no commit made", filepath.Base(dst), gen)
		case !maps.Equal(got, want):
			t.Errorf("%s holds %d records, not the %d of generation %d's commit", filepath.Base(dst), len(got), len(want), gen)
		}
		gens[gen] = true
	}
	if len(gens) < 2 {
		t.Errorf("the backups saw %d generation(s): the writer did not commit beside them", len(gens))
	}
	t.Logf("%d backups of %d distinct generations over %d commits", len(dsts), len(gens), len(states))
}
