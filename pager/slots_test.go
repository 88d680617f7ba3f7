package pager_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/pager"
)

// opens reports whether cred opens f (a crash image is opened as it is),
// failing the test on any error other than a wrong key. When it opens, the
// committed data must read back.
func opens(t *testing.T, f *faultfile.File, cred crypt.Credential) bool {
	t.Helper()
	p, err := pager.Open(f.Clone(), cred, opts())
	if errors.Is(err, errs.ErrWrongKey) {
		return false
	}
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	wantPage(t, p, pager.Ref{Page: 4, Gen: 2}, 4)
	return true
}

func TestSlotChanges(t *testing.T) {
	a, b, c, k := pass("alpha"), pass("bravo"), pass("charlie"), rawKey(0x77)
	f := twoGenFile(t, a)
	p := open(t, f, a)
	if i, err := p.AddSlot(b); err != nil || i != 1 {
		t.Fatalf("AddSlot(b) = %d, %v", i, err)
	}
	if i, err := p.AddSlot(k); err != nil || i != 2 {
		t.Fatalf("AddSlot(k) = %d, %v", i, err)
	}
	want := [pager.NumSlots]pager.SlotInfo{
		{Kind: crypt.SlotPassphrase, KDF: testKDF},
		{Kind: crypt.SlotPassphrase, KDF: testKDF},
		{Kind: crypt.SlotRawKey},
		{Kind: crypt.SlotEmpty},
	}
	if got := p.Slots(); got != want {
		t.Fatalf("Slots() = %+v, want %+v", got, want)
	}
	for _, cred := range []crypt.Credential{a, b, k} {
		if !opens(t, f, cred) {
			t.Fatalf("added credential %q does not open the file", cred.Passphrase)
		}
	}
	if err := p.ReplaceSlot(0, c); err != nil {
		t.Fatal(err)
	}
	if opens(t, f, a) || !opens(t, f, c) || !opens(t, f, b) {
		t.Fatal("after ReplaceSlot(0, c): a must not open, c and b must")
	}
	if err := p.RemoveSlot(1); err != nil {
		t.Fatal(err)
	}
	if opens(t, f, b) || !opens(t, f, c) || !opens(t, f, k) {
		t.Fatal("after RemoveSlot(1): b must not open, c and k must")
	}

	// The pager keeps working after slot changes, and commits do not
	// touch the header.
	writePage(t, p, 5, 3, 5)
	commit(t, p, pager.Meta{Gen: 3, PageCount: 6, Tree: pager.Ref{Page: 4, Gen: 2}})
	q := open(t, image(f), k)
	wantPage(t, q, pager.Ref{Page: 5, Gen: 3}, 5)
	if got := q.Slots(); got[1].Kind != crypt.SlotEmpty || got[0].Kind != crypt.SlotPassphrase || got[2].Kind != crypt.SlotRawKey {
		t.Fatalf("reopened slots %+v", got)
	}

	// Refusals.
	for _, cred := range []crypt.Credential{a, b} { // fills slots 1 and 3
		if _, err := p.AddSlot(cred); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.AddSlot(pass("one too many")); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("AddSlot to a full header: %v", err)
	}
	if _, err := p.AddSlot(crypt.Credential{}); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("AddSlot of no credential: %v", err)
	}
	for _, i := range []int{-1, pager.NumSlots} {
		if err := p.ReplaceSlot(i, a); !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("ReplaceSlot(%d): %v", i, err)
		}
		if err := p.RemoveSlot(i); !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("RemoveSlot(%d): %v", i, err)
		}
	}
	for i := 0; i < pager.NumSlots-1; i++ {
		if err := p.RemoveSlot(i); err != nil {
			t.Fatalf("RemoveSlot(%d): %v", i, err)
		}
		if err := p.RemoveSlot(i); !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("RemoveSlot(%d) of an empty slot: %v", i, err)
		}
		if err := p.ReplaceSlot(i, a); !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("ReplaceSlot(%d) of an empty slot: %v", i, err)
		}
	}
	last := pager.NumSlots - 1
	if err := p.RemoveSlot(last); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("RemoveSlot of the last slot: %v", err)
	}
	if !opens(t, f, b) {
		t.Fatal("the last slot's credential no longer opens the file")
	}
}

// slotChange is one key-slot operation tried at every crash point.
type slotChange struct {
	name string
	do   func(p *pager.Pager) error
	// old and new say which credentials must open the file in the old and
	// in the new state.
	old, new map[string]bool
}

var (
	credA = pass("old passphrase")
	credB = pass("new passphrase")
	creds = map[string]crypt.Credential{"A": credA, "B": credB}
)

