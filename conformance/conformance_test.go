package conformance

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamcrypt/scdb"
)

var outcomes = map[string]error{
	"ErrWrongKey": scdb.ErrWrongKey,
	"ErrCorrupt":  scdb.ErrCorrupt,
	"ErrNotSCDB":  scdb.ErrNotSCDB,
	"ErrVersion":  scdb.ErrVersion,
}

// TestVectors opens every vector read-only and checks its outcome.
func TestVectors(t *testing.T) {
	raw, err := os.ReadFile("vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Vectors) < 10 {
		t.Fatalf("only %d vectors", len(m.Vectors))
	}
	for _, v := range m.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			got, lists, gen, err := read(v)
			if v.Expect == "ok" {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if gen != v.Generation {
					t.Errorf("generation %d, want %d", gen, v.Generation)
				}
				want, _ := json.Marshal(v.Lists)
				have, _ := json.Marshal(lists)
				if len(v.Lists) == 0 && len(lists) == 0 {
					return
				}
				if string(want) != string(have) {
					t.Errorf("contents differ:\n got %s\nwant %s", have, want)
				}
				return
			}
			sentinel, known := outcomes[v.Expect]
			if !known {
				t.Fatalf("unknown expectation %q", v.Expect)
			}
			if !errors.Is(err, sentinel) {
				t.Fatalf("want %s, got %v (read %d lists)", v.Expect, err, len(got))
			}
		})
	}
}

// read opens a vector's file and reads everything in it.
func read(v Vector) ([]string, []List, uint64, error) {
	opts := scdb.Options{ReadOnly: true}
	if v.KeyHex != "" {
		key, err := hex.DecodeString(v.KeyHex)
		if err != nil {
			return nil, nil, 0, err
		}
		opts.Key = key
	} else {
		opts.Passphrase = []byte(v.Passphrase)
	}
	db, err := scdb.Open(filepath.Join(".", v.File), opts)
	if err != nil {
		return nil, nil, 0, err
	}
	defer db.Close()
	names, err := db.Lists()
	if err != nil {
		return nil, nil, 0, err
	}
	lists := []List{}
	for _, name := range names {
		l := List{NameHex: hex.EncodeToString([]byte(name)), Records: []Record{}}
		for rec, err := range db.Records(name) {
			if err != nil {
				return names, nil, 0, err
			}
			val, err := rec.Value()
			if err != nil {
				return names, nil, 0, err
			}
			l.Records = append(l.Records, Record{IDHex: hex.EncodeToString([]byte(rec.ID())), ValueHex: hex.EncodeToString(val)})
		}
		lists = append(lists, l)
	}
	return names, lists, db.Generation(), nil
}
