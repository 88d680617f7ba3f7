package pager

import (
	"encoding/binary"

	"github.com/streamcrypt/scdb/internal/errs"
)

// Meta is one committed state: what a meta page records. Pages 1 and 2 hold
// the two most recent metas; generation g is written to page 1 + g%2.
type Meta struct {
	Gen       uint64 // commit number; the initial empty state is 0
	PageCount uint64 // pages [0, PageCount) belong to this state's file
	Tree      Ref    // root of the directory tree; zero when empty
	Freelist  Ref    // first freelist page; zero when no page is free
}

// metaGenAD is the generation bound into a meta page's associated data: a
// reader does not yet know the meta's generation, so it is fixed at zero and
// the generation is checked inside the payload instead.
const metaGenAD = 0

const metaFixedSize = 56

// metaPage returns the page number that holds generation gen's meta.
func metaPage(gen uint64) uint64 { return 1 + gen%2 }

func (m *Meta) encode(payload []byte, pageShift byte) {
	clear(payload)
	payload[0] = TypeMeta
	payload[1] = pageShift
	binary.LittleEndian.PutUint16(payload[2:], FormatMajor)
	binary.LittleEndian.PutUint64(payload[8:], m.Gen)
	binary.LittleEndian.PutUint64(payload[16:], m.PageCount)
	PutRef(payload[24:], m.Tree)
	PutRef(payload[40:], m.Freelist)
}

// decodeMeta parses the payload of meta page pgno and checks it against the
// header's page size.
func decodeMeta(payload []byte, pgno uint64, pageShift byte) (Meta, error) {
	var m Meta
	if payload[0] != TypeMeta {
		return m, errs.Corrupt(pgno, "meta page has type %d", payload[0])
	}
	if payload[1] != pageShift || binary.LittleEndian.Uint16(payload[2:]) != FormatMajor {
		return m, errs.Corrupt(pgno, "meta page disagrees with the header (page size 2^%d, format %d)",
			payload[1], binary.LittleEndian.Uint16(payload[2:]))
	}
	if !allZero(payload[4:8]) || !allZero(payload[metaFixedSize:]) {
		return m, errs.Corrupt(pgno, "reserved meta bytes are not zero")
	}
	m.Gen = binary.LittleEndian.Uint64(payload[8:])
	m.PageCount = binary.LittleEndian.Uint64(payload[16:])
	m.Tree = GetRef(payload[24:])
	m.Freelist = GetRef(payload[40:])
	if metaPage(m.Gen) != pgno {
		return m, errs.Corrupt(pgno, "meta of generation %d found on page %d", m.Gen, pgno)
	}
	if m.PageCount < FirstDataPage || m.PageCount > MaxPageCount(pageShift) {
		return m, errs.Corrupt(pgno, "page count %d outside %d..%d", m.PageCount, FirstDataPage, MaxPageCount(pageShift))
	}
	for _, r := range []Ref{m.Tree, m.Freelist} {
		if r.IsZero() && r.Gen != 0 {
			// A zero reference is "no page" only with generation 0
			// (FORMAT.md §6.2): anything else is no meta a writer made.
			return m, errs.Corrupt(pgno, "zero reference with generation %d", r.Gen)
		}
		if !r.IsZero() && (r.Page < FirstDataPage || r.Page >= m.PageCount || r.Gen > m.Gen) {
			return m, errs.Corrupt(pgno, "root %v outside the file or from the future", r)
		}
	}
	return m, nil
}

// MaxPageCount is the largest page count a meta may state at page size
// 2^pageShift: the file's length in bytes, page count × page size, then
// fits a signed 64-bit offset, so no later arithmetic on it can wrap.
func MaxPageCount(pageShift byte) uint64 { return 1 << (63 - uint(pageShift)) }

// FirstDataPage is the first page that is neither the header nor a meta page.
const FirstDataPage = 3

// RefSize is the encoded size of a Ref: page number u64, generation u64.
const RefSize = 16

// PutRef encodes r into b[:RefSize].
func PutRef(b []byte, r Ref) {
	binary.LittleEndian.PutUint64(b, r.Page)
	binary.LittleEndian.PutUint64(b[8:], r.Gen)
}

// GetRef decodes a Ref from b[:RefSize].
func GetRef(b []byte) Ref {
	return Ref{Page: binary.LittleEndian.Uint64(b), Gen: binary.LittleEndian.Uint64(b[8:])}
}
