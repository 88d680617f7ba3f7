package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/streamcrypt/scdb"
)

func TestRecordCommands(t *testing.T) {
	path := newFile(t)
	e := keyEnv()
	mustRun(t, e, "", "put", path, "fruit", "apple", `{"colour": "red"}`)
	mustRun(t, e, "a ripe banana\n", "put", path, "fruit", "banana", "-")
	mustRun(t, e, "cherry from stdin", "put", path, "fruit", "cherry")
	mustRun(t, e, "", "put", path, "veg", "leek", "green")
	mustRun(t, e, "", "put", "--", path, "fruit", "apple", `{"colour": "green"}`) // replaces

	if got := mustRun(t, e, "", "get", path, "fruit", "apple").stdout; got != `{"colour": "green"}` {
		t.Errorf("get apple = %q", got)
	}
	if got := mustRun(t, e, "", "get", path, "fruit", "banana").stdout; got != "a ripe banana\n" {
		t.Errorf("get banana = %q", got)
	}
	wantLists := "         3 records             50 bytes  fruit\n         1 records              5 bytes  veg\n"
	if got := mustRun(t, e, "", "lists", path).stdout; got != wantLists {
		t.Errorf("lists:\n%s\nwant:\n%s", got, wantLists)
	}
	wantJSON := `{"name":"fruit","records":3,"bytes":50}` + "\n" + `{"name":"veg","records":1,"bytes":5}` + "\n"
	if got := mustRun(t, e, "", "lists", "--json", path).stdout; got != wantJSON {
		t.Errorf("lists --json:\n%s\nwant:\n%s", got, wantJSON)
	}
	wantLs := "          19  apple\n          14  banana\n          17  cherry\n"
	if got := mustRun(t, e, "", "ls", path, "fruit").stdout; got != wantLs {
		t.Errorf("ls:\n%s\nwant:\n%s", got, wantLs)
	}
	if got := mustRun(t, e, "", "ls", path, "fruit", "--json").stdout; !strings.HasPrefix(got, `{"id":"apple","size":19}`+"\n") {
		t.Errorf("ls --json:\n%s", got)
	}

	mustRun(t, e, "", "rm", path, "fruit", "banana")
	wantExit(t, e, "", exitNotFound, []string{`list "fruit" of ` + path + ` has no record "banana"`}, "get", path, "fruit", "banana")
	wantExit(t, e, "", exitNotFound, []string{`has no record "banana"`}, "rm", path, "fruit", "banana")
	mustRun(t, e, "", "drop", path, "veg")
	wantExit(t, e, "", exitNotFound, []string{path + ` has no list "veg"`}, "drop", path, "veg")
	wantExit(t, e, "", exitNotFound, []string{`has no list "veg"`}, "ls", path, "veg")
	wantExit(t, e, "", exitNotFound, []string{`has no list "veg"`}, "get", path, "veg", "leek")
	if got := mustRun(t, e, "", "lists", path).stdout; got != "         2 records             36 bytes  fruit\n" {
		t.Errorf("lists after rm and drop: %q", got)
	}
}

func TestCreate(t *testing.T) {
	path := newFile(t)
	wantExit(t, keyEnv(), "", exitError, []string{path + " already exists"}, "create", path)
	wantExit(t, keyEnv(), "", exitUsage, []string{"--page-size 1000"}, "create", path+"2", "--page-size", "1000")
	wantExit(t, env{}, "", exitUsage, []string{"no key for " + path + "2: give --key-file PATH"}, "create", path+"2")

	small := filepath.Join(t.TempDir(), "small.scdb")
	mustRun(t, keyEnv(), "", "create", "--page-size", "1024", small)
	if got := mustRun(t, keyEnv(), "", "stats", small).stdout; !strings.Contains(got, "page size            1024 bytes") {
		t.Errorf("stats of a 1 KiB-page file:\n%s", got)
	}
}

// Unusual ids and names are shown quoted in text and as base64 in JSON
// when they are not UTF-8.
func TestUnusualIDs(t *testing.T) {
	path := newFile(t)
	e := keyEnv()
	for _, id := range []string{"tab\there", "\xff\xfe", `"quoted"`, ""} {
		mustRun(t, e, "", "put", path, "l", id, "v")
	}
	want := "           1  \"\"\n           1  \"\\\"quoted\\\"\"\n           1  \"tab\\there\"\n           1  \"\\xff\\xfe\"\n"
	if got := mustRun(t, e, "", "ls", path, "l").stdout; got != want {
		t.Errorf("ls:\n%s\nwant:\n%s", got, want)
	}
	if got := mustRun(t, e, "", "ls", "--json", path, "l").stdout; !strings.Contains(got, `{"id_b64":"//4=","size":1}`) {
		t.Errorf("ls --json lacks the base64 id:\n%s", got)
	}
}

func TestMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.scdb")
	msg := []string{missing + " does not exist"}
	for _, args := range [][]string{
		{"lists", missing}, {"ls", missing, "l"}, {"get", missing, "l", "i"}, {"put", missing, "l", "i", "v"},
		{"rm", missing, "l", "i"}, {"drop", missing, "l"}, {"import", missing, "l"}, {"export", missing, "l"},
		{"check", missing}, {"stats", missing}, {"compact", missing, missing + "2"}, {"passwd", missing},
		{"rotate", missing, "--keep"},
	} {
		wantExit(t, keyEnv(), "", exitNotFound, msg, args...)
	}
}

func TestWrongKey(t *testing.T) {
	path := newFile(t)
	mustRun(t, keyEnv(), "", "put", path, "l", "i", "v")
	other := keyEnv().with("SCDB_KEY", strings.Repeat("ab", 32))
	msg := []string{"the key in SCDB_KEY does not open " + path}
	for _, args := range [][]string{
		{"lists", path}, {"ls", path, "l"}, {"get", path, "l", "i"}, {"put", path, "l", "i", "v"},
		{"rm", path, "l", "i"}, {"drop", path, "l"}, {"import", path, "l"}, {"export", path, "l"},
		{"check", path}, {"stats", path}, {"compact", path, path + "2"}, {"passwd", path},
		{"rotate", path, "--keep"},
	} {
		wantExit(t, other, "", exitWrongKey, msg, args...)
	}
	if _, err := os.Stat(path + "2"); !os.IsNotExist(err) {
		t.Errorf("compact with a wrong key left %s2 behind", path)
	}
}

// A file another process holds open for writing is reported as locked to
// commands that write, and left as it was; on Linux the read-only commands
// work beside the writer (elsewhere they are locked out too). The lock is
// per open file, so a handle in this process stands in for another process.
func TestLocked(t *testing.T) {
	path := newFile(t)
	mustRun(t, keyEnv(), "", "put", path, "l", "i", "v")
	db := openTest(t, path, false)
	defer db.Close()
	msg := []string{path + " is locked by another process"}
	for _, args := range [][]string{
		{"put", path, "l", "i", "new"}, {"rm", path, "l", "i"}, {"drop", path, "l"},
		{"import", path, "l"}, {"passwd", path, "--add-key-file", filepath.Join(t.TempDir(), "k")},
		{"rotate", path, "--keep"}, {"compact", path},
	} {
		wantExit(t, keyEnv(), `{"a":1}`, exitLocked, msg, args...)
	}
	readers := [][]string{{"get", path, "l", "i"}, {"check", path}, {"lists", path},
		{"ls", path, "l"}, {"export", path, "l"}, {"stats", path}, {"compact", path, path + ".small"}}
	for _, args := range readers {
		if runtime.GOOS == "linux" {
			mustRun(t, keyEnv(), "", args...)
		} else {
			wantExit(t, keyEnv(), "", exitLocked, msg, args...)
		}
	}
	if v, err := db.Get("l", "i"); err != nil || string(v) != "v" {
		t.Errorf("after the locked commands: %q, %v", v, err)
	}
}

// flipDataByte damages one byte in the middle of page pgno.
func flipDataByte(t *testing.T, path string, pgno int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off := pgno*4096 + 2000
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptFile(t *testing.T) {
	path := newFile(t)
	e := keyEnv()
	big := bytes.Repeat([]byte("0123456789abcdef"), 100_000/16) // about 25 pages
	mustRun(t, e, string(big), "put", path, "l", "big")
	mustRun(t, e, "", "put", path, "l", "small", "v")
	flipDataByte(t, path, 10) // a page of the big value

	wantExit(t, e, "", exitCorrupt, []string{path + " is damaged or was tampered with (page 10", "scdb check " + path},
		"get", path, "l", "big")
	wantExit(t, e, "", exitCorrupt, []string{path + " is damaged", "page 10"}, "export", path, "l")
	r := wantExit(t, e, "", exitCorrupt, []string{path + " failed its check with"}, "check", path)
	if !strings.Contains(r.stdout, "problem: page 10:") {
		t.Errorf("check report lacks the page:\n%s", r.stdout)
	}
	r = wantExit(t, e, "", exitCorrupt, nil, "check", "--json", path)
	for _, want := range []string{`"ok": false`, `"page": 10`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check --json lacks %s:\n%s", want, r.stdout)
		}
	}
	if got := mustRun(t, e, "", "get", path, "l", "small").stdout; got != "v" {
		t.Errorf("an undamaged record reads %q", got)
	}
	compacted := path + ".compact"
	wantExit(t, e, "", exitCorrupt, []string{"page 10"}, "compact", path, compacted)
	if _, err := os.Stat(compacted); !os.IsNotExist(err) {
		t.Errorf("a failed compact left %s", compacted)
	}
	before := fileBytes(t, path)
	wantExit(t, e, "", exitCorrupt, []string{"page 10"}, "rotate", path, "--keep")
	if !bytes.Equal(before, fileBytes(t, path)) {
		t.Error("a failed rotate changed the file")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("a failed rotate left files behind: %v", entries)
	}
}

func TestNotSCDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(path, bytes.Repeat([]byte("not an scdb file\n"), 1000), 0o600)
	wantExit(t, keyEnv(), "", exitError, []string{path + " is not an scdb file"}, "lists", path)
}

