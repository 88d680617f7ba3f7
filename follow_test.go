package scdb_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/streamcrypt/scdb"
)

// Follow yields what is there after the given id, then each commit's new
// records as they come, and ends quietly when the context ends.
func TestFollow(t *testing.T) {
	db := newDB(t)
	var ids []string
	appendN := func(n int) {
		t.Helper()
		err := db.Update(func(tx *scdb.Tx) error {
			for range n {
				id, err := tx.List("q").Append([]byte(fmt.Sprint(len(ids))))
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	appendN(3)
	mustPut(t, db, "other", "x", nil) // a commit that adds nothing to q
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string)
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for rec, err := range db.Follow(ctx, "q", ids[0]) {
			if err != nil {
				done <- err
				return
			}
			v, err := rec.Value()
			if err != nil || string(v) == "" {
				done <- fmt.Errorf("value of %q: %q, %v", rec.ID(), v, err)
				return
			}
			got <- rec.ID()
		}
	}()
	expect := func(want ...string) {
		t.Helper()
		for _, id := range want {
			select {
			case g := <-got:
				if g != id {
					t.Fatalf("Follow yielded %q, want %q", g, id)
				}
			case err := <-done:
				t.Fatalf("Follow ended before %q: %v", id, err)
			case <-time.After(10 * time.Second):
				t.Fatalf("Follow did not yield %q", id)
			}
		}
	}
	expect(ids[1], ids[2]) // after ids[0]
	appendN(2)
	expect(ids[3], ids[4])
	mustPut(t, db, "q", "0", []byte("an id before the position: not seen"))
	appendN(1)
	expect(ids[5])
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Follow ended with %v after the context was cancelled, want no error", err)
		}
	case g := <-got:
		t.Errorf("Follow yielded %q after the context was cancelled", g)
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not end when its context was cancelled")
	}
}

// Close wakes a waiting Follow, which ends with ErrClosed.
func TestFollowEndsAtClose(t *testing.T) {
	db := newDB(t)
	done := make(chan error, 1)
	go func() {
		for _, err := range db.Follow(context.Background(), "q", "") {
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	time.Sleep(20 * time.Millisecond) // let it wait; it must end either way
	mustClose(t, db)
	select {
	case err := <-done:
		if !errors.Is(err, scdb.ErrClosed) {
			t.Errorf("Follow after Close: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not end at Close")
	}
}
