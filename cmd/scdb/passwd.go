package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/streamcrypt/scdb"
)

// passwd lists, adds, replaces or removes key slots. Each change rewrites
// only the file's header (O(1), crash-safe); the data key stays, so the
// data is not re-encrypted: that is what rotate is for.
func (a *app) passwd(args []string) (err error) {
	path := args[0]
	o := &a.opts
	actions := 0
	for _, name := range []string{"add-passphrase", "add-key-file", "change", "remove"} {
		if a.set[name] {
			actions++
		}
	}
	switch {
	case actions > 1:
		return usageErr(a.cmd, "give one of --add-passphrase, --add-key-file, --change, --remove at a time")
	case a.set["new-key-file"] && !a.set["change"]:
		return usageErr(a.cmd, "--new-key-file goes with --change SLOT")
	}
	db, cred, err := a.openDB(path, actions == 0, nil)
	if err != nil {
		return err
	}
	defer cred.wipe()
	defer closeDB(db, path, &err)
	switch {
	case a.set["add-passphrase"] || a.set["add-key-file"]:
		err = a.addSlot(db, path)
	case a.set["change"]:
		err = a.changeSlot(db, path, o.change)
	case a.set["remove"]:
		err = a.removeSlot(db, path, o.remove)
	}
	if err != nil {
		return err
	}
	writeSlots(a.stdout, path, db.KeySlots())
	if actions == 0 {
		fmt.Fprintf(a.stdout, "change them with --add-passphrase, --add-key-file PATH, --change SLOT or --remove SLOT\n")
	}
	return nil
}

func (a *app) addSlot(db *scdb.DB, path string) error {
	var nc *credential
	var err error
	if a.opts.addKeyFile != "" {
		nc, err = a.keyFileOrNew(a.opts.addKeyFile, path)
	} else {
		nc, err = a.newPassphrase(path)
	}
	if err != nil {
		return err
	}
	defer nc.wipe()
	if len(db.KeySlots()) == scdb.MaxKeySlots {
		nc.discard()
		return fail(exitError, "%s has all %d key slots in use; remove one first (--remove SLOT)", path, scdb.MaxKeySlots)
	}
	i, err := db.AddKeySlot(nc.scdb())
	if err != nil {
		nc.discard()
		return fileErr(path, nil, err)
	}
	fmt.Fprintf(a.stdout, "added key slot %d: %s now opens %s\n", i, nc.describe(), path)
	return nil
}

func (a *app) changeSlot(db *scdb.DB, path string, slot int) error {
	if err := hasSlot(db, path, slot); err != nil {
		return err
	}
	var nc *credential
	var err error
	if a.opts.newKeyFile != "" {
		nc, err = a.keyFileOrNew(a.opts.newKeyFile, path)
	} else {
		nc, err = a.newPassphrase(path)
	}
	if err != nil {
		return err
	}
	defer nc.wipe()
	if err := db.ReplaceKeySlot(slot, nc.scdb()); err != nil {
		nc.discard()
		return fileErr(path, nil, err)
	}
	fmt.Fprintf(a.stdout, "replaced key slot %d: %s now opens %s instead of what opened it before\n", slot, nc.describe(), path)
	fmt.Fprint(a.stdout, notReencrypted)
	return nil
}

func (a *app) removeSlot(db *scdb.DB, path string, slot int) error {
	if err := hasSlot(db, path, slot); err != nil {
		return err
	}
	if len(db.KeySlots()) == 1 {
		return fail(exitError, "key slot %d is the only one of %s; removing it would leave a file nobody can open", slot, path)
	}
	if err := db.RemoveKeySlot(slot); err != nil {
		return fileErr(path, nil, err)
	}
	fmt.Fprintf(a.stdout, "removed key slot %d: what it held no longer opens %s\n", slot, path)
	fmt.Fprint(a.stdout, notReencrypted)
	return nil
}

const notReencrypted = "the data was not re-encrypted: a copy of the old file, or of its header, still opens with the old credential; \"scdb rotate\" re-encrypts\n"

func hasSlot(db *scdb.DB, path string, slot int) error {
	slots := db.KeySlots()
	if slices.ContainsFunc(slots, func(s scdb.KeySlot) bool { return s.Index == slot }) {
		return nil
	}
	var used []int
	for _, s := range slots {
		used = append(used, s.Index)
	}
	return fail(exitNotFound, "%s has no key slot %d; its slots are %v (see \"scdb passwd %s\")", path, slot, used, path)
}

func writeSlots(w io.Writer, path string, slots []scdb.KeySlot) {
	fmt.Fprintf(w, "%s has %d key %s:\n", path, len(slots), plural(len(slots), "slot", "slots"))
	for _, s := range slots {
		fmt.Fprintf(w, "  slot %d: %s\n", s.Index, slotText(s))
	}
}
