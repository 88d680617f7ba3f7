package scdb_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/streamcrypt/scdb"
)

// Readers in other processes beside a live writer (issue 12). A writer
// process commits for a few seconds; every commit moves money between the
// accounts of list "acct" (their sum never changes), appends its number to
// list "log" and stamps a few records of list "big" with it, and records it
// as meta/last. Reader processes open the file read-only over and over,
// iterate "big" slowly across many commits, and follow "log": every state
// they see must be one a commit made, checked by those invariants.

const (
	liveAccounts = 40
	liveBig      = 2000
	liveTotal    = liveAccounts * 1000
)

// TestLiveReaders is the parent: it makes the file, starts the writer and
// the readers as processes of this test binary, and waits for them.
func TestLiveReaders(t *testing.T) {
	if os.Getenv("SCDB_LIVE_ROLE") != "" {
		t.Skip("a child process")
	}
	run := 3 * time.Second
	if testing.Short() {
		run = 1500 * time.Millisecond
	}
	path := filepath.Join(t.TempDir(), "live.scdb")
	liveSetup(t, path)
	start := func(role string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLiveChild$", "-test.v")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Env = append(os.Environ(), "SCDB_LIVE_ROLE="+role, "SCDB_LIVE_PATH="+path,
			"SCDB_LIVE_FOR="+run.String())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out
	}
	roles := []string{"writer", "opener", "scanner", "follower"}
	cmds := make([]*exec.Cmd, len(roles))
	outs := make([]*bytes.Buffer, len(roles))
	for i, role := range roles {
		cmds[i], outs[i] = start(role)
	}
	// Midway the writer dies (SIGKILL, whatever it was doing) and another
	// takes over, while the readers go on holding their snapshots: it must
	// not reuse a page they reach although it cannot know which commit
	// freed it.
	time.Sleep(run / 3)
	cmds[0].Process.Kill()
	cmds[0].Wait()
	t.Logf("first writer killed:\n%s", lastLines(outs[0].String(), 1))
	cmds[0], outs[0] = start("writer")
	for i, cmd := range cmds {
		err := cmd.Wait()
		t.Logf("%s:\n%s", roles[i], lastLines(outs[i].String(), 3))
		if err != nil {
			t.Errorf("%s failed: %v\n%s", roles[i], err, outs[i])
		}
	}
	// Whatever the readers held, the file is whole afterwards.
	if _, err := scdb.CheckFile(path, scdb.Options{Key: testKey}); err != nil {
		t.Fatalf("Check after the run: %v", err)
	}
}

func lastLines(s string, n int) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	return string(bytes.Join(lines[max(0, len(lines)-n):], []byte("\n")))
}

