package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPasswd(t *testing.T) {
	path := newFile(t)
	dir := t.TempDir()
	e := keyEnv()
	mustRun(t, e, "", "put", path, "l", "i", "v")
	wantExit(t, e, "", exitUsage, []string{"no new passphrase for " + path + ": set SCDB_NEW_PASSPHRASE"}, "passwd", path, "--add-passphrase") // no terminal to type it
	r := mustRun(t, e, "", "passwd", path)
	if !strings.Contains(r.stdout, path+" has 1 key slot:\n  slot 0: raw key\n") {
		t.Errorf("passwd lists:\n%s", r.stdout)
	}

	r = mustRun(t, e.with("SCDB_NEW_PASSPHRASE", "hunter2"), "", "passwd", path, "--add-passphrase")
	if !strings.Contains(r.stdout, "added key slot 1") || !strings.Contains(r.stdout, "slot 1: passphrase (Argon2id t=1, 64.0 KiB, p=1)") {
		t.Errorf("add passphrase:\n%s", r.stdout)
	}
	mustRun(t, env{"SCDB_PASSPHRASE": "hunter2"}, "", "get", path, "l", "i")

	keyPath := filepath.Join(dir, "extra.key")
	r = mustRun(t, e, "", "passwd", path, "--add-key-file", keyPath)
	if !strings.Contains(r.stdout, "added key slot 2: the key in "+keyPath+" now opens "+path) {
		t.Errorf("add key file:\n%s", r.stdout)
	}
	mustRun(t, env{}, "", "get", path, "l", "i", "--key-file", keyPath)

	// Change slot 1's passphrase, typed twice at the terminal.
	ft := useTerminal(t, "new one", "new one")
	r = mustRun(t, e, "", "passwd", path, "--change", "1")
	if len(ft.prompts) != 2 || !strings.Contains(r.stdout, "replaced key slot 1") || !strings.Contains(r.stdout, "scdb rotate") {
		t.Errorf("change: prompts %q\n%s", ft.prompts, r.stdout)
	}
	wantExit(t, env{"SCDB_PASSPHRASE": "hunter2"}, "", exitWrongKey, []string{"wrong passphrase"}, "get", path, "l", "i")
	mustRun(t, env{"SCDB_PASSPHRASE": "new one"}, "", "get", path, "l", "i")

	// Change slot 2 to a new key file.
	newKey := filepath.Join(dir, "new.key")
	mustRun(t, e, "", "passwd", path, "--change", "2", "--new-key-file", newKey)
	wantExit(t, env{}, "", exitWrongKey, nil, "get", path, "l", "i", "--key-file", keyPath)
	mustRun(t, env{}, "", "get", path, "l", "i", "--key-file", newKey)

	r = mustRun(t, e, "", "passwd", path, "--remove", "0")
	if !strings.Contains(r.stdout, "removed key slot 0") || !strings.Contains(r.stdout, path+" has 2 key slots:") {
		t.Errorf("remove:\n%s", r.stdout)
	}
	wantExit(t, e, "", exitWrongKey, nil, "get", path, "l", "i")
	pe := env{"SCDB_PASSPHRASE": "new one"}
	mustRun(t, pe, "", "passwd", path, "--remove", "2")
	wantExit(t, pe, "", exitError, []string{"key slot 1 is the only one of " + path}, "passwd", path, "--remove", "1")
	wantExit(t, pe, "", exitNotFound, []string{path + " has no key slot 3; its slots are [1]"}, "passwd", path, "--change", "3")
	wantExit(t, pe, "", exitUsage, []string{"give one of"}, "passwd", path, "--remove", "1", "--add-passphrase")
	wantExit(t, pe, "", exitUsage, []string{"--new-key-file goes with --change"}, "passwd", path, "--new-key-file", newKey)
}

