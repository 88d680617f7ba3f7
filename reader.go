package scdb

import (
	"io"

	"github.com/streamcrypt/scdb/record"
)

// Reader returns the value as a stream, decrypted page by page: memory stays
// at a few pages whatever the value's size (a value of up to 256 KiB that a
// forward loop decrypted ahead is handed over whole, and read from memory). Reading fails with ErrTxDone
// once the record's transaction has ended.
func (r *Record) Reader() *ValueReader {
	vr := &ValueReader{rec: r}
	if vr.err = r.check(); vr.err == nil {
		var cell []byte
		if cell, vr.err = r.cellBytes(); vr.err == nil {
			vr.rd, vr.err = r.reader(cell)
		}
	}
	return vr
}

// ValueReader reads one record's value. It is an io.Reader, io.WriterTo,
// io.Seeker and io.ReaderAt, so it serves range requests through
// http.ServeContent and reads any part of a large value without reading
// the pages before it (beyond one small header page per 1024 pages, read
// once). Every page is authenticated when it is read. It is not safe for
// concurrent use (ReadAt included), and fails once the record's
// transaction has ended: its pages may then be reused. (Within a write
// transaction they are not: a page freed by a transaction is reused only
// after it commits, so a record deleted or replaced after it was read still
// reads as it was.)
type ValueReader struct {
	rec *Record
	rd  *record.Reader
	err error // from opening the value: every call returns it
}

// check returns the error every call fails with, if any.
func (vr *ValueReader) check() error {
	if vr.err != nil {
		return vr.err
	}
	return vr.rec.check()
}

// Size returns the length of the value in bytes.
func (vr *ValueReader) Size() int64 { return vr.rec.size }

// Read implements io.Reader.
func (vr *ValueReader) Read(p []byte) (int, error) {
	if err := vr.check(); err != nil {
		return 0, err
	}
	return vr.rd.Read(p)
}

// WriteTo streams the rest of the value to w without an intermediate copy.
// The transaction is checked once, before: w must not end it.
func (vr *ValueReader) WriteTo(w io.Writer) (int64, error) {
	if err := vr.check(); err != nil {
		return 0, err
	}
	return vr.rd.WriteTo(w)
}

// Seek implements io.Seeker: Read continues from the new offset. Seeking
// past the end is allowed; Read there returns io.EOF.
func (vr *ValueReader) Seek(offset int64, whence int) (int64, error) {
	if err := vr.check(); err != nil {
		return 0, err
	}
	return vr.rd.Seek(offset, whence)
}

// ReadAt implements io.ReaderAt, except that calls must not run
// concurrently: it reads len(p) bytes from off, or fewer with io.EOF at the
// end of the value, and leaves the offset of Read and Seek as it was.
func (vr *ValueReader) ReadAt(p []byte, off int64) (int, error) {
	if err := vr.check(); err != nil {
		return 0, err
	}
	return vr.rd.ReadAt(p, off)
}

// reader returns a reader of the value of cell, the record's, over the
// bytes read ahead for it if there are any.
func (r *Record) reader(cell []byte) (*record.Reader, error) {
	if v, ok := r.slot.Take(); ok {
		rd, ok, err := record.NewReaderOver(r.tx.rd, cell, v)
		if ok || err != nil {
			return rd, err
		}
		record.Release(v)
	}
	return record.NewReader(r.tx.rd, cell)
}
