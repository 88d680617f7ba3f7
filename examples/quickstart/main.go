// Command quickstart creates an encrypted scdb file, writes and updates a few
// records, and streams them back one at a time.
//
//	go run ./examples/quickstart [path]
package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/streamcrypt/scdb"
)

func main() {
	path := filepath.Join(os.TempDir(), "quickstart.scdb")
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	os.Remove(path) // start afresh on every run
	pass := []byte("correct horse battery staple")

	db, err := scdb.Create(path, scdb.Options{Passphrase: pass})
	if err != nil {
		log.Fatal(err)
	}
	err = db.Update(func(tx *scdb.Tx) error {
		fruit := tx.List("fruit")
		for _, id := range []string{"apple", "banana", "cherry"} {
			if err := fruit.Put(id, []byte("a fresh "+id)); err != nil {
				return err
			}
		}
		// Writing an id that exists replaces its record.
		if err := fruit.Put("banana", []byte("a ripe banana")); err != nil {
			return err
		}
		// A value can be streamed in, however large.
		return fruit.PutReader("durian", strings.NewReader(strings.Repeat("pungent ", 100_000)))
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}

	// Reopen with the passphrase and stream the list back, one record at a time.
	db, err = scdb.Open(path, scdb.Options{Passphrase: pass})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for rec, err := range db.Records("fruit") {
		if err != nil {
			log.Fatal(err)
		}
		if rec.Size() > 64 {
			n, err := io.Copy(io.Discard, rec.Reader())
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("%-8s %d bytes, streamed\n", rec.ID(), n)
			continue
		}
		value, err := rec.Value()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-8s %s\n", rec.ID(), value)
	}
	fmt.Printf("%s: generation %d\n", path, db.Generation())
}