func TestPasswdFull(t *testing.T) {
	path := newFile(t)
	dir := t.TempDir()
	for i := range 3 {
		mustRun(t, keyEnv(), "", "passwd", path, "--add-key-file", filepath.Join(dir, string(rune('a'+i))))
	}
	extra := filepath.Join(dir, "extra")
	wantExit(t, keyEnv(), "", exitError, []string{"all 4 key slots in use"}, "passwd", path, "--add-key-file", extra)
	if _, err := os.Stat(extra); !os.IsNotExist(err) {
		t.Error("a failed --add-key-file left its new key file")
	}
}

func TestRotate(t *testing.T) {
	path := newFile(t)
	dir := filepath.Dir(path)
	fillFile(t, path, 50, 3000)
	e := keyEnv()
	mustRun(t, e.with("SCDB_NEW_PASSPHRASE", "old extra"), "", "passwd", path, "--add-passphrase")
	os.Chmod(path, 0o640)
	exported := mustRun(t, e, "", "export", path, "l").stdout
	before := statsOf(t, path)

	newKey := filepath.Join(dir, "rotated.key")
	r := mustRun(t, e, "", "rotate", path, "--keep", "--new-key-file", newKey)
	for _, want := range []string{"re-encrypted " + path + " under a new data key: 25 records, 75000 value bytes, contents verified equal",
		"slot 0: the key in SCDB_KEY it was opened with", "slot 1: the key in " + newKey,
		"the old file had 2 key slots: any passphrase or key not listed above no longer opens"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("rotate output lacks %q:\n%s", want, r.stdout)
		}
	}
	if got := mustRun(t, e, "", "export", path, "l").stdout; got != exported {
		t.Error("the rotated file's contents differ")
	}
	mustRun(t, env{}, "", "get", path, "l", "id0001", "--key-file", newKey)
	wantExit(t, env{"SCDB_PASSPHRASE": "old extra"}, "", exitWrongKey, nil, "get", path, "l", "id0001")
	after := statsOf(t, path)
	if after.PagesFree != 0 || after.Pages >= before.Pages || len(after.KeySlots) != 2 {
		t.Errorf("before %+v\nafter %+v", before, after)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("the rotated file has mode %v", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("rotate left files behind: %v", entries)
	}
}

func TestRotateAsks(t *testing.T) {
	path := newFile(t)
	mustRun(t, keyEnv(), "", "put", path, "l", "i", "v")
	wantExit(t, keyEnv(), "", exitUsage, []string{"say which credentials the re-encrypted file gets"}, "rotate", path)

	// Answering no to keeping the key asks for a new passphrase, twice.
	ft := useTerminal(t, "n", "fresh", "fresh")
	r := mustRun(t, keyEnv(), "", "rotate", path)
	if len(ft.prompts) != 3 || ft.prompts[0] != "Keep the key in SCDB_KEY for the re-encrypted "+path+"? [Y/n] " ||
		!strings.Contains(r.stdout, "slot 0: the new passphrase") {
		t.Errorf("prompts %q\n%s", ft.prompts, r.stdout)
	}
	wantExit(t, keyEnv(), "", exitWrongKey, nil, "get", path, "l", "i")
	pe := env{"SCDB_PASSPHRASE": "fresh"}
	if got := mustRun(t, pe, "", "get", path, "l", "i").stdout; got != "v" {
		t.Errorf("get after rotate: %q", got)
	}

	// Pressing return keeps it.
	useTerminal(t, "fresh", "")
	mustRun(t, env{}, "", "rotate", path)
	mustRun(t, pe, "", "get", path, "l", "i")
}

// A stray FILE.rotate.tmp (a rotate that crashed) stops rotate before it
// touches anything.
func TestRotateInterrupted(t *testing.T) {
	path := newFile(t)
	mustRun(t, keyEnv(), "", "put", path, "l", "i", "v")
	os.WriteFile(path+".rotate.tmp", []byte("half a file"), 0o600)
	before := fileBytes(t, path)
	wantExit(t, keyEnv(), "", exitError, []string{path + ".rotate.tmp exists: an earlier rotate of " + path + " was interrupted"},
		"rotate", path, "--keep")
	if string(before) != string(fileBytes(t, path)) {
		t.Error("the refused rotate changed the file")
	}
}
