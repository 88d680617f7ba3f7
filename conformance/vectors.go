// Package conformance holds the scdb format's test vectors: files made by a
// reproducible generator (./gen) together with what a reader must get from
// each, success and contents or a named error. An implementation in another
// language runs the same vectors from vectors.json; conformance_test.go runs
// them against this one.
package conformance

// Manifest is the content of vectors.json.
type Manifest struct {
	Format  string   `json:"format"`  // "scdb 3.0": the format version the vectors are for
	Vectors []Vector `json:"vectors"` // in the order generated
}

// Vector is one file and what opening and reading it must give.
type Vector struct {
	Name        string `json:"name"`        // the vector's name, unique in the manifest
	Rule        string `json:"rule"`        // the FORMAT.md sections whose rules it checks
	Description string `json:"description"` // what it shows, in one line
	File        string `json:"file"`        // path relative to vectors.json
	// Exactly one of KeyHex (a 32-byte raw key) and Passphrase.
	KeyHex     string `json:"key_hex,omitempty"`
	Passphrase string `json:"passphrase,omitempty"` // passphrase bytes as UTF-8
	// Expect is "ok" or the error a reader must report: "ErrWrongKey",
	// "ErrCorrupt", "ErrNotSCDB" or "ErrVersion". An error may come when
	// opening the file or when reading its lists and records.
	Expect string `json:"expect"`
	// With "ok": the generation the file opens at and every list with every
	// record, in byte order of names and ids, all as hex.
	Generation uint64 `json:"generation,omitempty"`
	Lists      []List `json:"lists,omitempty"` // with "ok": every list in name order
}

// List is one list of a vector's expected content.
type List struct {
	NameHex string   `json:"name_hex"` // the list name's bytes in hex
	Records []Record `json:"records"`  // every record, in id order
}

// Record is one record of a vector's expected content.
type Record struct {
	IDHex    string `json:"id_hex"`    // the id's bytes in hex
	ValueHex string `json:"value_hex"` // the value's bytes in hex
}
