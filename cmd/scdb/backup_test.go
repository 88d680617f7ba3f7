package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamcrypt/scdb"
)

// TestBackup: the copy is checked, opens at the source's generation with its
// contents, replaces an older backup, and leaves no temporary file.
func TestBackup(t *testing.T) {
	path := newFile(t)
	fillFile(t, path, 40, 10_000)
	dir := t.TempDir()
	dst := filepath.Join(dir, "copy.scdb")
	out := mustRun(t, keyEnv(), "", "backup", path, dst).stdout
	for _, want := range []string{"backed up " + path, "to " + dst, "1 list, 20 records, 200000 value bytes; check passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup says %q, lacking %q", out, want)
		}
	}
	sameAsSource(t, path, dst)

	// A second backup after a commit replaces the first.
	mustRun(t, keyEnv(), "", "put", path, "l", "new", "value")
	mustRun(t, keyEnv(), "", "backup", path, dst)
	sameAsSource(t, path, dst)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the backup directory holds %d entries, want only the backup: a temporary file was left", len(entries))
	}
}

// sameAsSource fails unless the file at dst holds src's generation, lists,
// ids and values.
func sameAsSource(t *testing.T, src, dst string) {
	t.Helper()
	a, b := openTest(t, src, true), openTest(t, dst, true)
	defer a.Close()
	defer b.Close()
	if a.Generation() != b.Generation() {
		t.Errorf("backup at generation %d, source at %d", b.Generation(), a.Generation())
	}
	if err := sameContents(a, b, src, dst); err != nil {
		t.Error(err)
	}
}

// TestBackupRefuses: DEST that is FILE or a directory and a wrong key
// fail with their exit statuses, and a copy that fails its
// check does not replace DEST.
func TestBackupRefuses(t *testing.T) {
	path := newFile(t)
	fillFile(t, path, 10, 3000)
	dir := t.TempDir()
	wantExit(t, keyEnv(), "", exitError, []string{"same file"}, "backup", path, path)
	wantExit(t, keyEnv(), "", exitError, []string{"is a directory"}, "backup", path, dir)
	wrong := keyEnv().with("SCDB_KEY", strings.Repeat("ab", 32))
	wantExit(t, wrong, "", exitWrongKey, nil, "backup", path, filepath.Join(dir, "x.scdb"))

	// An older backup, then damage to every data page of the source: the
	// new copy fails its check and the older backup stays as it was.
	old := filepath.Join(dir, "old.scdb")
	mustRun(t, keyEnv(), "", "backup", path, old)
	before := fileBytes(t, old)
	damaged := fileBytes(t, path)
	const pageSize = 4096
	for off := 3*pageSize + 100; off < len(damaged); off += pageSize {
		damaged[off] ^= 1
	}
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	wantExit(t, keyEnv(), "", exitCorrupt, []string{"failed its check", old + " was left as it was"}, "backup", path, old)
	if !bytes.Equal(fileBytes(t, old), before) {
		t.Error("a backup that failed its check changed the older backup")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the backup directory holds %d entries after failures, want only the older backup", len(entries))
	}
	if _, err := scdb.CheckFile(old, scdb.Options{Key: testKey()}); err != nil {
		t.Errorf("the older backup no longer checks: %v", err)
	}
}
