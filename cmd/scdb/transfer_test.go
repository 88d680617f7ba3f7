package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamcrypt/scdb"
)

// roundTripValues are values export must write in each of its forms and
// import must give back byte for byte.
func roundTripValues() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	binary := make([]byte, 5000)
	for i := range binary {
		binary[i] = byte(rng.IntN(256))
	}
	bigBinary := make([]byte, 3<<20)
	for i := range bigBinary {
		bigBinary[i] = byte(rng.IntN(256))
	}
	return map[string][]byte{
		"json object":       []byte(`{"name": "Ada", "langs": ["en", "fr"], "n": 1.50e3}`),
		"json number":       []byte(`1.50`),
		"json string":       []byte(`"quoted \u00e9 text"`),
		"json pretty":       []byte("{\n  \"a\": 1\n}\n"),
		"json padded":       []byte(` {"a":1} `),
		"text":              []byte("plain text, with \"quotes\", a tab\t, a NUL \x00 and é ✓\r\n"),
		"empty":             {},
		"line breaks":       []byte("\n\n\r"),
		"binary":            binary,
		"invalid utf8":      []byte("caf\xe9"),
		"big text":          bytes.Repeat([]byte("ünïcode line\n"), 150_000), // over 1 MiB: streamed
		"big json":          []byte(`"` + strings.Repeat("x", 2<<20) + `"`),  // over 1 MiB: value_text
		"big binary":        bigBinary,
		"id \xff\xfe bytes": []byte("a non-UTF-8 id"),
		"":                  []byte("the empty id"),
		"html <&>":          []byte(`<b>&amp;</b>`),
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	e := keyEnv()
	src := newFile(t)
	values := roundTripValues()
	for id, v := range values {
		mustRun(t, e, string(v), "put", src, "things", id, "-")
	}
	exported := mustRun(t, e, "", "export", src, "things")
	if exported.stderr != "" {
		t.Errorf("export wrote to stderr: %q", exported.stderr)
	}
	for _, want := range []string{
		`{"id":"json object","value":{"name": "Ada", "langs": ["en", "fr"], "n": 1.50e3}}`,
		`{"id":"json number","value":1.50}`,
		`{"id":"json pretty","value_text":"{\n  \"a\": 1\n}\n"}`,
		`{"id":"empty","value_text":""}`,
		`{"id":"invalid utf8","value_b64":"Y2Fm6Q=="}`,
		`{"id_b64":"aWQg//4gYnl0ZXM=","value_text":"a non-UTF-8 id"}`,
		`{"id":"html <&>","value_text":"<b>&amp;</b>"}`,
	} {
		if !strings.Contains(exported.stdout, want+"\n") {
			t.Errorf("export lacks the line %s", want)
		}
	}
	if n := strings.Count(exported.stdout, "\n"); n != len(values) {
		t.Errorf("export wrote %d lines for %d records", n, len(values))
	}

	dst := filepath.Join(t.TempDir(), "copy.scdb")
	mustRun(t, e, "", "create", dst)
	r := mustRun(t, e, exported.stdout, "import", dst, "things")
	if want := fmt.Sprintf("imported %d records into list \"things\" of %s (%d by id, 0 appended)\n", len(values), dst, len(values)); r.stdout != want {
		t.Errorf("import said %q, want %q", r.stdout, want)
	}
	if again := mustRun(t, e, "", "export", dst, "things").stdout; again != exported.stdout {
		t.Error("export of the imported copy differs from the first export")
	}
	db := openTest(t, dst, true)
	defer db.Close()
	for id, want := range values {
		got, err := db.Get("things", id)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("id %q: got %d bytes (%v), want %d bytes", id, len(got), err, len(want))
		}
	}
	// Importing the export again is an upsert: nothing changes.
	db.Close()
	mustRun(t, e, exported.stdout, "import", dst, "things")
	if again := mustRun(t, e, "", "export", dst, "things").stdout; again != exported.stdout {
		t.Error("a second import of the same export changed the list")
	}
}

