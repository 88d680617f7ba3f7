package dirtree

import (
	"encoding/binary"
	"testing"
)

func TestSequentialAndRandom(t *testing.T) {
	for _, payload := range []int{984, 4056} {
		s, tr := newStore(payload)
		m := model{}
		for i := 0; i < 5000; i++ {
			k := binary.BigEndian.AppendUint64(nil, uint64(i*7919%5000))
			v := []byte{byte(i), byte(i >> 8)}
			mustPut(t, tr, k, v)
			m[string(k)] = v
		}
		compare(t, tr, m)
		tr = commit(t, s, tr)
		compare(t, tr, m)
		for i := 0; i < 5000; i += 2 {
			k := binary.BigEndian.AppendUint64(nil, uint64(i))
			if _, ok, err := tr.Delete(k); err != nil || !ok {
				t.Fatalf("Delete %d: %v %v", i, ok, err)
			}
			delete(m, string(k))
		}
		compare(t, tr, m)
		if err := tr.Drop(func([]byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if s.Live() != 0 {
			t.Fatalf("payload %d: %d pages live after Drop", payload, s.Live())
		}
	}
}
