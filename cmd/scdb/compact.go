package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/streamcrypt/scdb"
)

// compact writes a minimal copy of SRC to DST with DB.CompactTo (same key
// slots and data key, a new file id, generation continued), then opens DST
// and streams both files in lockstep to prove they hold the same lists, ids,
// values and Append sequences. A copy that differs is deleted. With one
// argument the copy is written beside FILE and renamed over it.
func (a *app) compact(args []string) (err error) {
	if len(args) == 1 {
		return a.compactInPlace(args[0])
	}
	srcPath, dstPath := args[0], args[1]
	if _, err := os.Lstat(dstPath); !errors.Is(err, fs.ErrNotExist) {
		return fail(exitError, "%s already exists; compact writes a new file: choose another name, or delete it first", dstPath)
	}
	return a.compactTo(srcPath, dstPath, true)
}

// compactInPlace compacts path to path.compact (a stale one from a crashed
// run is replaced) and renames the verified copy over path. The source is
// opened for writing so that no other program commits to it meanwhile.
func (a *app) compactInPlace(path string) error {
	tmp := path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(exitError, "cannot remove the stale %s: %s", tmp, strip(err))
	}
	if err := a.compactTo(path, tmp, false); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fail(exitError, "cannot replace %s: %s", path, strip(err))
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fail(exitError, "%s was replaced, but syncing its directory failed: %s", path, strip(err))
	}
	return nil
}

// shrink runs DB.Shrink until the file stops getting smaller (each call
// moves at most 32 MiB of live pages) and says what it gave back.
func (a *app) shrink(args []string) error {
	path := args[0]
	return a.withDB(path, false, nil, func(db *scdb.DB, cred *credential) error {
		before, err := db.Stats()
		if err != nil {
			return fileErr(path, cred, err)
		}
		after := before
		for {
			if err := db.Shrink(); err != nil {
				return fileErr(path, cred, err)
			}
			st, err := db.Stats()
			if err != nil {
				return fileErr(path, cred, err)
			}
			shrank := st.Pages < after.Pages
			after = st
			if !shrank {
				break
			}
		}
		if after.OldestOtherSnapshot != 0 && after.Pages == before.Pages {
			fmt.Fprintf(a.stdout, "%s: another program is reading a snapshot of it; nothing can move until it ends\n", path)
		}
		fmt.Fprintf(a.stdout, "shrank %s from %d pages (%s) to %d pages (%s); %d free pages left inside it\n",
			path, before.Pages, humanBytes(before.FileBytes()), after.Pages, humanBytes(after.FileBytes()), after.FreePages)
		return nil
	})
}

// compactTo writes the verified compact copy of srcPath to dstPath.
func (a *app) compactTo(srcPath, dstPath string, readOnly bool) (err error) {
	prog := a.newProgress()
	defer prog.Stop()
	src, cred, err := a.openDB(srcPath, readOnly, prog)
	if err != nil {
		return err
	}
	defer cred.wipe()
	defer closeDB(src, srcPath, &err)
	before, err := src.Stats()
	if err != nil {
		return fileErr(srcPath, cred, err)
	}
	prog.Start("compact", usedBytes(before))
	if err := src.CompactTo(dstPath); err != nil {
		return copyErr(srcPath, dstPath, cred, err)
	}
	after, err := verifyCopy(src, srcPath, dstPath, cred, usedBytes(before), prog)
	if err != nil {
		os.Remove(dstPath)
		return err
	}
	prog.Stop()
	fmt.Fprintf(a.stdout, "compacted %s (%d pages, %s) into %s (%d pages, %s); contents verified equal\n",
		srcPath, before.Pages, humanBytes(before.FileBytes()), dstPath, after.Pages, humanBytes(after.FileBytes()))
	return nil
}

// verifyCopy opens the copy at dstPath read-only with cred and compares it
// with src, returning the copy's stats. The progress counts the srcBytes
// read from src.
func verifyCopy(src *scdb.DB, srcPath, dstPath string, cred *credential, srcBytes int64, prog *progress) (_ *scdb.Stats, err error) {
	dst, err := openWith(dstPath, cred, true, nil)
	if err != nil {
		return nil, err
	}
	defer closeDB(dst, dstPath, &err)
	prog.Start("verify", srcBytes)
	if err := sameContents(src, dst, srcPath, dstPath); err != nil {
		return nil, err
	}
	st, err := dst.Stats()
	return st, fileErr(dstPath, cred, err)
}

// copyErr words a failed copy: damage is the source's, a file-system error
// the destination's (the source is already open).
func copyErr(srcPath, dstPath string, cred *credential, err error) error {
	if errors.Is(err, scdb.ErrCorrupt) || errors.Is(err, scdb.ErrTooLarge) {
		return fileErr(srcPath, cred, err)
	}
	return fail(exitError, "cannot write %s: %s", dstPath, strip(err))
}
