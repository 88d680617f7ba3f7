package pager_test

import (
	"testing"

	"github.com/streamcrypt/scdb/internal/faultfile"
	"github.com/streamcrypt/scdb/pager"
)

// BenchmarkPage reads 4 KiB pages through Page: from the cache, and with a
// cache too small to hold any page (a file read and an AEAD open each
// time). The file is in memory, so "uncached" measures the pager and the
// cipher, not a disk.
func BenchmarkPage(b *testing.B) {
	const pages = 64
	f := faultfile.New(nil)
	p, err := pager.Create(f, keyA, pager.Options{KDF: testKDF})
	if err != nil {
		b.Fatal(err)
	}
	for pg := uint64(3); pg < 3+pages; pg++ {
		writePage(b, p, pg, 1, pg)
	}
	commit(b, p, pager.Meta{Gen: 1, PageCount: 3 + pages})
	for _, bc := range []struct {
		name      string
		cacheSize int
	}{
		{"cached", 0},
		{"uncached", 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q, err := pager.Open(image(f), keyA, pager.Options{CacheSize: bc.cacheSize})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(q.PayloadSize()))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := q.Page(pager.Ref{Page: 3 + uint64(i%pages), Gen: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