func liveSetup(t *testing.T, path string) {
	db := mustCreate(t, path, scdb.Options{Key: testKey})
	defer db.Close()
	err := db.Update(func(tx *scdb.Tx) error {
		for i := range liveAccounts {
			if err := tx.List("acct").Put(fmt.Sprintf("a%03d", i), []byte("1000")); err != nil {
				return err
			}
		}
		for i := range liveBig {
			if err := tx.List("big").Put(fmt.Sprintf("b%05d", i), []byte("0:"+string(bytes.Repeat([]byte("x"), 300)))); err != nil {
				return err
			}
		}
		return tx.List("meta").Put("last", []byte("0"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLiveChild runs one role of TestLiveReaders in a child process.
func TestLiveChild(t *testing.T) {
	role := os.Getenv("SCDB_LIVE_ROLE")
	if role == "" {
		t.Skip("run by TestLiveReaders")
	}
	path := os.Getenv("SCDB_LIVE_PATH")
	d, _ := time.ParseDuration(os.Getenv("SCDB_LIVE_FOR"))
	deadline := time.Now().Add(d)
	switch role {
	case "writer":
		liveWriter(t, path, deadline)
	case "opener":
		liveOpener(t, path, deadline)
	case "scanner":
		liveScanner(t, path, deadline)
	case "follower":
		liveFollower(t, path, deadline)
	}
}

func liveWriter(t *testing.T, path string, deadline time.Time) {
	db := mustOpen(t, path, scdb.Options{Key: testKey})
	defer db.Close()
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 2))
	var n int
	if err := db.View(func(tx *scdb.Tx) error { var err error; n, err = liveInt(tx.List("meta"), "last"); return err }); err != nil {
		t.Fatal(err)
	}
	first := n
	for time.Now().Before(deadline) {
		n++
		err := db.Update(func(tx *scdb.Tx) error {
			from, to := fmt.Sprintf("a%03d", rng.IntN(liveAccounts)), fmt.Sprintf("a%03d", rng.IntN(liveAccounts))
			if err := liveMove(tx.List("acct"), from, to, rng.IntN(50)); err != nil {
				return err
			}
			if _, err := tx.List("log").Append([]byte(strconv.Itoa(n))); err != nil {
				return err
			}
			for range 5 {
				v := fmt.Sprintf("%d:%s", n, bytes.Repeat([]byte("y"), rng.IntN(3000)))
				if err := tx.List("big").Put(fmt.Sprintf("b%05d", rng.IntN(liveBig)), []byte(v)); err != nil {
					return err
				}
			}
			return tx.List("meta").Put("last", []byte(strconv.Itoa(n)))
		})
		if err != nil {
			t.Fatalf("commit %d: %v", n, err)
		}
	}
	t.Logf("writer: commits %d to %d", first+1, n)
}

func liveMove(l *scdb.List, from, to string, amount int) error {
	a, err := liveInt(l, from)
	if err != nil {
		return err
	}
	if err := l.Put(from, []byte(strconv.Itoa(a-amount))); err != nil {
		return err
	}
	b, err := liveInt(l, to)
	if err != nil {
		return err
	}
	return l.Put(to, []byte(strconv.Itoa(b+amount)))
}

func liveInt(l *scdb.List, id string) (int, error) {
	v, err := l.Get(id)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(v))
}

// liveCheck verifies one snapshot: the accounts add up, the log holds
// exactly commits 1..last, no record of "big" carries a later commit.
func liveCheck(tx *scdb.Tx, slow bool) (int, error) {
	last, err := liveInt(tx.List("meta"), "last")
	if err != nil {
		return 0, err
	}
	sum := 0
	for rec, err := range tx.List("acct").All() {
		if err != nil {
			return 0, err
		}
		v, err := rec.Value()
		if err != nil {
			return 0, err
		}
		n, _ := strconv.Atoi(string(v))
		sum += n
	}
	if sum != liveTotal {
		return 0, fmt.Errorf("generation %d: accounts add up to %d, not %d", tx.Generation(), sum, liveTotal)
	}
	if got := tx.List("log").Len(); got != int64(last) {
		return 0, fmt.Errorf("generation %d: log holds %d entries, meta says %d commits", tx.Generation(), got, last)
	}
	i := 0
	for rec, err := range tx.List("big").All() {
		if err != nil {
			return 0, err
		}
		v, err := rec.Value()
		if err != nil {
			return 0, err
		}
		stamp, _, _ := bytes.Cut(v, []byte(":"))
		if n, _ := strconv.Atoi(string(stamp)); n > last {
			return 0, fmt.Errorf("generation %d: %s stamped by commit %d after the last, %d", tx.Generation(), rec.ID(), n, last)
		}
		if i++; slow && i%200 == 0 {
			time.Sleep(20 * time.Millisecond) // let many commits pass under the scan
		}
	}
	if i != liveBig {
		return 0, fmt.Errorf("generation %d: big holds %d records", tx.Generation(), i)
	}
	return last, nil
}

// liveOpener opens the file read-only again and again, checking a snapshot
// each time.
func liveOpener(t *testing.T, path string, deadline time.Time) {
	opens, lastSeen := 0, -1
	for time.Now().Before(deadline) || opens < 100 {
		db, err := scdb.Open(path, scdb.Options{Key: testKey, ReadOnly: true})
		if err != nil {
			t.Fatalf("open %d: %v", opens, err)
		}
		err = db.View(func(tx *scdb.Tx) error {
			last, err := liveCheck(tx, false)
			if last < lastSeen {
				return fmt.Errorf("commit %d seen after %d", last, lastSeen)
			}
			lastSeen = last
			return err
		})
		db.Close()
		if err != nil {
			t.Fatalf("open %d: %v", opens, err)
		}
		opens++
	}
	t.Logf("opener: %d opens, last commit seen %d", opens, lastSeen)
}

// liveScanner holds one DB and takes slow snapshots that span many
// commits.
func liveScanner(t *testing.T, path string, deadline time.Time) {
	db := mustOpen(t, path, scdb.Options{Key: testKey, ReadOnly: true})
	defer db.Close()
	scans, spanned := 0, 0
	for time.Now().Before(deadline) || scans == 0 {
		before := 0
		err := db.View(func(tx *scdb.Tx) error {
			var err error
			before, err = liveCheck(tx, true)
			return err
		})
		if err != nil {
			t.Fatalf("scan %d: %v", scans, err)
		}
		var now int
		err = db.View(func(tx *scdb.Tx) error { var err error; now, err = liveInt(tx.List("meta"), "last"); return err })
		if err != nil {
			t.Fatal(err)
		}
		spanned = max(spanned, now-before)
		scans++
	}
	t.Logf("scanner: %d slow scans, the longest spanned %d commits", scans, spanned)
}

// liveFollower follows "log" and checks it sees every commit in order.
func liveFollower(t *testing.T, path string, deadline time.Time) {
	db := mustOpen(t, path, scdb.Options{Key: testKey, ReadOnly: true})
	defer db.Close()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	want := 1
	for rec, err := range db.Follow(ctx, "log", "") {
		if err != nil {
			t.Fatal(err)
		}
		v, err := rec.Value()
		if err != nil {
			t.Fatal(err)
		}
		if string(v) != strconv.Itoa(want) {
			t.Fatalf("followed entry %s holds %q, want commit %d", rec.ID(), v, want)
		}
		want++
	}
	if ctx.Err() == nil || want < 10 {
		t.Fatalf("follow ended early after %d entries: %v", want-1, ctx.Err())
	}
	t.Logf("follower: saw %d commits in order", want-1)
}
