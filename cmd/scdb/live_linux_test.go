package main

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestReadCommandsOnLiveFile: every read-only command works on a file that
// a writer (another open of the file, as another process would be) keeps
// committing to, and reports a committed state.
func TestReadCommandsOnLiveFile(t *testing.T) {
	path := newFile(t)
	mustRun(t, keyEnv(), "", "put", path, "l", "seed", "v")
	db := openTest(t, path, false)
	defer db.Close()
	var stop atomic.Bool
	var commits atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if err := db.Put("l", fmt.Sprintf("k%05d", i%500), []byte(strings.Repeat("z", i%5000))); err != nil {
				t.Errorf("writer: %v", err)
				return
			}
			commits.Add(1)
		}
	}()
	for round := 0; round < 5 || (commits.Load() < 50 && round < 5000); round++ {
		mustRun(t, keyEnv(), "", "lists", path)
		mustRun(t, keyEnv(), "", "ls", path, "l")
		if r := mustRun(t, keyEnv(), "", "get", path, "l", "seed"); r.stdout != "v" {
			t.Errorf("get: %q", r.stdout)
		}
		mustRun(t, keyEnv(), "", "export", path, "l")
		mustRun(t, keyEnv(), "", "stats", path)
		if r := mustRun(t, keyEnv(), "", "check", path); strings.Contains(r.stdout, "leaked") && !strings.Contains(r.stdout, "0 leaked") {
			t.Errorf("check on a live file: %s", r.stdout)
		}
	}
	stop.Store(true)
	wg.Wait()
	if commits.Load() < 50 {
		t.Fatalf("only %d commits while the commands ran", commits.Load())
	}
	t.Logf("%d commits while the read commands ran", commits.Load())
}
