package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/streamcrypt/scdb"
)

// rotate re-encrypts every page of FILE under a new data key: it creates a
// new file beside FILE with the credentials the user gives, copies
// everything into it with DB.CopyTo, verifies that both hold the same
// contents, fsyncs it, renames it over FILE and fsyncs the directory. FILE
// stays open (locked) throughout, so nothing writes to it meanwhile. A crash
// at any point leaves at FILE either the old file or the new one, complete;
// at worst a stray FILE.rotate.tmp.
func (a *app) rotate(args []string) (err error) {
	path := args[0]
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // replace the file a symlink points to, not the link
	}
	tmp := path + ".rotate.tmp"
	if _, err := os.Lstat(tmp); !errors.Is(err, fs.ErrNotExist) {
		return fail(exitError, "%s exists: an earlier rotate of %s was interrupted (%s itself is intact); delete %s and run rotate again",
			tmp, path, path, tmp)
	}
	prog := a.newProgress()
	defer prog.Stop()
	src, cred, err := a.openDB(path, false, prog)
	if err != nil {
		return err
	}
	defer cred.wipe()
	defer closeDB(src, path, &err)
	creds, err := a.rotateCredentials(path, cred)
	for _, c := range creds {
		defer c.wipe()
	}
	if err != nil {
		return err
	}
	st, err := src.Stats()
	if err != nil {
		return fileErr(path, cred, err)
	}
	slots, err := rotateInto(src, path, tmp, creds, st, prog)
	if err != nil {
		os.Remove(tmp)
		for _, c := range creds {
			c.discard()
		}
		return err
	}
	prog.Stop()
	a.rotated(path, st, creds, slots)
	if err := syncDir(filepath.Dir(path)); err != nil {
		fmt.Fprintf(a.stderr, "scdb: warning: %s was replaced, but its directory could not be flushed to disk (%v); a power loss now could bring back the old file\n", path, err)
	}
	return nil
}

// rotateCredentials decides which credentials the new file gets: the one
// it was opened with (--keep), a new passphrase, a new key file, or, with
// none of these flags, what the user answers at the terminal.
func (a *app) rotateCredentials(path string, cred *credential) ([]*credential, error) {
	keep, newPass := a.opts.keep, a.opts.newPassphrase
	if !keep && !newPass && a.opts.newKeyFile == "" {
		t, err := openTerminal(a.stdin, a.stderr)
		if err != nil {
			return nil, usageErr(a.cmd, "say which credentials the re-encrypted file gets: --keep, --new-passphrase or --new-key-file PATH (%v)", err)
		}
		answer, err := t.ReadLine(fmt.Sprintf("Keep %s for the re-encrypted %s? [Y/n] ", cred.describe(), path))
		t.Close()
		if err != nil {
			return nil, fail(exitError, "cannot read the answer: %v", err)
		}
		keep = answer == "" || strings.HasPrefix(strings.ToLower(answer), "y")
		newPass = !keep
	}
	var creds []*credential
	if keep {
		kept := *cred
		kept.key, kept.passphrase = bytes.Clone(cred.key), bytes.Clone(cred.passphrase)
		kept.label = cred.describe() + " it was opened with"
		creds = append(creds, &kept)
	}
	if newPass {
		c, err := a.newPassphrase(path)
		if err != nil {
			return creds, err
		}
		c.label = "the new passphrase"
		creds = append(creds, c)
	}
	if a.opts.newKeyFile != "" {
		c, err := a.keyFileOrNew(a.opts.newKeyFile, path)
		if err != nil {
			return creds, err
		}
		creds = append(creds, c)
	}
	return creds, nil
}

// rotateInto makes the new file at tmp, fills and verifies it, and renames
// it over path. It returns the new file's slot index of each credential.
func rotateInto(src *scdb.DB, path, tmp string, creds []*credential, st *scdb.Stats, prog *progress) ([]int, error) {
	dst, err := src.CreateRekeyed(tmp, creds[0].scdb())
	if err != nil {
		return nil, fail(exitError, "cannot create %s beside %s: %s", tmp, path, strip(err))
	}
	slots := []int{0}
	for _, c := range creds[1:] {
		i, err := dst.AddKeySlot(c.scdb())
		if err != nil {
			dst.Close()
			return nil, fail(exitError, "cannot add a key slot to %s: %s", tmp, strip(err))
		}
		slots = append(slots, i)
	}
	prog.Start("re-encrypt", usedBytes(st))
	err = src.CopyTo(dst)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, copyErr(path, tmp, nil, err)
	}
	if _, err := verifyCopy(src, path, tmp, creds[0], usedBytes(st), prog); err != nil {
		return nil, err
	}
	return slots, replace(tmp, path)
}

// replace gives tmp the mode of path, flushes it to disk and renames it
// over path.
func replace(tmp, path string) error {
	fi, err := os.Stat(path)
	if err == nil {
		err = os.Chmod(tmp, fi.Mode().Perm())
	}
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fail(exitError, "cannot put %s in place of %s (%v); %s is unchanged", tmp, path, err, path)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (a *app) rotated(path string, st *scdb.Stats, creds []*credential, slots []int) {
	w := a.stdout
	fmt.Fprintf(w, "re-encrypted %s under a new data key: %d %s, %d value bytes, contents verified equal\n",
		path, st.Records, plural(int(min(st.Records, 2)), "record", "records"), st.Bytes)
	fmt.Fprintf(w, "its key slots now:\n")
	for i, c := range creds {
		fmt.Fprintf(w, "  slot %d: %s\n", slots[i], c.describe())
	}
	fmt.Fprintf(w, "the old file had %d key %s: any passphrase or key not listed above no longer opens %s\n",
		len(st.KeySlots), plural(len(st.KeySlots), "slot", "slots"), path)
	fmt.Fprintf(w, "the generation count goes on from the old file's; copies of the old file still open with the old credentials\n")
}
