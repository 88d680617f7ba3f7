package pager_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/pager"
)

func TestCreateOpenRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		cred     crypt.Credential
		pageSize int
		kind     byte
	}{
		{"raw key 1KiB", keyA, 1024, crypt.SlotRawKey},
		{"passphrase 1KiB", pass("hunter2"), 1024, crypt.SlotPassphrase},
		{"raw key default size", keyA, 0, crypt.SlotRawKey},
		{"passphrase 64KiB", pass("hunter2"), 65536, crypt.SlotPassphrase},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := opts()
			o.PageSize = tc.pageSize
			f := faultfile.New(nil)
			p, err := pager.Create(f, tc.cred, o)
			if err != nil {
				t.Fatal(err)
			}
			wantSize := tc.pageSize
			if wantSize == 0 {
				wantSize = pager.DefaultPageSize
			}
			if p.PageSize() != wantSize || p.PayloadSize() != wantSize-crypt.Overhead {
				t.Fatalf("page size %d payload %d", p.PageSize(), p.PayloadSize())
			}
			if m := p.Meta(); m != (pager.Meta{Gen: 0, PageCount: pager.FirstDataPage}) {
				t.Fatalf("new file meta %+v", m)
			}
			if sz, _ := f.Size(); sz != int64(3*wantSize) {
				t.Fatalf("new file is %d bytes, want 3 pages", sz)
			}
			if len(f.Unsynced()) != 0 {
				t.Fatal("Create returned before syncing")
			}
			writePage(t, p, 3, 1, 33)
			writePage(t, p, 4, 1, 44)
			m := pager.Meta{Gen: 1, PageCount: 5, Tree: pager.Ref{Page: 3, Gen: 1}, Freelist: pager.Ref{Page: 4, Gen: 1}}
			commit(t, p, m)
			id := p.FileID()
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}

			q, err := pager.Open(f.Crash(nil, nil), tc.cred, pager.Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if q.Meta() != m || q.FileID() != id || q.PageSize() != wantSize {
				t.Fatalf("reopened meta %+v id %x size %d", q.Meta(), q.FileID(), q.PageSize())
			}
			if q.MetaFault() != nil {
				t.Fatalf("both metas are valid, yet MetaFault = %v", q.MetaFault())
			}
			wantPage(t, q, pager.Ref{Page: 3, Gen: 1}, 33)
			wantPage(t, q, pager.Ref{Page: 4, Gen: 1}, 44)
			slots := q.Slots()
			if slots[0].Kind != tc.kind || slots[1].Kind != crypt.SlotEmpty {
				t.Fatalf("slots %+v", slots)
			}
			if tc.kind == crypt.SlotPassphrase && slots[0].KDF != testKDF {
				t.Fatalf("slot KDF %+v, want %+v", slots[0].KDF, testKDF)
			}
		})
	}
}

func TestCreateOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.scdb")
	f, err := pager.OpenFile(path, true, false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pager.Create(f, keyA, opts())
	if err != nil {
		t.Fatal(err)
	}
	writePage(t, p, 3, 1, 7)
	commit(t, p, pager.Meta{Gen: 1, PageCount: 4, Tree: pager.Ref{Page: 3, Gen: 1}})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = pager.OpenFile(path, false, true)
	if err != nil {
		t.Fatal(err)
	}
	o := opts()
	o.ReadOnly = true
	q, err := pager.Open(f, keyA, o)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	wantPage(t, q, pager.Ref{Page: 3, Gen: 1}, 7)
	if err := q.WritePage(5, 2, payload(q, 1)); !errors.Is(err, errs.ErrReadOnly) {
		t.Fatalf("WritePage on a read-only pager: %v", err)
	}
	if err := q.Commit(pager.Meta{Gen: 2, PageCount: 4}); !errors.Is(err, errs.ErrReadOnly) {
		t.Fatalf("Commit on a read-only pager: %v", err)
	}
	if _, err := q.AddSlot(rawKey(2)); !errors.Is(err, errs.ErrReadOnly) {
		t.Fatalf("AddSlot on a read-only pager: %v", err)
	}
}

