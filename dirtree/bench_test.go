package dirtree

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/streamcrypt/scdb/internal/memstore"
	"github.com/streamcrypt/scdb/pager"
)

const benchKeys = 1_000_000

var (
	benchOnce  sync.Once
	benchStore *memstore.Store
	benchRoot  pager.Ref
)

// benchTree returns a committed tree of 1M records on 4 KiB pages: 8-byte
// big-endian keys (record ids) and 92-byte values, 100-byte records.
func benchTree(b *testing.B) (*memstore.Store, pager.Ref) {
	benchOnce.Do(func() {
		s, tr := newStore(4056)
		val := make([]byte, 92)
		for i := range benchKeys {
			binary.BigEndian.PutUint64(val, uint64(i))
			mustPut(b, tr, key64(i), val)
		}
		root, err := tr.Flush()
		if err != nil {
			b.Fatal(err)
		}
		s.NextGen()
		benchStore, benchRoot = s, root
	})
	return benchStore, benchRoot
}

func BenchmarkGet(b *testing.B) {
	s, root := benchTree(b)
	tr := Open(s, root)
	rng := rand.New(rand.NewPCG(1, 2))
	key := make([]byte, 8)
	b.ResetTimer()
	for b.Loop() {
		binary.BigEndian.PutUint64(key, uint64(rng.IntN(benchKeys)))
		if _, ok, err := tr.Get(key); !ok || err != nil {
			b.Fatalf("Get: %v %v", ok, err)
		}
	}
}

func BenchmarkScan(b *testing.B) {
	s, root := benchTree(b)
	tr := Open(s, root)
	b.ResetTimer()
	start, records := time.Now(), 0
	for b.Loop() {
		c := tr.Cursor()
		n := 0
		for _, _, ok, err := c.First(); ok; _, _, ok, err = c.Next() {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != benchKeys {
			b.Fatalf("scanned %d records", n)
		}
		records += n
	}
	b.ReportMetric(float64(records)/time.Since(start).Seconds(), "records/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(records), "ns/record")
}

// BenchmarkPutRandom inserts into a committed tree of 100k records, committing
// every 1000 puts: copy-on-write of a path, then in-memory updates.
func BenchmarkPutRandom(b *testing.B) {
	s, tr := newStore(4056)
	val := make([]byte, 92)
	for i := range 100_000 {
		mustPut(b, tr, key64(i*10), val)
	}
	tr = commit(b, s, tr)
	rng := rand.New(rand.NewPCG(1, 2))
	i := 0
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := tr.Put(key64(rng.IntN(1_000_000)), val); err != nil {
			b.Fatal(err)
		}
		if i++; i%1000 == 0 {
			tr = commit(b, s, tr)
		}
	}
}

// BenchmarkAppend appends record ids in one transaction.
func BenchmarkAppend(b *testing.B) {
	_, tr := newStore(4056)
	val := make([]byte, 92)
	i := 0
	for b.Loop() {
		if _, _, err := tr.Put(key64(i), val); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
