package main

// Every engine must read back the same records: each reading workload hashes
// what it read, in order, and the parent compares that with the digest of
// what the generator wrote. Fields are length-prefixed so that no two
// different sequences of (list, id, value) hash the same input.

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

type digest struct {
	h   *xxhash.Digest
	buf []byte
}

func newDigest() *digest { return &digest{h: xxhash.New()} }

func (d *digest) add(list, id string, value []byte) {
	d.buf = d.buf[:0]
	d.buf = binary.AppendUvarint(d.buf, uint64(len(list)))
	d.buf = append(d.buf, list...)
	d.buf = binary.AppendUvarint(d.buf, uint64(len(id)))
	d.buf = append(d.buf, id...)
	d.buf = binary.AppendUvarint(d.buf, uint64(len(value)))
	d.h.Write(d.buf)
	d.h.Write(value)
}

func (d *digest) sum() string { return fmt.Sprintf("%016x", d.h.Sum64()) }