func TestCreateInvalid(t *testing.T) {
	tests := []struct {
		name string
		cred crypt.Credential
		opts pager.Options
	}{
		{"page size 512", keyA, pager.Options{PageSize: 512}},
		{"page size 3000", keyA, pager.Options{PageSize: 3000}},
		{"page size 128KiB", keyA, pager.Options{PageSize: 1 << 17}},
		{"read-only", keyA, pager.Options{ReadOnly: true}},
		{"no credential", crypt.Credential{}, opts()},
		{"short key", crypt.Credential{Key: []byte("short")}, opts()},
		{"bad KDF", pass("pw"), pager.Options{KDF: crypt.KDFParams{Time: 1000, MemoryKiB: 64, Threads: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := faultfile.New(nil)
			if _, err := pager.Create(f, tc.cred, tc.opts); !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("Create: %v, want ErrInvalid", err)
			}
			if sz, _ := f.Size(); sz != 0 {
				t.Fatalf("failed Create wrote %d bytes", sz)
			}
		})
	}
}

func TestHeaderCopies(t *testing.T) {
	tests := []struct {
		name    string
		damage  []int64 // byte offsets to flip
		wantErr error
	}{
		{"intact", nil, nil},
		{"copy 0 damaged", []int64{100}, nil},
		{"copy 0 magic damaged", []int64{1}, nil},
		{"copy 0 checksum damaged", []int64{checksumOff}, nil},
		{"copy 1 damaged", []int64{headerSize + 100}, nil},
		{"copy 1 magic damaged", []int64{headerSize}, nil},
		{"both damaged", []int64{70, headerSize + 300}, errs.ErrCorrupt},
		{"both slots damaged", []int64{64 + 40, headerSize + 64 + 40}, errs.ErrCorrupt},
		{"both checksums damaged", []int64{checksumOff + 7, headerSize + checksumOff}, errs.ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := twoGenFile(t, keyA)
			for _, off := range tc.damage {
				f.FlipBit(off, 2)
			}
			p, err := pager.Open(f, keyA, opts())
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Open: %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if p.Meta().Gen != 2 {
				t.Fatalf("meta generation %d, want 2", p.Meta().Gen)
			}
			wantPage(t, p, pager.Ref{Page: 4, Gen: 2}, 4)
		})
	}
}

