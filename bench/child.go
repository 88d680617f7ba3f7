package main

// A workload runs in a process of its own, started by the parent as
// "bench __workload NAME ENGINE DIR CONFIG": its peak heap and peak RSS are
// then its own, not the sum of everything run before it in one process. The
// child prints one JSON Result on stdout and nothing else there.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

const childCmd = "__workload"

// Result is what one workload measured on one engine.
type Result struct {
	Workload, Engine string             // which workload ran on which engine
	Records          int64              // records (or operations) timed
	Bytes            int64              // value bytes moved in the timed part
	Seconds          float64            // timed part only: setup, copies and Close are not in it
	FileBytes        int64              // the engine's files after Close, where it matters
	LiveBytes        int64              // value bytes live in the store at that point
	HeapPeak         int64              // peak Go heap (objects) above the baseline taken before the work
	RSSPeak          int64              // VmHWM: peak resident set of the whole process
	Digest           string             // of what was read, for workloads that read
	Extra            map[string]float64 // further figures by name (a workload's own)
	Skipped          string             // why the engine could not run this workload
}

// run is the context a workload function gets.
type run struct {
	cfg  Config
	drv  Driver
	dir  string // the fixture directory the workload creates or opens
	gen  *Gen
	res  *Result
	took time.Duration

	keepFree bool // the workload's KeepFree
}

// open opens (or creates) the workload's store.
func (r *run) open(create bool) (Engine, error) { return r.drv.Open(r.dir, create, r.keepFree) }

// timed runs fn and adds its duration to the workload's timed total.
func (r *run) timed(fn func() error) error {
	start := time.Now()
	err := fn()
	r.took += time.Since(start)
	return err
}

func childMain(args []string) error {
	if len(args) != 4 {
		return fmt.Errorf("usage: %s WORKLOAD ENGINE DIR CONFIG", childCmd)
	}
	w, ok := workloadByName(args[0])
	if !ok {
		return fmt.Errorf("unknown workload %q", args[0])
	}
	drv, err := driverByName(args[1])
	if err != nil {
		return err
	}
	var cfg Config
	if err := json.Unmarshal([]byte(args[3]), &cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	r := &run{cfg: cfg, drv: drv, dir: args[2], keepFree: w.KeepFree, res: &Result{Workload: w.Name, Engine: drv.Name, Extra: map[string]float64{}}}
	if w.NeedsGen {
		r.gen = NewGen(cfg.Seed, cfg.N, cfg.Lists)
	}
	runtime.GC()
	base := heapBytes()
	stop := sampleHeap()
	if cfg.CPUProfile != "" {
		f, err := os.Create(fmt.Sprintf("%s/%s-%s.pprof", cfg.CPUProfile, w.Name, safeName(drv.Name)))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	err = w.Run(r)
	if cfg.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	peak := stop()
	if err != nil && r.res.Skipped == "" {
		return fmt.Errorf("%s on %s: %w", w.Name, drv.Name, err)
	}
	r.res.Seconds = r.took.Seconds()
	r.res.HeapPeak = max(0, peak-base)
	r.res.RSSPeak = vmHWM()
	return json.NewEncoder(os.Stdout).Encode(r.res)
}

func safeName(s string) string { return strings.NewReplacer("+", "-", "/", "-").Replace(s) }

// heapBytes is the Go heap's current object bytes, live and not yet swept:
// what HeapAlloc reports, read without stopping the world.
func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// sampleHeap polls heapBytes every millisecond until the returned function
// is called, which returns the highest value seen. The heap grows between
// collections, so a peak missed by polling is at most 1 ms of allocation.
func sampleHeap() func() int64 {
	var peak int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, heapBytes())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		wg.Wait()
		return max(peak, heapBytes())
	}
}

// vmHWM returns the process's peak resident set in bytes (Linux only; 0
// elsewhere). It counts mapped file pages too: bbolt's and scdb's maps of
// their file show up here, not in the Go heap.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