func TestImportArbitraryLines(t *testing.T) {
	e := keyEnv()
	path := newFile(t)
	input := "{\"name\": \"ada\", \"n\": 1.50}\r\n" + // CRLF: the "\r" is dropped
		"\n   \n" + // skipped
		"  [1, 2]  \n" + // kept byte for byte, spaces included
		`{"id":"x","value":5}` + "\n" + // an export record: stored under "x"
		`"last line without a newline"`
	r := mustRun(t, e, input, "import", path, "raw")
	if !strings.Contains(r.stdout, "imported 4 records") || !strings.Contains(r.stdout, "(1 by id, 3 appended)") {
		t.Errorf("import said %q", r.stdout)
	}
	db := openTest(t, path, true)
	want := map[string]string{
		"0000000000000000": `{"name": "ada", "n": 1.50}`,
		"0000000000000001": `  [1, 2]  `,
		"0000000000000002": `"last line without a newline"`,
		"x":                `5`,
	}
	checkList(t, db, "raw", want)
	db.Close()

	// Appends continue after the ids Append gave before.
	mustRun(t, e, "true\n", "import", path, "raw")
	db = openTest(t, path, true)
	want["0000000000000003"] = "true"
	checkList(t, db, "raw", want)
	db.Close()

	// --raw stores an export-shaped line whole.
	mustRun(t, e, `{"id":"x","value":5}`+"\n", "import", "--raw", path, "whole")
	db = openTest(t, path, true)
	checkList(t, db, "whole", map[string]string{"0000000000000000": `{"id":"x","value":5}`})
	db.Close()
}

func TestImportIDField(t *testing.T) {
	e := keyEnv()
	path := newFile(t)
	input := `{"user": "ada", "age": 36}` + "\n" +
		`{"user": 1.50, "age": 1}` + "\n" +
		`{"age": 2, "user": "b\u00e9"}` + "\n" +
		`{"user": "ada", "age": 37}` + "\n" // replaces the first
	r := mustRun(t, e, input, "import", path, "users", "--id", "user")
	if !strings.Contains(r.stdout, "imported 4 records") {
		t.Errorf("import said %q", r.stdout)
	}
	db := openTest(t, path, true)
	defer db.Close()
	checkList(t, db, "users", map[string]string{
		"ada":  `{"user": "ada", "age": 37}`,
		"1.50": `{"user": 1.50, "age": 1}`,
		"bé":   `{"age": 2, "user": "b\u00e9"}`,
	})
}

// checkList checks that list holds exactly want.
func checkList(t *testing.T, db *scdb.DB, list string, want map[string]string) {
	t.Helper()
	n := 0
	for rec, err := range db.Records(list) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		v, err := rec.Value()
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := want[rec.ID()]; !ok || w != string(v) {
			t.Errorf("list %q id %q = %q, want %q (present: %v)", list, rec.ID(), v, w, ok)
		}
	}
	if n != len(want) {
		t.Errorf("list %q has %d records, want %d", list, n, len(want))
	}
}

func TestImportBadLines(t *testing.T) {
	e := keyEnv()
	good := `{"id":"a","value":1}` + "\n" + `{"id":"b","value":2}` + "\n"
	for _, tc := range []struct {
		name, input string
		flags       []string
		msg         string
	}{
		{"not JSON", good + "{oops}\n", nil, "input line 3 is not valid JSON (invalid character 'o'"},
		{"two values", good + "1 2\n", nil, "input line 3 is not valid JSON"},
		{"not UTF-8", good + "\"\xff\"\n", nil, "input line 3 is not valid UTF-8"},
		{"numeric export id", good + `{"id":5,"value":1}` + "\n", nil, `input line 3 has the members of an export record, but its "id" is not a string (use --raw`},
		{"bad base64", good + `{"id":"c","value_b64":"***"}` + "\n", nil, `input line 3 has a "value_b64" that is not standard padded base64`},
		{"no id field", `{"k":1}` + "\n" + `{"j":2}` + "\n", []string{"--id", "k"}, `input line 2 has no field "k" for --id`},
		{"id field twice", `{"k":1,"k":2}` + "\n", []string{"--id", "k"}, `input line 1 has the field "k" twice`},
		{"id field object", `{"k":{}}` + "\n", []string{"--id", "k"}, `input line 1 has a field "k" that is neither a string nor a number`},
		{"not an object", `[1]` + "\n", []string{"--id", "k"}, `input line 1 is not a JSON object, so it has no field "k"`},
		{"id too long", `{"k":"` + strings.Repeat("x", 5000) + `"}` + "\n", []string{"--id", "k"}, "input line 1 could not be stored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := newFile(t)
			mustRun(t, e, "", "put", path, "l", "a", "before")
			before := fileBytes(t, path)
			args := append([]string{"import", path, "l"}, tc.flags...)
			r := wantExit(t, e, tc.input, exitError, []string{tc.msg, "nothing was imported: " + path + " is as it was"}, args...)
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
			if !bytes.Equal(before, fileBytes(t, path)) {
				t.Error("a failed import changed the file")
			}
		})
	}
}