func TestNotSCDB(t *testing.T) {
	valid := twoGenFile(t, keyA).Bytes()
	random := make([]byte, 4096)
	rand.Read(random)
	tests := []struct {
		name    string
		content []byte
		want    error
	}{
		{"empty", nil, errs.ErrNotSCDB},
		{"one byte", []byte{0x89}, errs.ErrNotSCDB},
		{"text", []byte("hello, world\n"), errs.ErrNotSCDB},
		{"random", random, errs.ErrNotSCDB},
		{"zeros", make([]byte, 8192), errs.ErrNotSCDB},
		{"sqlite", append([]byte("SQLite format 3\x00"), make([]byte, 4080)...), errs.ErrNotSCDB},
		{"magic only", pager.Magic[:], errs.ErrNotSCDB},
		{"short file", valid[:100], errs.ErrNotSCDB},
		{"header copy 0 only", valid[:headerSize], errs.ErrCorrupt},
		{"header only", valid[:pager.HeaderBytes], errs.ErrCorrupt},
		{"truncated in meta pages", valid[:2*testPageSize+10], errs.ErrCorrupt},
		{"truncated data pages", valid[:4*testPageSize], errs.ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pager.Open(faultfile.New(tc.content), keyA, opts())
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHeaderFields(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(h []byte)
		want  error
		other error // when only copy 0 is edited, and copy 1 is damaged
	}{
		{"major 4", func(h []byte) { h[8] = 4 }, errs.ErrVersion, errs.ErrVersion},
		{"major 1", func(h []byte) { h[8] = 1 }, errs.ErrVersion, errs.ErrVersion},
		{"minor 1", func(h []byte) { h[10] = 1 }, errs.ErrVersion, errs.ErrVersion},
		{"flags", func(h []byte) { h[15] = 0x80 }, errs.ErrVersion, errs.ErrVersion},
		{"cipher suite", func(h []byte) { h[12] = 2 }, errs.ErrVersion, errs.ErrVersion},
		{"page shift 9", func(h []byte) { h[13] = 9 }, errs.ErrCorrupt, errs.ErrCorrupt},
		{"page shift 17", func(h []byte) { h[13] = 17 }, errs.ErrCorrupt, errs.ErrCorrupt},
		{"reserved after key id", func(h []byte) { h[56] = 1 }, errs.ErrCorrupt, errs.ErrCorrupt},
		{"reserved after slots", func(h []byte) { h[490] = 1 }, errs.ErrCorrupt, errs.ErrCorrupt},
		{"slot of unknown kind", func(h []byte) { h[64+104] = 9 }, errs.ErrCorrupt, errs.ErrCorrupt},
		{"slot with junk params", func(h []byte) { h[64+1] = 1 }, errs.ErrCorrupt, errs.ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := twoGenFile(t, keyA).Bytes()
			editHeader(b, 0, tc.edit)
			// One copy edited: the other still opens the file.
			if _, err := pager.Open(faultfile.New(b), keyA, opts()); err != nil {
				t.Fatalf("copy 0 edited, copy 1 intact: %v", err)
			}
			damaged := bytes.Clone(b)
			damaged[headerSize+200] ^= 1
			if _, err := pager.Open(faultfile.New(damaged), keyA, opts()); !errors.Is(err, tc.other) {
				t.Fatalf("copy 0 edited, copy 1 damaged: %v, want %v", err, tc.other)
			}
			editHeader(b, 1, tc.edit)
			if _, err := pager.Open(faultfile.New(b), keyA, opts()); !errors.Is(err, tc.want) {
				t.Fatalf("both copies edited: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestHeaderEpoch: of two valid copies, the one with the higher epoch wins
// whichever copy it is.
func TestHeaderEpoch(t *testing.T) {
	for c := 0; c < 2; c++ {
		b := twoGenFile(t, keyA).Bytes()
		editHeader(b, c, func(h []byte) {
			h[32]++       // epoch
			h[64+20] ^= 1 // salt of slot 0: keyA no longer opens this copy's slot
		})
		if _, err := pager.Open(faultfile.New(b), keyA, opts()); !errors.Is(err, errs.ErrWrongKey) {
			t.Fatalf("copy %d has the higher epoch and no slot for the key, yet Open: %v", c, err)
		}
	}
}

func TestWrongKey(t *testing.T) {
	raw := twoGenFile(t, keyA)
	pw := twoGenFile(t, pass("secret"))
	tests := []struct {
		name string
		f    *faultfile.File
		cred crypt.Credential
		want error
	}{
		{"other raw key", raw, rawKey(0xa2), errs.ErrWrongKey},
		{"passphrase on raw-key file", raw, pass("secret"), errs.ErrWrongKey},
		{"wrong passphrase", pw, pass("Secret"), errs.ErrWrongKey},
		{"raw key on passphrase file", pw, keyA, errs.ErrWrongKey},
		{"no credential", raw, crypt.Credential{}, errs.ErrInvalid},
		{"empty passphrase", pw, crypt.Credential{Passphrase: []byte{}}, errs.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := pager.Open(tc.f, tc.cred, opts()); !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
		})
	}
}

// metaOffset is the file offset of the meta page of generation gen.
func metaOffset(gen uint64) int64 { return int64(1+gen%2) * testPageSize }

func TestMetaFallback(t *testing.T) {
	t.Run("damaged newest meta", func(t *testing.T) {
		f := twoGenFile(t, keyA)
		f.FlipBit(metaOffset(2)+500, 0)
		p := open(t, f, keyA)
		if p.Meta().Gen != 1 || p.Meta().Tree != (pager.Ref{Page: 3, Gen: 1}) {
			t.Fatalf("meta %+v, want generation 1", p.Meta())
		}
		if !errors.Is(p.MetaFault(), errs.ErrCorrupt) {
			t.Fatalf("MetaFault = %v, want ErrCorrupt", p.MetaFault())
		}
		wantPage(t, p, pager.Ref{Page: 3, Gen: 1}, 3)
	})
	t.Run("damaged older meta", func(t *testing.T) {
		f := twoGenFile(t, keyA)
		f.FlipBit(metaOffset(1)+30, 5)
		p := open(t, f, keyA)
		if p.Meta().Gen != 2 || p.MetaFault() == nil {
			t.Fatalf("meta %+v fault %v, want generation 2 and a fault", p.Meta(), p.MetaFault())
		}
	})
	t.Run("both metas damaged", func(t *testing.T) {
		f := twoGenFile(t, keyA)
		f.FlipBit(metaOffset(1)+30, 5)
		f.FlipBit(metaOffset(2)+1000, 5)
		if _, err := pager.Open(f, keyA, opts()); !errors.Is(err, errs.ErrCorrupt) {
			t.Fatalf("Open: %v, want ErrCorrupt", err)
		}
	})
	t.Run("metas swapped", func(t *testing.T) {
		b := twoGenFile(t, keyA).Bytes()
		m1 := bytes.Clone(b[testPageSize : 2*testPageSize])
		copy(b[testPageSize:], b[2*testPageSize:3*testPageSize])
		copy(b[2*testPageSize:], m1)
		if _, err := pager.Open(faultfile.New(b), keyA, opts()); !errors.Is(err, errs.ErrCorrupt) {
			t.Fatalf("Open: %v, want ErrCorrupt", err)
		}
	})
	t.Run("new file", func(t *testing.T) {
		f, _ := create(t, keyA)
		p := open(t, image(f), keyA)
		if p.Meta().Gen != 0 || p.MetaFault() != nil {
			t.Fatalf("new file: meta %+v fault %v; page 2 was never written, which is no fault", p.Meta(), p.MetaFault())
		}
	})
}

// TestTornMeta crashes a commit after its data was synced and its meta
// written but not synced, tearing the meta write at many lengths: only the
// whole meta makes the new generation, any torn one leaves the previous.
func TestTornMeta(t *testing.T) {
	f, p := create(t, keyA)
	writePage(t, p, 3, 1, 3)
	commit(t, p, pager.Meta{Gen: 1, PageCount: 4, Tree: pager.Ref{Page: 3, Gen: 1}})
	writePage(t, p, 4, 2, 4)
	f.FailSync(2) // the sync after the meta write
	if err := p.Commit(pager.Meta{Gen: 2, PageCount: 5, Tree: pager.Ref{Page: 4, Gen: 2}}); !errors.Is(err, faultfile.ErrInjected) {
		t.Fatalf("Commit: %v, want the injected sync failure", err)
	}
	if err := p.WritePage(5, 2, payload(p, 5)); err == nil {
		t.Fatal("a pager whose commit failed still accepts writes")
	}
	if err := p.Commit(pager.Meta{Gen: 2, PageCount: 5}); err == nil {
		t.Fatal("a pager whose commit failed still commits")
	}
	un := f.Unsynced()
	if len(un) != 1 || un[0].Kind != faultfile.Write || un[0].Off != metaOffset(2) {
		t.Fatalf("unsynced ops %v, want only the meta write", un)
	}
	for prefix := 0; prefix <= testPageSize; prefix += 8 {
		q := open(t, f.Crash(nil, &faultfile.Tear{Write: 0, Prefix: prefix}), keyA)
		want := uint64(1)
		if prefix == testPageSize {
			want = 2
		}
		if q.Meta().Gen != want {
			t.Fatalf("meta torn after %d bytes: generation %d, want %d", prefix, q.Meta().Gen, want)
		}
		wantPage(t, q, q.Meta().Tree, q.Meta().Tree.Page)
	}
}

func TestCommit(t *testing.T) {
	t.Run("generation must follow", func(t *testing.T) {
		_, p := create(t, keyA)
		for _, gen := range []uint64{0, 2, 1 << 40} {
			if err := p.Commit(pager.Meta{Gen: gen, PageCount: 3}); err == nil {
				t.Fatalf("Commit of generation %d after 0 succeeded", gen)
			}
		}
		if err := p.Commit(pager.Meta{Gen: 1, PageCount: 2}); err == nil {
			t.Fatal("Commit with a page count below the meta pages succeeded")
		}
		commit(t, p, pager.Meta{Gen: 1, PageCount: 3}) // a refused commit does not poison
		if p.Meta().Gen != 1 {
			t.Fatalf("meta %+v after commit", p.Meta())
		}
	})
	t.Run("refuses a meta that would not open", func(t *testing.T) {
		// Such a commit would return nil, and the next Open would drop it
		// in favour of the previous generation without a word.
		for _, m := range []pager.Meta{
			{Gen: 1, PageCount: 2},
			{Gen: 1, PageCount: 4, Tree: pager.Ref{Page: 4, Gen: 1}},
			{Gen: 1, PageCount: 4, Tree: pager.Ref{Page: 2, Gen: 1}},
			{Gen: 1, PageCount: 4, Tree: pager.Ref{Page: 3, Gen: 2}},
			{Gen: 1, PageCount: 4, Freelist: pager.Ref{Page: 9, Gen: 1}},
			{Gen: 1, PageCount: 4, Freelist: pager.Ref{Page: 3, Gen: 5}},
		} {
			f, p := create(t, keyA)
			writePage(t, p, 3, 1, 3)
			if err := p.Commit(m); !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("Commit(%+v) = %v, want ErrInvalid", m, err)
			}
			if p.Meta().Gen != 0 || open(t, image(f), keyA).Meta().Gen != 0 {
				t.Fatalf("refused Commit(%+v) changed the state", m)
			}
			commit(t, p, pager.Meta{Gen: 1, PageCount: 4, Tree: pager.Ref{Page: 3, Gen: 1}})
			if q := open(t, image(f), keyA); q.Meta().Gen != 1 {
				t.Fatalf("a good commit after a refused one: reopened at %+v", q.Meta())
			}
		}
	})
	t.Run("syncs data before meta", func(t *testing.T) {
		f, p := create(t, keyA)
		writePage(t, p, 3, 1, 3)
		before := len(f.Log())
		commit(t, p, pager.Meta{Gen: 1, PageCount: 4})
		var kinds []faultfile.Kind
		for _, op := range f.Log()[before:] {
			kinds = append(kinds, op.Kind)
		}
		want := []faultfile.Kind{faultfile.Sync, faultfile.Write, faultfile.Sync}
		if len(kinds) != 3 || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] {
			t.Fatalf("commit did %v, want sync, meta write, sync", kinds)
		}
	})
	t.Run("NoSync", func(t *testing.T) {
		f, p := create(t, keyA)
		p.Close()
		o := opts()
		o.NoSync = true
		g := image(f)
		q, err := pager.Open(g, keyA, o)
		if err != nil {
			t.Fatal(err)
		}
		writePage(t, q, 3, 1, 3)
		commit(t, q, pager.Meta{Gen: 1, PageCount: 4})
		for _, op := range g.Log() {
			if op.Kind == faultfile.Sync {
				t.Fatal("NoSync commit called Sync")
			}
		}
		if r := open(t, image(g), keyA); r.Meta().Gen != 1 {
			t.Fatalf("NoSync commit not written: reopened at %+v", r.Meta())
		}
	})
	t.Run("trims the file", func(t *testing.T) {
		f, p := create(t, keyA)
		for pg := uint64(3); pg < 10; pg++ {
			writePage(t, p, pg, 1, pg)
		}
		commit(t, p, pager.Meta{Gen: 1, PageCount: 6})
		if sz, _ := f.Size(); sz != 6*testPageSize {
			t.Fatalf("file is %d bytes after committing 6 pages", sz)
		}
		writePage(t, p, 3, 2, 30) // the pager keeps working
		commit(t, p, pager.Meta{Gen: 2, PageCount: 6, Tree: pager.Ref{Page: 3, Gen: 2}})
		wantPage(t, open(t, image(f), keyA), pager.Ref{Page: 3, Gen: 2}, 30)
	})
	t.Run("failed data sync poisons", func(t *testing.T) {
		f, p := create(t, keyA)
		writePage(t, p, 3, 1, 3)
		f.FailSync(1)
		if err := p.Commit(pager.Meta{Gen: 1, PageCount: 4}); err == nil {
			t.Fatal("Commit succeeded though its sync failed")
		}
		if err := p.Commit(pager.Meta{Gen: 1, PageCount: 4}); err == nil {
			t.Fatal("Commit retried on a poisoned pager")
		}
		if _, err := p.AddSlot(rawKey(3)); err == nil {
			t.Fatal("AddSlot on a poisoned pager")
		}
		if q := open(t, image(f), keyA); q.Meta().Gen != 0 {
			t.Fatalf("meta written though the data sync failed: %+v", q.Meta())
		}
	})
	t.Run("failed meta write poisons", func(t *testing.T) {
		f, p := create(t, keyA)
		f.FailWrite(1)
		if err := p.Commit(pager.Meta{Gen: 1, PageCount: 3}); !errors.Is(err, faultfile.ErrInjected) {
			t.Fatalf("Commit: %v", err)
		}
		if err := p.WritePage(3, 1, payload(p, 1)); err == nil {
			t.Fatal("write after a failed commit")
		}
	})
}

func TestPages(t *testing.T) {
	f, p := create(t, keyA)
	for pg := uint64(3); pg < 8; pg++ {
		writePage(t, p, pg, 1, pg)
	}
	commit(t, p, pager.Meta{Gen: 1, PageCount: 8})
	for pg := uint64(3); pg < 8; pg++ {
		wantPage(t, p, pager.Ref{Page: pg, Gen: 1}, pg)
	}

	t.Run("ReadPages", func(t *testing.T) {
		dst := make([]byte, 3*p.PayloadSize())
		if err := p.ReadPages(pager.Ref{Page: 4, Gen: 1}, dst); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if !bytes.Equal(dst[i*p.PayloadSize():(i+1)*p.PayloadSize()], payload(p, uint64(4+i))) {
				t.Fatalf("ReadPages page %d differs", 4+i)
			}
		}
		for _, n := range []int{0, p.PayloadSize() - 1, p.PayloadSize() + 1} {
			if err := p.ReadPages(pager.Ref{Page: 4, Gen: 1}, make([]byte, n)); err == nil {
				t.Fatalf("ReadPages into %d bytes succeeded", n)
			}
		}
		wantPageError(t, p.ReadPages(pager.Ref{Page: 5, Gen: 2}, dst), 5)
		wantPageError(t, p.ReadPages(pager.Ref{Page: 6, Gen: 1}, dst), 6) // runs past the end
		wantPageError(t, p.ReadPages(pager.Ref{Page: 2, Gen: 1}, dst), 2)
	})

	t.Run("bad references", func(t *testing.T) {
		for _, ref := range []pager.Ref{
			{Page: 0, Gen: 0}, {Page: 1, Gen: 0}, {Page: 2, Gen: 1}, // reserved
			{Page: 3, Gen: 0}, {Page: 3, Gen: 2}, // other generation
			{Page: 8, Gen: 1}, {Page: 1 << 40, Gen: 1}, {Page: 1<<64 - 1, Gen: 1}, // past the end
		} {
			_, err := p.Page(ref)
			wantPageError(t, err, ref.Page)
		}
	})

	t.Run("bad writes", func(t *testing.T) {
		for _, pg := range []uint64{0, 1, 2} {
			if err := p.WritePage(pg, 2, payload(p, 1)); err == nil {
				t.Fatalf("WritePage of reserved page %d succeeded", pg)
			}
		}
		if err := p.WritePage(9, 2, make([]byte, p.PayloadSize()-1)); err == nil {
			t.Fatal("WritePage of a short payload succeeded")
		}
	})

	t.Run("moved page", func(t *testing.T) {
		b := f.Bytes()
		copy(b[6*testPageSize:7*testPageSize], b[3*testPageSize:4*testPageSize])
		q := open(t, faultfile.New(b), keyA)
		_, err := q.Page(pager.Ref{Page: 6, Gen: 1})
		wantPageError(t, err, 6)
		wantPage(t, q, pager.Ref{Page: 3, Gen: 1}, 3)
	})

	t.Run("damaged page", func(t *testing.T) {
		b := f.Bytes()
		b[5*testPageSize+333] ^= 0x10
		q := open(t, faultfile.New(b), keyA)
		_, err := q.Page(pager.Ref{Page: 5, Gen: 1})
		wantPageError(t, err, 5)
		wantPageError(t, q.ReadPages(pager.Ref{Page: 4, Gen: 1}, make([]byte, 3*q.PayloadSize())), 5)
	})
}

func TestReplayedPage(t *testing.T) {
	f, p := create(t, keyA)
	writePage(t, p, 3, 1, 1)
	commit(t, p, pager.Meta{Gen: 1, PageCount: 4, Tree: pager.Ref{Page: 3, Gen: 1}})
	old := f.Bytes()[3*testPageSize : 4*testPageSize]
	writePage(t, p, 3, 2, 2) // the page is rewritten in place at generation 2
	commit(t, p, pager.Meta{Gen: 2, PageCount: 4, Tree: pager.Ref{Page: 3, Gen: 2}})
	b := f.Bytes()
	copy(b[3*testPageSize:], old)
	q := open(t, faultfile.New(b), keyA)
	_, err := q.Page(q.Meta().Tree)
	wantPageError(t, err, 3)
}

func TestPageFromOtherFile(t *testing.T) {
	fa, pa := create(t, keyA)
	fb, pb := create(t, keyA) // same raw key, its own file id and data key
	for _, x := range []struct {
		f *faultfile.File
		p *pager.Pager
	}{{fa, pa}, {fb, pb}} {
		writePage(t, x.p, 3, 1, 3)
		commit(t, x.p, pager.Meta{Gen: 1, PageCount: 4, Tree: pager.Ref{Page: 3, Gen: 1}})
	}
	b := fa.Bytes()
	copy(b[3*testPageSize:], fb.Bytes()[3*testPageSize:4*testPageSize])
	q := open(t, faultfile.New(b), keyA)
	_, err := q.Page(pager.Ref{Page: 3, Gen: 1})
	wantPageError(t, err, 3)

	// A whole meta page from the other file is no better.
	b = fa.Bytes()
	copy(b[2*testPageSize:], fb.Bytes()[2*testPageSize:3*testPageSize])
	if q := open(t, faultfile.New(b), keyA); q.Meta().Gen != 0 {
		t.Fatalf("adopted another file's meta: %+v", q.Meta())
	}
}