func TestUsage(t *testing.T) {
	e := keyEnv()
	wantExit(t, e, "", exitUsage, []string{"usage: scdb COMMAND"})
	wantExit(t, e, "", exitUsage, []string{`there is no command "frobnicate"`}, "frobnicate")
	wantExit(t, e, "", exitUsage, []string{"get takes FILE LIST ID, not 2 arguments", "usage: scdb get"}, "get", "f", "l")
	wantExit(t, e, "", exitUsage, []string{"flag provided but not defined: -json"}, "get", "--json", "f", "l", "i")
	wantExit(t, e, "", exitUsage, []string{"--batch -1"}, "import", "f", "l", "--batch", "-1")
	help := mustRun(t, e, "", "help").stdout
	for _, want := range []string{"EXIT STATUS", "value_b64", "id_b64", "SCDB_PASSPHRASE", "--key-file"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if got := mustRun(t, e, "", "import", "--help").stdout; !strings.Contains(got, "--id FIELD") {
		t.Errorf("import --help:\n%s", got)
	}
	if got := mustRun(t, e, "", "help", "passwd").stdout; !strings.Contains(got, "--remove SLOT") {
		t.Errorf("help passwd:\n%s", got)
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path, keyPath := filepath.Join(dir, "k.scdb"), filepath.Join(dir, "k.key")
	r := mustRun(t, env{}, "", "create", path, "--key-file", keyPath)
	if !strings.Contains(r.stderr, "wrote a new random key to "+keyPath) {
		t.Errorf("create did not say it wrote the key: %q", r.stderr)
	}
	fi, err := os.Stat(keyPath)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 65 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	mustRun(t, env{}, "", "put", "--key-file", keyPath, path, "l", "i", "v")
	key, _ := hexKey(fileBytes(t, keyPath))
	mustRun(t, env{"SCDB_KEY": string(bytes.TrimSpace(fileBytes(t, keyPath)))}, "", "get", path, "l", "i")

	raw := filepath.Join(dir, "raw.key")
	os.WriteFile(raw, key, 0o600)
	if got := mustRun(t, env{}, "", "get", path, "l", "i", "--key-file", raw).stdout; got != "v" {
		t.Errorf("get with a raw key file: %q", got)
	}
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("short"), 0o600)
	wantExit(t, env{}, "", exitUsage, []string{"key file " + bad + " holds 5 bytes"}, "get", path, "l", "i", "--key-file", bad)
	wantExit(t, env{}, "", exitNotFound, []string{"key file " + dir + "/none.key does not exist"},
		"get", path, "l", "i", "--key-file", filepath.Join(dir, "none.key"))
	wantExit(t, env{"SCDB_KEY": "xyz"}, "", exitUsage, []string{"SCDB_KEY must hold 64 hex digits"}, "get", path, "l", "i")
	wantExit(t, env{}, "", exitUsage, []string{"no key for " + path, "SCDB_PASSPHRASE"}, "get", path, "l", "i")
	wrong := filepath.Join(dir, "wrong.key")
	os.WriteFile(wrong, bytes.Repeat([]byte{7}, 32), 0o600)
	wantExit(t, env{}, "", exitWrongKey, []string{"the key in " + wrong + " does not open " + path}, "ls", path, "l", "--key-file", wrong)
}

func hexKey(b []byte) ([]byte, error) { return parseHexKey(b) }

func TestPassphrases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.scdb")
	useTerminal(t, "one", "two")
	wantExit(t, env{}, "", exitError, []string{"the two passphrases differ"}, "create", path)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("a failed create left a file")
	}
	ft := useTerminal(t, "correct horse", "correct horse")
	mustRun(t, env{}, "", "create", path)
	if len(ft.prompts) != 2 || ft.prompts[0] != "New passphrase for "+path+": " {
		t.Errorf("create prompted %q", ft.prompts)
	}
	ft = useTerminal(t, "correct horse")
	mustRun(t, env{}, "", "put", path, "l", "i", "v")
	if len(ft.prompts) != 1 || ft.prompts[0] != "Passphrase for "+path+": " {
		t.Errorf("put prompted %q", ft.prompts)
	}
	useTerminal(t, "wrong horse")
	wantExit(t, env{}, "", exitWrongKey, []string{"wrong passphrase for " + path}, "get", path, "l", "i")
	useTerminal(t, "")
	wantExit(t, env{}, "", exitWrongKey, []string{"an empty passphrase opens nothing"}, "get", path, "l", "i")
	pe := env{"SCDB_PASSPHRASE": "correct horse"}
	if got := mustRun(t, pe, "", "get", path, "l", "i").stdout; got != "v" {
		t.Errorf("get with SCDB_PASSPHRASE: %q", got)
	}
	wantExit(t, env{"SCDB_PASSPHRASE": "nope"}, "", exitWrongKey,
		[]string{"wrong passphrase for " + path + " (it came from SCDB_PASSPHRASE)"}, "get", path, "l", "i")
	db, err := scdb.Open(path, scdb.Options{Passphrase: []byte("correct horse"), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}
