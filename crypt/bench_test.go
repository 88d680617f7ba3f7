package crypt_test

import (
	"crypto/rand"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/streamcrypt/scdb/crypt"
)

// benchPayload is the plaintext of one 4 KiB page.
const benchPayload = 4096 - crypt.Overhead

// benchVsRaw runs ours b.N times under the benchmark timer, interleaved in
// batches with as many runs of raw outside it, so load on the machine hits
// both alike. Besides ours' MB/s it reports the raw AEAD's ("raw-MB/s") and
// ours relative to it ("x-raw": 1.00 means no overhead). Ours includes
// drawing a random nonce from crypto/rand; raw uses a fixed nonce, so the
// ratio shows what that costs.
func benchVsRaw(b *testing.B, ours, raw func()) {
	const batch = 256
	var oursTime, rawTime time.Duration
	b.SetBytes(benchPayload)
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(batch, b.N-done)
		start := time.Now()
		for i := 0; i < n; i++ {
			ours()
		}
		oursTime += time.Since(start)
		b.StopTimer()
		start = time.Now()
		for i := 0; i < n; i++ {
			raw()
		}
		rawTime += time.Since(start)
		b.StartTimer()
		done += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*benchPayload/rawTime.Seconds()/1e6, "raw-MB/s")
	b.ReportMetric(float64(oursTime)/float64(rawTime), "x-raw")
}

func benchSetup(b *testing.B) (*crypt.PageCipher, []byte, []byte) {
	b.Helper()
	key := make([]byte, crypt.KeySize)
	rand.Read(key)
	c, err := crypt.NewPageCipher(key, fileID(1), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, benchPayload)
	rand.Read(payload)
	return c, key, payload
}

func BenchmarkSeal(b *testing.B) {
	c, key, payload := benchSetup(b)
	sealed := make([]byte, benchPayload+crypt.Overhead)
	aead, _ := chacha20poly1305.NewX(key)
	ad := crypt.PageAD(fileID(1), 10, 3)
	nonce := make([]byte, crypt.NonceSize)
	benchVsRaw(b, func() {
		if err := c.Seal(sealed, payload, 10, 3); err != nil {
			b.Fatal(err)
		}
	}, func() {
		aead.Seal(sealed[crypt.NonceSize:crypt.NonceSize], nonce, payload, ad[:])
	})
}

func BenchmarkOpen(b *testing.B) {
	c, key, payload := benchSetup(b)
	sealed := make([]byte, benchPayload+crypt.Overhead)
	if err := c.Seal(sealed, payload, 10, 3); err != nil {
		b.Fatal(err)
	}
	aead, _ := chacha20poly1305.NewX(key)
	ad := crypt.PageAD(fileID(1), 10, 3)
	out := make([]byte, benchPayload)
	benchVsRaw(b, func() {
		if err := c.Open(out, sealed, 10, 3); err != nil {
			b.Fatal(err)
		}
	}, func() {
		if _, err := aead.Open(out[:0], sealed[:crypt.NonceSize], sealed[crypt.NonceSize:], ad[:]); err != nil {
			b.Fatal(err)
		}
	})
}
