package record

import (
	"bytes"
	"io"
	"testing"

	"pgregory.net/rapid"

	"github.com/streamcrypt/scdb/internal/memstore"
)

// TestRapidRoundTrip writes random values (0 to a few pages, sometimes
// past the first streaming run) with Put or PutReader (through a reader
// with random read sizes), several at once in one store, reads each back
// with Value and with a Reader taking random read sizes, then frees them
// in random order and checks no page is left.
func TestRapidRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		payload := rapid.SampledFrom([]int{payload1K, payload4K}).Draw(t, "payload")
		data := payload - headerSize
		maxInline := rapid.IntRange(-1, payload/4).Draw(t, "maxInline")
		s := memstore.New(payload)
		type stored struct {
			cell  []byte
			value []byte
		}
		var all []stored
		for i := range rapid.IntRange(1, 4).Draw(t, "values") {
			size := rapid.OneOf(
				rapid.IntRange(0, 2*maxInline+2),
				rapid.IntRange(0, 5*data),
				rapid.IntRange(15*data, 18*data),
			).Draw(t, "size")
			value := valueOf(size, byte(i)+rapid.Byte().Draw(t, "seed"))
			var cell []byte
			var err error
			if rapid.Bool().Draw(t, "streaming") {
				var n int64
				src := &chunkReader{r: bytes.NewReader(value), sizes: rapid.SliceOfN(rapid.IntRange(1, 3*data), 1, 4).Draw(t, "source reads")}
				cell, n, err = PutReader(s, src, maxInline)
				if err == nil && n != int64(size) {
					t.Fatalf("PutReader size %d, want %d", n, size)
				}
			} else {
				cell, err = Put(s, value, maxInline)
			}
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			if (cell[0] == TagInline) != (size <= max(maxInline, 0)) {
				t.Fatalf("%d-byte value with maxInline %d got tag %d", size, maxInline, cell[0])
			}
			all = append(all, stored{cell, value})
		}
		for _, st := range all {
			if got, err := Value(s, st.cell); err != nil || !bytes.Equal(got, st.value) {
				t.Fatalf("Value: %v (equal %v)", err, bytes.Equal(got, st.value))
			}
			if got := readRandomly(t, s, st.cell); !bytes.Equal(got, st.value) {
				t.Fatalf("Reader gave %d bytes differing from the %d written", len(got), len(st.value))
			}
		}
		for _, i := range rapid.Permutation(rangeOf(len(all))).Draw(t, "free order") {
			if err := Free(s, all[i].cell); err != nil {
				t.Fatalf("Free: %v", err)
			}
		}
		if s.Live() != 0 {
			t.Fatalf("%d pages live after freeing every value", s.Live())
		}
	})
}

func rangeOf(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = i
	}
	return r
}

// readRandomly reads cell's value through a Reader with random read sizes,
// sometimes finishing with WriteTo.
func readRandomly(t *rapid.T, s *memstore.Store, cell []byte) []byte {
	rd, err := NewReader(s, cell)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var out bytes.Buffer
	for {
		if rapid.IntRange(0, 9).Draw(t, "writeTo") == 0 {
			if _, err := rd.WriteTo(&out); err != nil {
				t.Fatalf("WriteTo: %v", err)
			}
			return out.Bytes()
		}
		p := make([]byte, rapid.IntRange(0, 3*s.PayloadSize()).Draw(t, "read size"))
		n, err := rd.Read(p)
		out.Write(p[:n])
		if err == io.EOF {
			return out.Bytes()
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if n < len(p) && int64(out.Len()) != rd.Size() {
			t.Fatalf("Read of %d bytes returned %d before the end", len(p), n)
		}
	}
}