// An import is one transaction however large: a bad last line, after more
// data than the library's 16 MiB spill threshold, leaves the file as it was.
func TestImportAtomicLarge(t *testing.T) {
	e := keyEnv()
	path := newFile(t)
	mustRun(t, e, "", "put", path, "l", "keep", "me")
	var in bytes.Buffer
	w := bufio.NewWriter(&in)
	pad := strings.Repeat("x", 2000)
	const lines = 12_000 // 24 MiB of values
	for i := range lines {
		fmt.Fprintf(w, `{"n":%d,"pad":"%s"}`+"\n", i, pad)
	}
	w.WriteString("{broken\n")
	w.Flush()
	before := fileBytes(t, path)
	r := scdbRun(t, e, &in, "import", path, "l", "--id", "n")
	if r.code != exitError || !strings.Contains(r.stderr, fmt.Sprintf("input line %d is not valid JSON", lines+1)) {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !bytes.Equal(before, fileBytes(t, path)[:len(before)]) {
		t.Error("the failed import changed the committed part of the file")
	}
	db := openTest(t, path, true)
	defer db.Close()
	checkList(t, db, "l", map[string]string{"keep": "me"})
	if rep, err := db.Check(); err != nil {
		t.Errorf("check after the failed import: %v %v", err, rep.Problems)
	}
}

func TestImportBatches(t *testing.T) {
	e := keyEnv()
	path := newFile(t)
	input := "1\n2\n3\n4\n5\nbad\n7\n"
	wantExit(t, e, input, exitError, []string{"input line 6 is not valid JSON",
		"the first 4 records were committed in batches of 2 before it; the rest were not imported"},
		"import", path, "l", "--batch", "2")
	db := openTest(t, path, true)
	defer db.Close()
	checkList(t, db, "l", map[string]string{"0000000000000000": "1", "0000000000000001": "2",
		"0000000000000002": "3", "0000000000000003": "4"})
}

func TestExportErrors(t *testing.T) {
	path := newFile(t)
	wantExit(t, keyEnv(), "", exitNotFound, []string{path + ` has no list "nope"`}, "export", path, "nope")
}

func TestUTF8Stream(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", true}, {"plain", true}, {strings.Repeat("é", 100_000), true},
		{strings.Repeat("a", 65535) + "€", true}, // split across the 64 KiB chunk
		{strings.Repeat("a", 65535) + "\xe2\x82", false},
		{"caf\xe9", false}, {strings.Repeat("✓", 40_000) + "\xff", false},
	} {
		got, err := utf8Stream(iotestHalfReader(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("utf8Stream(%d bytes ending %q) = %v, %v", len(tc.in), tc.in[max(0, len(tc.in)-3):], got, err)
		}
	}
}

// iotestHalfReader reads at most 1000 bytes at a time, so chunks end in the
// middle of runes.
func iotestHalfReader(s string) *smallReader { return &smallReader{s: s} }

type smallReader struct{ s string }

func (r *smallReader) Read(p []byte) (int, error) {
	if len(r.s) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 1001)], r.s)
	r.s = r.s[n:]
	return n, nil
}

func TestEmbeddable(t *testing.T) {
	for in, want := range map[string]bool{
		`{"a":1}`: true, `1.50`: true, `"s"`: true, `null`: true, ` 1`: false, "1\n": false,
		"[1,\n2]": false, `{"a":1} {}`: false, `hello`: false, ``: false, "\t[]": false,
	} {
		if got := embeddable([]byte(in)); got != want {
			t.Errorf("embeddable(%q) = %v", in, got)
		}
	}
}

// TestImportLineLimit: a line over the limit fails naming the line and the
// limit, without holding the line; shorter lines around it are fine.
func TestImportLineLimit(t *testing.T) {
	old := maxImportLine
	maxImportLine = 1 << 20
	defer func() { maxImportLine = old }()
	path := newFile(t)
	ok := `"` + strings.Repeat("a", 1<<20-2) + `"` + "\n"
	mustRun(t, keyEnv(), ok+`"short"`+"\n", "import", "--raw", path, "l")
	huge := `"x"` + "\n" + `"` + strings.Repeat("b", 1<<20+1) + `"` + "\n"
	wantExit(t, keyEnv(), huge, exitError, []string{"input line 2", "import limit of 1 MiB", "scdb put"}, "import", "--raw", path, "m")
}
