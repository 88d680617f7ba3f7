package pager

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/errs"
	"github.com/streamcrypt/scdb/internal/faultfile"
)

// updateSeeds rewrites the seed corpora under testdata/fuzz (pager's
// internal and external fuzz targets alike):
//
//	go test ./pager -run WriteFuzzSeeds -update-seeds
var updateSeeds = flag.Bool("update-seeds", false, "rewrite the seed corpora under testdata/fuzz")

// fuzzPayload is the payload size of the 1 KiB pages the fuzz targets use.
const fuzzPayload = 1<<MinPageShift - crypt.Overhead

// FuzzDecodeMeta decodes arbitrary bytes as the payload of meta page 1 or
// 2. A failure must be corruption of that page; a success must satisfy
// the meta invariants and re-encode to the very same bytes.
func FuzzDecodeMeta(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, second bool) {
		payload := make([]byte, fuzzPayload)
		copy(payload, data)
		pgno := uint64(1)
		if second {
			pgno = 2
		}
		m, err := decodeMeta(payload, pgno, MinPageShift)
		if err != nil {
			var pe *errs.PageError
			if !errors.As(err, &pe) || pe.Page != pgno {
				t.Fatalf("error %v is not corruption of page %d", err, pgno)
			}
			return
		}
		if metaPage(m.Gen) != pgno || m.PageCount < FirstDataPage {
			t.Fatalf("accepted %+v on page %d", m, pgno)
		}
		for _, r := range []Ref{m.Tree, m.Freelist} {
			if !r.IsZero() && (r.Page < FirstDataPage || r.Page >= m.PageCount || r.Gen > m.Gen) {
				t.Fatalf("accepted root %v in %+v", r, m)
			}
		}
		again := make([]byte, fuzzPayload)
		m.encode(again, MinPageShift)
		if !bytes.Equal(again, payload) {
			t.Fatalf("meta %+v is not canonical: decoding dropped bytes", m)
		}
	})
}

// FuzzHeader parses arbitrary bytes as the two header copies. With
// fixChecksums the target first makes each copy's checksum right, so the
// fuzzer gets past it to the fields. A failure must be one of the three
// header errors; a success must pick the valid copy with the highest epoch
// and that copy must re-encode to the very same bytes.
func FuzzHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, fixChecksums bool) {
		b := make([]byte, HeaderBytes)
		copy(b, data)
		if fixChecksums {
			for c := 0; c < headerCopies; c++ {
				h := b[c*headerSize : (c+1)*headerSize]
				binary.LittleEndian.PutUint64(h[checksumOffset:], xxhash.Sum64(h[:checksumOffset]))
			}
		}
		h, idx, err := pickHeader(b)
		if err != nil {
			if !errors.Is(err, errs.ErrNotSCDB) && !errors.Is(err, errs.ErrVersion) && !errors.Is(err, errs.ErrCorrupt) {
				t.Fatalf("unclassified header error: %v", err)
			}
			return
		}
		chosen := b[idx*headerSize : (idx+1)*headerSize]
		if !bytes.Equal(h.encode(), chosen) {
			t.Fatal("header copy is not canonical: decoding dropped bytes")
		}
		if h.pageShift < MinPageShift || h.pageShift > MaxPageShift {
			t.Fatalf("accepted page shift %d", h.pageShift)
		}
		for i := range h.slots {
			if err := h.slots[i].Validate(); err != nil {
				t.Fatalf("accepted slot %d: %v", i, err)
			}
		}
		other := b[(1-idx)*headerSize : (2-idx)*headerSize]
		if hasMagic(other) {
			if o, err := decodeHeader(other); err == nil && o.epoch > h.epoch {
				t.Fatalf("picked copy %d at epoch %d over a valid copy at epoch %d", idx, h.epoch, o.epoch)
			}
		}
	})
}

// seedRand is a deterministic byte stream, so regenerated seeds are
// identical.
type seedRand struct{ n byte }

func (r *seedRand) Read(p []byte) (int, error) {
	for i := range p {
		r.n = r.n*29 + 7
		p[i] = r.n
	}
	return len(p), nil
}

// marshalSeed encodes values in the "go test fuzz v1" corpus format.
func marshalSeed(vals ...any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case bool, uint16, uint64:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		default:
			panic(fmt.Sprintf("unsupported seed type %T", v))
		}
	}
	return []byte(b.String())
}

