package scdb_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/streamcrypt/scdb"
)

// aheadList fills list "l" with values large enough for chains (2 KiB to
// 90 KiB), small ones between them, and one too large to read ahead, and
// returns them by id.
func aheadList(t *testing.T, db *scdb.DB) map[string][]byte {
	t.Helper()
	want := map[string][]byte{}
	err := db.Update(func(tx *scdb.Tx) error {
		l := tx.List("l")
		for i := range 120 {
			size := 2048 + i*750
			switch {
			case i%7 == 3:
				size = 40
			case i == 60:
				size = 600 << 10
			}
			v := bytes.Repeat([]byte{byte(i), byte(i >> 3), 0x5a}, size/3+1)[:size]
			id := fmt.Sprintf("r%04d", i)
			want[id] = v
			if err := l.Put(id, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// TestLoopReadsLargeValuesAhead: a forward loop that reads its values
// gets them from the read-ahead, and every value is right, whichever way
// it is read: read at its step (Reader, Value, Seek and ReadAt),
// on another goroutine, or after the loop; with Each; with From and
// Prefix.
func TestLoopReadsLargeValuesAhead(t *testing.T) {
	db := newDB(t)
	want := aheadList(t, db)
	check := func(what, id string, got []byte, err error) {
		t.Helper()
		if err != nil || !bytes.Equal(got, want[id]) {
			t.Fatalf("%s %s: %d bytes (want %d), err %v", what, id, len(got), len(want[id]), err)
		}
	}

	n := 0
	for rec, err := range db.Records("l") {
		if err != nil {
			t.Fatal(err)
		}
		// Once the first value was read, the ones after the next are
		// read ahead: wait for one, without timing the goroutine.
		if n == 2 && !scdb.WaitReadAhead(rec) {
			t.Fatalf("%s was not read ahead", rec.ID())
		}
		var buf bytes.Buffer
		_, err = io.Copy(&buf, rec.Reader())
		check("Reader", rec.ID(), buf.Bytes(), err)
		if n == 2 && !scdb.ReadAhead(rec) {
			t.Fatalf("%s, decrypted ahead, was read from its pages", rec.ID())
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("streamed %d records, want %d", n, len(want))
	}

	err := db.View(func(tx *scdb.Tx) error {
		var kept []*scdb.Record
		var wg sync.WaitGroup
		errc := make(chan error, len(want))
		i := 0
		for rec, err := range tx.List("l").All() {
			if err != nil {
				return err
			}
			switch i++; i % 10 {
			case 0:
				kept = append(kept, rec)
			case 1:
				wg.Go(func() {
					if v, err := rec.Value(); err != nil || !bytes.Equal(v, want[rec.ID()]) {
						errc <- fmt.Errorf("value of %s on another goroutine: %d bytes, %v", rec.ID(), len(v), err)
					}
				})
			case 2:
				vr := rec.Reader()
				at := vr.Size() / 3
				head := make([]byte, at)
				if _, err := vr.ReadAt(head, 0); err != nil {
					return err
				}
				if _, err := vr.Seek(at, io.SeekStart); err != nil {
					return err
				}
				tail, err := io.ReadAll(vr)
				check("ReadAt and Seek", rec.ID(), append(head, tail...), err)
				if _, err := vr.Seek(0, io.SeekStart); err != nil {
					return err
				}
				all, err := io.ReadAll(vr)
				check("Reader after Seek(0)", rec.ID(), all, err)
			default:
				v, err := rec.Value()
				check("Value", rec.ID(), v, err)
			}
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			return err
		}
		for _, rec := range kept {
			v, err := rec.Value()
			check("Value after the loop", rec.ID(), v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	err = db.View(func(tx *scdb.Tx) error {
		n = 0
		if err := tx.List("l").Each(func(id, v []byte) error {
			check("Each", string(id), v, nil)
			n++
			return nil
		}); err != nil || n != len(want) {
			return fmt.Errorf("Each: %d records, %v", n, err)
		}
		stop := errors.New("stop")
		if err := tx.List("l").Each(func(id, v []byte) error { return stop }); err != stop {
			return fmt.Errorf("Each returned %v, want fn's error", err)
		}
		for rec, err := range tx.List("l").From("r0050") {
			if err != nil {
				return err
			}
			v, err := rec.Value()
			check("From", rec.ID(), v, err)
			if rec.ID() == "r0070" {
				break
			}
		}
		for rec, err := range tx.List("l").Prefix("r001") {
			if err != nil {
				return err
			}
			v, err := rec.Value()
			check("Prefix", rec.ID(), v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoopReadAheadEndsWithItsSnapshot: a record from db.Records kept past
// its step fails as before (ErrTxDone), read ahead or not, and a loop left
// early leaves nothing running that a later commit could disturb.
func TestLoopReadAheadEndsWithItsSnapshot(t *testing.T) {
	db := newDB(t)
	want := aheadList(t, db)
	var kept []*scdb.Record
	i := 0
	for rec, err := range db.Records("l") {
		if err != nil {
			t.Fatal(err)
		}
		if i++; i < 20 {
			if _, err := io.Copy(io.Discard, rec.Reader()); err != nil {
				t.Fatal(err)
			}
			continue
		}
		kept = append(kept, rec)
		if i == 25 {
			break
		}
	}
	for _, rec := range kept {
		if _, err := rec.Value(); !errors.Is(err, scdb.ErrTxDone) {
			t.Fatalf("Value of %s after its loop: %v, want ErrTxDone", rec.ID(), err)
		}
	}
	// Rewrite every value: pages the loop's snapshot held are reused.
	err := db.Update(func(tx *scdb.Tx) error {
		for id, v := range want {
			if err := tx.List("l").Put(id, append(v[:len(v):len(v)], 1)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestLoopValueHoldsLittleMoreThanItself: Record.Value gives away the
// buffer a value was read ahead into; after a loop over large values has
// put its buffers back for reuse, a small value kept must not keep a large
// buffer alive (a found review bug: 3000-byte values in 250 KiB buffers).
func TestLoopValueHoldsLittleMoreThanItself(t *testing.T) {
	db := newDB(t)
	err := db.Update(func(tx *scdb.Tx) error {
		for i := range 20 {
			if err := tx.List("big").Put(fmt.Sprintf("b%03d", i), bytes.Repeat([]byte{byte(i)}, 250<<10)); err != nil {
				return err
			}
		}
		for i := range 100 {
			if err := tx.List("small").Put(fmt.Sprintf("s%03d", i), bytes.Repeat([]byte{byte(i)}, 3000)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var kept [][]byte
	for range 5 {
		err = db.View(func(tx *scdb.Tx) error {
			// Each lends values read ahead and puts their buffers back.
			if err := tx.List("big").Each(func(id, v []byte) error { return nil }); err != nil {
				return err
			}
			for rec, err := range tx.List("small").All() {
				if err != nil {
					return err
				}
				v, err := rec.Value()
				if err != nil {
					return err
				}
				kept = append(kept, v)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	total, worst := 0, 0
	for _, v := range kept {
		total += cap(v)
		worst = max(worst, cap(v))
	}
	if worst > 2*3000 {
		t.Fatalf("Value returned 3000-byte values with up to %d bytes of capacity (%d in all for %d values of 3000 bytes)", worst, total, len(kept))
	}
}