var slotChanges = []slotChange{
	{
		name: "add",
		do:   func(p *pager.Pager) error { _, err := p.AddSlot(credB); return err },
		old:  map[string]bool{"A": true, "B": false},
		new:  map[string]bool{"A": true, "B": true},
	},
	{
		name: "replace",
		do:   func(p *pager.Pager) error { return p.ReplaceSlot(0, credB) },
		old:  map[string]bool{"A": true, "B": false},
		new:  map[string]bool{"A": false, "B": true},
	},
	{
		name: "remove",
		do:   func(p *pager.Pager) error { return p.RemoveSlot(0) },
		old:  map[string]bool{"A": true, "B": true},
		new:  map[string]bool{"A": false, "B": true},
	},
}

// tearPrefixes are the lengths at which a torn header write is cut: inside
// the magic, the slots, the checksum, and whole.
var tearPrefixes = []int{0, 1, 7, 8, 64, 100, 300, 479, 504, 511, 512}

// TestSlotChangeCrash stops a slot change after each of its writes and
// syncs, then crashes keeping any subset of the unsynced writes with or
// without one torn: the file must always open, with exactly the old or the
// new set of credentials, and once the change returned nil, the new one.
func TestSlotChangeCrash(t *testing.T) {
	setups := []struct {
		name    string
		prepare func(f *faultfile.File) // damage applied before the change
		lie     bool                    // Sync lies during the change
	}{
		{"clean", nil, false},
		{"copy 0 damaged", func(f *faultfile.File) { f.FlipBit(200, 1) }, false},
		{"copy 1 damaged", func(f *faultfile.File) { f.FlipBit(headerSize+200, 1) }, false},
		{"lying sync", nil, true},
	}
	for _, ch := range slotChanges {
		for _, setup := range setups {
			t.Run(ch.name+"/"+setup.name, func(t *testing.T) {
				base := twoGenFile(t, credA)
				if ch.old["B"] {
					p := open(t, base, credA)
					if _, err := p.AddSlot(credB); err != nil {
						t.Fatal(err)
					}
					base = image(base)
				}
				if setup.prepare != nil {
					setup.prepare(base)
				}
				// How many operations does the change do?
				probe := base.Clone()
				if err := ch.do(open(t, probe, credA)); err != nil {
					t.Fatal(err)
				}
				nops := len(probe.Log()) - len(base.Log())
				if nops != 4 {
					t.Fatalf("slot change did %d operations, want 4 (write, sync, write, sync): %v", nops, probe.Log())
				}
				for k := 0; k <= nops; k++ {
					f := base.Clone()
					p := open(t, f, credA)
					f.LieSync(setup.lie)
					f.StopAfter(k)
					err := ch.do(p)
					if (err == nil) != (k == nops) {
						t.Fatalf("stopped after %d of %d operations, the change returned %v", k, nops, err)
					}
					for _, img := range crashImages(f) {
						state := credState(t, img.f, ch)
						if state == "" {
							t.Fatalf("stopped after %d operations, crash %s: opens with neither the old nor the new credentials", k, img.desc)
						}
						if err == nil && !setup.lie && state != "new" {
							t.Fatalf("the change returned nil, yet crash %s leaves the %s state", img.desc, state)
						}
						// Once the first copy is written and synced, it is a
						// complete header with a higher epoch: it must win.
						if k >= 2 && !setup.lie && state != "new" {
							t.Fatalf("first header copy synced, yet crash %s leaves the %s state", img.desc, state)
						}
					}
				}
			})
		}
	}
}

type crashImage struct {
	desc string
	f    *faultfile.File
}

// crashImages lists every image a crash of f can leave: each subset of its
// unsynced operations, and each of those with one write torn at every
// length in tearPrefixes.
func crashImages(f *faultfile.File) []crashImage {
	un := f.Unsynced()
	var out []crashImage
	for mask := 0; mask < 1<<len(un); mask++ {
		keep := func(i int) bool { return mask&(1<<i) != 0 }
		out = append(out, crashImage{fmt.Sprintf("keeping %b of %v", mask, un), f.Crash(keep, nil)})
		for w, op := range un {
			if op.Kind != faultfile.Write || keep(w) {
				continue
			}
			for _, prefix := range tearPrefixes {
				if prefix <= len(op.Data) {
					tear := &faultfile.Tear{Write: w, Prefix: prefix}
					out = append(out, crashImage{fmt.Sprintf("keeping %b, write %d torn at %d, of %v", mask, w, prefix, un), f.Crash(keep, tear)})
				}
			}
		}
	}
	return out
}

// credState says whether the credentials that open f are those of the old
// state, the new state, or neither ("").
func credState(t *testing.T, f *faultfile.File, ch slotChange) string {
	t.Helper()
	got := map[string]bool{}
	for name, cred := range creds {
		got[name] = opens(t, f, cred)
	}
	switch {
	case got["A"] == ch.old["A"] && got["B"] == ch.old["B"]:
		return "old"
	case got["A"] == ch.new["A"] && got["B"] == ch.new["B"]:
		return "new"
	}
	return ""
}