// readSeed decodes a corpus file written by marshalSeed.
func readSeed(t *testing.T, path string) []any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a corpus file", path)
	}
	var vals []any
	for _, l := range lines[1:] {
		typ, arg, ok := strings.Cut(l, "(")
		arg = strings.TrimSuffix(arg, ")")
		var v any
		switch {
		case !ok:
			err = fmt.Errorf("bad line %q", l)
		case typ == "[]byte":
			var s string
			s, err = strconv.Unquote(arg)
			v = []byte(s)
		case typ == "bool":
			v, err = strconv.ParseBool(arg)
		case typ == "uint16":
			var n uint64
			n, err = strconv.ParseUint(arg, 10, 16)
			v = uint16(n)
		case typ == "uint64":
			v, err = strconv.ParseUint(arg, 10, 64)
		default:
			err = fmt.Errorf("unsupported type %q", typ)
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		vals = append(vals, v)
	}
	return vals
}

func writeSeed(t *testing.T, target, name string, vals ...any) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), marshalSeed(vals...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// seedHeader is the header area of a file with a passphrase slot and a
// raw-key slot, made deterministically.
func seedHeader(t *testing.T) []byte {
	t.Helper()
	f := faultfile.New(nil)
	kdf := crypt.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}
	p, err := Create(f, crypt.Credential{Passphrase: []byte("seed")}, Options{PageSize: 1024, KDF: kdf, Rand: &seedRand{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddSlot(crypt.Credential{Key: make([]byte, crypt.KeySize)}); err != nil {
		t.Fatal(err)
	}
	return f.Bytes()[:HeaderBytes]
}

// metaPayload encodes m; the fuzz target pads with zeros, so the seed
// keeps only the fixed fields.
func metaPayload(m Meta) []byte {
	b := make([]byte, fuzzPayload)
	m.encode(b, MinPageShift)
	return b[:metaFixedSize]
}

// TestWriteFuzzSeeds regenerates the internal targets' seed corpora when
// run with -update-seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to rewrite testdata/fuzz")
	}
	full := Meta{Gen: 4, PageCount: 40, Tree: Ref{Page: 10, Gen: 3}, Freelist: Ref{Page: 39, Gen: 4}}
	writeSeed(t, "FuzzDecodeMeta", "valid-empty", metaPayload(Meta{Gen: 1, PageCount: 3}), true)
	writeSeed(t, "FuzzDecodeMeta", "valid-full", metaPayload(full), false)
	bad := metaPayload(full)
	bad[0] = TypeLeaf
	writeSeed(t, "FuzzDecodeMeta", "wrong-type", bad, false)
	bad = append(metaPayload(full), make([]byte, 50)...)
	bad[100] = 1
	writeSeed(t, "FuzzDecodeMeta", "reserved", bad, false)
	writeSeed(t, "FuzzDecodeMeta", "wrong-page", metaPayload(full), true)
	bad = metaPayload(Meta{Gen: 2, PageCount: 40, Tree: Ref{Page: 40, Gen: 2}})
	writeSeed(t, "FuzzDecodeMeta", "root-past-end", bad, false)

	h := seedHeader(t)
	writeSeed(t, "FuzzHeader", "valid", h, false)
	bad = bytes.Clone(h)
	bad[100] ^= 1
	writeSeed(t, "FuzzHeader", "copy0-damaged", bad, false)
	writeSeed(t, "FuzzHeader", "copy0-damaged-fixed", bad, true)
	bad = bytes.Clone(h)
	bad[8], bad[headerSize+8] = 2, 2
	writeSeed(t, "FuzzHeader", "version-2", bad, true)
	bad = bytes.Clone(h)
	bad[32]++ // copy 0 at a higher epoch
	writeSeed(t, "FuzzHeader", "epochs-differ", bad, true)
	writeSeed(t, "FuzzHeader", "copy0-only", h[:headerSize], false)
	writeSeed(t, "FuzzHeader", "empty", []byte{}, false)
}

// TestFuzzSeedsValid guards the committed seeds: those named valid must
// still be valid for this build, or the fuzzers start from nothing useful.
func TestFuzzSeedsValid(t *testing.T) {
	for _, name := range []string{"valid-empty", "valid-full"} {
		vals := readSeed(t, filepath.Join("testdata", "fuzz", "FuzzDecodeMeta", name))
		payload := make([]byte, fuzzPayload)
		copy(payload, vals[0].([]byte))
		pgno := uint64(1)
		if vals[1].(bool) {
			pgno = 2
		}
		if _, err := decodeMeta(payload, pgno, MinPageShift); err != nil {
			t.Errorf("FuzzDecodeMeta seed %s: %v (regenerate with -update-seeds)", name, err)
		}
	}
	vals := readSeed(t, filepath.Join("testdata", "fuzz", "FuzzHeader", "valid"))
	if _, _, err := pickHeader(vals[0].([]byte)); err != nil {
		t.Errorf("FuzzHeader seed valid: %v (regenerate with -update-seeds)", err)
	}
}
