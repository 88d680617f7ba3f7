package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/streamcrypt/scdb"
)

// backup copies FILE's last commit to DEST with Tx.WriteTo, which reads one
// snapshot while writers go on, so the copy is never torn. The copy goes to
// a temporary file beside DEST, is synced and checked, and only then renamed
// over DEST (the directory synced after): a crash or a copy that fails its
// check leaves DEST as it was, an older backup there included.
func (a *app) backup(args []string) (err error) {
	srcPath, dstPath := args[0], args[1]
	if err := backupTarget(srcPath, dstPath); err != nil {
		return err
	}
	prog := a.newProgress()
	defer prog.Stop()
	src, cred, err := a.openDB(srcPath, true, prog)
	if err != nil {
		return err
	}
	defer cred.wipe()
	defer closeDB(src, srcPath, &err)

	tmp, err := os.CreateTemp(filepath.Dir(dstPath), "."+filepath.Base(dstPath)+".backup-*")
	if err != nil {
		return fail(exitError, "cannot write beside %s: %s", dstPath, strip(err))
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	gen, n, err := copySnapshot(src, tmp, prog)
	if err != nil {
		if errors.Is(err, scdb.ErrCorrupt) || errors.Is(err, scdb.ErrClosed) {
			return fileErr(srcPath, cred, err)
		}
		return fail(exitError, "cannot write the backup of %s to %s: %s", srcPath, dstPath, strip(err))
	}
	if err := tmp.Sync(); err != nil {
		return fail(exitError, "cannot flush the backup to disk beside %s: %s", dstPath, strip(err))
	}
	if err := tmp.Close(); err != nil {
		return fail(exitError, "cannot write the backup beside %s: %s", dstPath, strip(err))
	}
	rep, err := checkBackup(tmp.Name(), dstPath, cred, gen, prog)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dstPath); err != nil {
		return fail(exitError, "cannot put the backup in place at %s: %s", dstPath, strip(err))
	}
	renamed = true
	if err := syncDir(filepath.Dir(dstPath)); err != nil {
		return fail(exitError, "%s was written, but syncing its directory failed: %s", dstPath, strip(err))
	}
	prog.Stop()
	fmt.Fprintf(a.stdout, "backed up %s (generation %d) to %s: %s, %d %s, %d %s, %d value bytes; check passed\n",
		srcPath, gen, dstPath, humanBytes(n), rep.Lists, plural(rep.Lists, "list", "lists"),
		rep.Records, plural(int(min(rep.Records, 2)), "record", "records"), rep.Bytes)
	return nil
}

// backupTarget refuses a DEST that cannot take a backup: a directory, or
// FILE itself. An existing file is replaced, as cp would, but only once the
// new copy has passed its check.
func backupTarget(srcPath, dstPath string) error {
	dst, err := os.Stat(dstPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fail(exitError, "cannot use %s: %s", dstPath, strip(err))
	}
	if dst.IsDir() {
		return fail(exitError, "%s is a directory; give the backup's file name, e.g. %s",
			dstPath, filepath.Join(dstPath, filepath.Base(srcPath)))
	}
	if src, err := os.Stat(srcPath); err == nil && os.SameFile(src, dst) {
		return fail(exitError, "%s and %s are the same file; back up to another name", srcPath, dstPath)
	}
	return nil
}

// copySnapshot writes src's last commit to f from one read transaction and
// returns its generation and the bytes written.
func copySnapshot(src *scdb.DB, f *os.File, prog *progress) (gen uint64, n int64, err error) {
	err = src.View(func(tx *scdb.Tx) error {
		gen = tx.Generation()
		if prog != nil {
			if st, err := src.Stats(); err == nil {
				prog.Start("backup", st.FileBytes())
			}
		}
		n, err = tx.WriteTo(f)
		return err
	})
	return gen, n, err
}

// checkBackup checks the copy at tmpPath, to be renamed to dstPath, and
// that it opens at the generation copied.
func checkBackup(tmpPath, dstPath string, cred *credential, gen uint64, prog *progress) (_ *scdb.CheckReport, err error) {
	db, err := openWith(tmpPath, cred, true, nil)
	if err != nil {
		return nil, fail(exitCorrupt, "the backup does not open, so %s was left as it was: %s", dstPath, strip(err))
	}
	defer closeDB(db, tmpPath, &err)
	prog.Start("check", 0)
	rep, err := db.Check()
	switch {
	case err != nil:
		return nil, fail(exitCorrupt, "the backup failed its check, so %s was left as it was (run \"scdb check\" on the original): %s",
			dstPath, strip(err))
	case rep.Generation != gen:
		return nil, fail(exitCorrupt, "the backup opens at generation %d, not the %d copied, so %s was left as it was",
			rep.Generation, gen, dstPath)
	}
	return rep, nil
}
