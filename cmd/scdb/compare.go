package main

import (
	"bytes"
	"fmt"
	"io"
	"iter"

	"github.com/streamcrypt/scdb"
)

// side is one of the two files compared: its name for messages and a
// snapshot of it.
type side struct {
	path string
	tx   *scdb.Tx
}

// sameContents streams two files in lockstep, list by list, record by
// record and value chunk by chunk, and returns an exitCorrupt error naming
// the first difference. Memory stays flat whatever their size.
func sameContents(a, b *scdb.DB, pathA, pathB string) error {
	ta, err := a.Begin(false)
	if err != nil {
		return fileErr(pathA, nil, err)
	}
	defer ta.Rollback()
	tb, err := b.Begin(false)
	if err != nil {
		return fileErr(pathB, nil, err)
	}
	defer tb.Rollback()
	sa, sb := side{pathA, ta}, side{pathB, tb}
	if err := sameSequences(sa, sb); err != nil {
		return err
	}
	nextA, stopA := iter.Pull2(ta.Lists())
	defer stopA()
	nextB, stopB := iter.Pull2(tb.Lists())
	defer stopB()
	for {
		na, errA, okA := nextA()
		nb, errB, okB := nextB()
		if err := firstErr(sa, errA, sb, errB); err != nil {
			return err
		}
		switch {
		case !okA && !okB:
			return nil
		case !okA || (okB && nb < na):
			return differ(sa, sb, "list %s is only in %s", quote(nb), pathB)
		case !okB || na < nb:
			return differ(sa, sb, "list %s is only in %s", quote(na), pathA)
		}
		if err := sameList(sa, sb, na); err != nil {
			return err
		}
	}
}

func sameList(sa, sb side, name string) error {
	la, lb := sa.tx.List(name), sb.tx.List(name)
	if la.Len() != lb.Len() || la.Bytes() != lb.Bytes() {
		return differ(sa, sb, "list %s holds %d records of %d bytes in %s, %d of %d in %s", quote(name),
			la.Len(), la.Bytes(), sa.path, lb.Len(), lb.Bytes(), sb.path)
	}
	nextA, stopA := iter.Pull2(la.All())
	defer stopA()
	nextB, stopB := iter.Pull2(lb.All())
	defer stopB()
	for {
		ra, errA, okA := nextA()
		rb, errB, okB := nextB()
		if err := firstErr(sa, errA, sb, errB); err != nil {
			return err
		}
		switch {
		case !okA && !okB:
			return nil
		case okA != okB || ra.ID() != rb.ID() || ra.Size() != rb.Size():
			return differ(sa, sb, "list %s differs at id %s", quote(name), quote(firstID(ra, rb)))
		}
		if err := sameValue(sa, sb, name, ra, rb); err != nil {
			return err
		}
	}
}

func firstID(a, b *scdb.Record) string {
	if a == nil || (b != nil && b.ID() < a.ID()) {
		return b.ID()
	}
	return a.ID()
}

// sameValue compares two values of equal size 64 KiB at a time.
func sameValue(sa, sb side, list string, ra, rb *scdb.Record) error {
	const chunk = 64 << 10
	bufA, bufB := make([]byte, chunk), make([]byte, chunk)
	rdA, rdB := ra.Reader(), rb.Reader()
	for off := int64(0); off < ra.Size(); off += chunk {
		n := int(min(chunk, ra.Size()-off))
		_, errA := io.ReadFull(rdA, bufA[:n])
		_, errB := io.ReadFull(rdB, bufB[:n])
		if err := firstErr(sa, errA, sb, errB); err != nil {
			return err
		}
		if !bytes.Equal(bufA[:n], bufB[:n]) {
			return differ(sa, sb, "list %s: the values of id %s differ within bytes %d..%d", quote(list), quote(ra.ID()), off, off+int64(n)-1)
		}
	}
	return nil
}

func firstErr(sa side, errA error, sb side, errB error) error {
	if errA != nil {
		return fileErr(sa.path, nil, errA)
	}
	if errB != nil {
		return fileErr(sb.path, nil, errB)
	}
	return nil
}

func differ(sa, sb side, format string, args ...any) error {
	return fail(exitCorrupt, "%s and %s differ: %s", sa.path, sb.path, fmt.Sprintf(format, args...))
}

// sameSequences compares the lists' Append sequences, those of lists emptied
// by Delete included: a copy that lost one would hand out ids that sort
// before ids already given.
func sameSequences(sa, sb side) error {
	qa, err := sa.tx.AppendSequences()
	if err != nil {
		return fileErr(sa.path, nil, err)
	}
	qb, err := sb.tx.AppendSequences()
	if err != nil {
		return fileErr(sb.path, nil, err)
	}
	for name, seq := range qa {
		if qb[name] != seq {
			return differ(sa, sb, "list %s's Append sequence is %d in %s, %d in %s", quote(name), seq, sa.path, qb[name], sb.path)
		}
	}
	for name, seq := range qb {
		if _, ok := qa[name]; !ok {
			return differ(sa, sb, "list %s's Append sequence is 0 in %s, %d in %s", quote(name), sa.path, seq, sb.path)
		}
	}
	return nil
}
