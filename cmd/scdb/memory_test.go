package main

import (
	"bytes"
	"hash/crc32"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// pattern yields size bytes of a fixed pseudo-random pattern.
type pattern struct{ off, size int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), p.size-p.off))
	for i := range n {
		x := uint64(p.off+int64(i)) * 0x9e3779b97f4a7c15
		b[i] = byte(x >> 56)
	}
	p.off += int64(n)
	return n, nil
}

// heapSampler is an io.Writer that counts and checksums what it is given
// and samples the heap in use every MiB.
type heapSampler struct {
	n, next int64
	peak    uint64
	crc     uint32
}

func (s *heapSampler) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	s.crc = crc32.Update(s.crc, crc32.IEEETable, p)
	if s.n >= s.next {
		s.next += 1 << 20
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.peak = max(s.peak, ms.HeapInuse)
	}
	return len(p), nil
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// The value of get, and of put and export, streams: a 64 MiB value keeps
// the heap within a few MiB of where it started.
func TestLargeValueHeapBounded(t *testing.T) {
	const size = 64 << 20
	const limit = 16 << 20
	path := newFile(t)
	e := keyEnv()

	base := heapInUse()
	putSampler := &heapSampler{}
	src := io.TeeReader(&pattern{size: size}, putSampler)
	if r := scdbRun(t, e, src, "put", path, "l", "big"); r.code != 0 {
		t.Fatalf("put: %s", r.stderr)
	}
	t.Logf("put of a 64 MiB value: heap in use peaked %.1f MiB above the baseline", mib(putSampler.peak, base))
	if putSampler.peak > base+limit {
		t.Errorf("put: heap in use peaked at %.1f MiB above the baseline", mib(putSampler.peak, base))
	}

	base = heapInUse()
	get := &heapSampler{}
	code := run([]string{"get", path, "l", "big"}, strings.NewReader(""), get, io.Discard, e.get)
	if code != 0 || get.n != size || get.crc != putSampler.crc {
		t.Fatalf("get: exit %d, %d bytes, crc %x want %x", code, get.n, get.crc, putSampler.crc)
	}
	t.Logf("get of a 64 MiB value: heap in use peaked %.1f MiB above the baseline", mib(get.peak, base))
	if get.peak > base+limit {
		t.Errorf("get: heap in use peaked at %.1f MiB above the baseline", mib(get.peak, base))
	}

	base = heapInUse()
	exp := &heapSampler{}
	if code := run([]string{"export", path, "l"}, strings.NewReader(""), exp, io.Discard, e.get); code != 0 {
		t.Fatalf("export: exit %d", code)
	}
	t.Logf("export of a 64 MiB binary value: heap in use peaked %.1f MiB above the baseline", mib(exp.peak, base))
	if exp.peak > base+limit || exp.n < size*4/3 {
		t.Errorf("export: %d bytes; heap in use peaked at %.1f MiB above the baseline", exp.n, mib(exp.peak, base))
	}
}

func mib(peak, base uint64) float64 {
	if peak < base {
		return 0
	}
	return float64(peak-base) / (1 << 20)
}

func TestProgress(t *testing.T) {
	oldDelay, oldTick, oldTerm := progressDelay, progressTick, isTerminal
	progressDelay, progressTick = 0, time.Millisecond
	isTerminal = func(io.Writer) bool { return true }
	defer func() { progressDelay, progressTick, isTerminal = oldDelay, oldTick, oldTerm }()

	var buf syncBuffer
	p := (&app{stderr: &buf}).newProgress()
	p.Start("export", 200<<20)
	p.Add(50 << 20)
	for !strings.Contains(buf.String(), "25%") {
		runtime.Gosched()
	}
	p.Stop()
	p.Stop() // idempotent
	out := buf.String()
	for _, want := range []string{"\r\x1b[Kexport [======                  ]  25% 50.0 MiB/200.0 MiB", "/s", "ETA "} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output %q lacks %q", out, want)
		}
	}
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("the bar was not erased: %q", out)
	}

	// A command run with a "terminal" on stderr writes only bars there.
	path := newFile(t)
	mustRun(t, keyEnv(), strings.Repeat(`{"a":1}`+"\n", 1000), "import", path, "l")
	r := mustRun(t, keyEnv(), "", "export", path, "l")
	if r.stderr != "" && !strings.HasPrefix(r.stderr, "\r") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if strings.Count(r.stdout, "\n") != 1000 {
		t.Error("the progress bar disturbed stdout")
	}
	// check, compact and rotate count the bytes they read through the file.
	fillFile(t, path, 20, 50_000)
	mustRun(t, keyEnv(), "", "check", path)
	mustRun(t, keyEnv(), "", "compact", path, path+".small")
	mustRun(t, keyEnv(), "", "rotate", path, "--keep")
	if got := mustRun(t, keyEnv(), "", "ls", path, "l").stdout; strings.Count(got, "\n") != 1010 {
		t.Errorf("after rotate, ls shows %d records", strings.Count(got, "\n"))
	}
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
