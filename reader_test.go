package scdb_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/streamcrypt/scdb"
)

// A large value served with http.ServeContent answers range requests with
// the right bytes: the record's reader seeks.
func TestServeContentRanges(t *testing.T) {
	db := newDB(t, scdb.Options{PageSize: 1024})
	value := fill(3<<20, 7) // thousands of pages, several runs
	mustPut(t, db, "files", "big.bin", value)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := db.View(func(tx *scdb.Tx) error {
			rec, err := tx.List("files").Open(r.URL.Path[1:])
			if err != nil {
				return err
			}
			http.ServeContent(w, r, rec.ID(), time.Time{}, rec.Reader())
			return nil
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
		}
	}))
	defer srv.Close()
	size := len(value)
	tests := []struct {
		rng        string
		status     int
		start, end int // of the expected body
	}{
		{"", http.StatusOK, 0, size},
		{"bytes=0-99", http.StatusPartialContent, 0, 100},
		{"bytes=1000000-1000999", http.StatusPartialContent, 1000000, 1001000},
		{"bytes=-10", http.StatusPartialContent, size - 10, size},
		{"bytes=3000000-", http.StatusPartialContent, 3000000, size},
		{fmt.Sprintf("bytes=%d-", size), http.StatusRequestedRangeNotSatisfiable, 0, 0},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", srv.URL+"/big.bin", nil)
		if tt.rng != "" {
			req.Header.Set("Range", tt.rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.status {
			t.Errorf("Range %q: status %d, want %d", tt.rng, resp.StatusCode, tt.status)
			continue
		}
		if tt.status != http.StatusRequestedRangeNotSatisfiable && !bytes.Equal(body, value[tt.start:tt.end]) {
			t.Errorf("Range %q: %d bytes, want bytes %d..%d of the value", tt.rng, len(body), tt.start, tt.end)
		}
	}
}

// The reader seeks and reads at offsets, and fails like Read once its
// transaction has ended.
func TestValueReaderSeekAndReadAt(t *testing.T) {
	db := newDB(t)
	value := fill(200000, 3)
	mustPut(t, db, "l", "v", value)
	mustPut(t, db, "l", "small", []byte("0123456789"))
	var kept *scdb.ValueReader
	err := db.View(func(tx *scdb.Tx) error {
		for id, want := range map[string][]byte{"v": value, "small": []byte("0123456789")} {
			rec, err := tx.List("l").Open(id)
			if err != nil {
				return err
			}
			vr := rec.Reader()
			if vr.Size() != int64(len(want)) {
				t.Errorf("%s: Size %d, want %d", id, vr.Size(), len(want))
			}
			off := int64(len(want) / 2)
			if pos, err := vr.Seek(off, io.SeekStart); pos != off || err != nil {
				t.Fatalf("%s: Seek: %d, %v", id, pos, err)
			}
			rest, err := io.ReadAll(vr)
			if err != nil || !bytes.Equal(rest, want[off:]) {
				t.Errorf("%s: Read after Seek: %d bytes, %v; want %d", id, len(rest), err, len(want)-int(off))
			}
			buf := make([]byte, 4)
			if n, err := vr.ReadAt(buf, 3); n != 4 || err != nil || !bytes.Equal(buf, want[3:7]) {
				t.Errorf("%s: ReadAt: %d, %v", id, n, err)
			}
			if n, err := vr.ReadAt(buf, int64(len(want))-2); n != 2 || err != io.EOF {
				t.Errorf("%s: ReadAt across the end: %d, %v; want 2, io.EOF", id, n, err)
			}
			kept = vr
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Seek(0, io.SeekStart); !errors.Is(err, scdb.ErrTxDone) {
		t.Errorf("Seek after the transaction: %v, want ErrTxDone", err)
	}
	if _, err := kept.ReadAt(make([]byte, 1), 0); !errors.Is(err, scdb.ErrTxDone) {
		t.Errorf("ReadAt after the transaction: %v, want ErrTxDone", err)
	}
}
