package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcrypt/scdb/pager"
)

// progress draws a bar with rate and ETA on a terminal while long work runs.
// A nil *progress draws nothing and costs nothing: newProgress returns nil
// when stderr is not a terminal, so scripts see no extra output. Bytes
// counted before Start (while a file is opened, say) are discarded by it,
// so no bar is drawn over a passphrase prompt.
type progress struct {
	w       io.Writer
	label   string
	total   atomic.Int64 // 0 when unknown: no bar, no ETA
	done    atomic.Int64
	start   time.Time
	stop    chan struct{} // nil when not drawing
	stopped sync.WaitGroup
}

// Quick work draws nothing; tests shorten the delay.
var (
	progressDelay = 500 * time.Millisecond
	progressTick  = 200 * time.Millisecond
)

func (a *app) newProgress() *progress {
	if !isTerminal(a.stderr) || (a.cmd != nil && a.cmd.name == "export" && isTerminal(a.stdout)) {
		return nil // no terminal, or one that shows the data itself
	}
	return &progress{w: a.stderr}
}

// Start begins drawing a phase of work with its label and total bytes,
// from zero.
func (p *progress) Start(label string, total int64) {
	if p == nil {
		return
	}
	p.Stop()
	p.label, p.start, p.stop = label, time.Now(), make(chan struct{})
	p.total.Store(total)
	p.done.Store(0)
	p.stopped.Add(1)
	go p.loop(p.stop)
}

func (p *progress) loop(stop chan struct{}) {
	defer p.stopped.Done()
	select {
	case <-time.After(progressDelay):
	case <-stop:
		return
	}
	t := time.NewTicker(progressTick)
	defer t.Stop()
	for {
		p.draw()
		select {
		case <-t.C:
		case <-stop:
			fmt.Fprint(p.w, "\r\x1b[K")
			return
		}
	}
}

// Add counts n more bytes done.
func (p *progress) Add(n int64) {
	if p != nil {
		p.done.Add(n)
	}
}

// Stop erases the bar; the progress may Start again.
func (p *progress) Stop() {
	if p == nil || p.stop == nil {
		return
	}
	close(p.stop)
	p.stopped.Wait()
	p.stop = nil
}

func (p *progress) draw() {
	done, total := p.done.Load(), p.total.Load()
	elapsed := time.Since(p.start).Seconds()
	rate := float64(done) / max(elapsed, 1e-3)
	line := fmt.Sprintf("%s %s", p.label, humanBytes(done))
	if total > 0 {
		frac := min(float64(done)/float64(total), 1)
		const width = 24
		fill := int(frac * width)
		line = fmt.Sprintf("%s [%s%s] %3.0f%% %s/%s", p.label, strings.Repeat("=", fill),
			strings.Repeat(" ", width-fill), 100*frac, humanBytes(done), humanBytes(total))
	}
	line += fmt.Sprintf("  %s/s", humanBytes(int64(rate)))
	if total > 0 && rate > 0 && done < total {
		eta := time.Duration(float64(total-done) / rate * float64(time.Second))
		line += "  ETA " + eta.Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
}

// countingFile counts the bytes read from an scdb file, which is how far a
// check or copy has got: the library reads every page it visits once.
type countingFile struct {
	pager.File
	p *progress
}

func (f countingFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(b, off)
	f.p.Add(int64(n))
	return n, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	p *progress
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.Add(int64(n))
	return n, err
}

// humanBytes writes a size in binary units: "512 B", "1.5 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
