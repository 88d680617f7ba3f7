package main

// The report: one Markdown table of throughput, space and latency, one of
// memory, each number the median over runs, each cell beside its ratio to
// bbolt+AEAD measured in the same run.

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// row is one line of the main table: a number derived from one run's
// results for one engine (ok false when it has none).
type row struct {
	label    string
	better   string // "higher" or "lower", shown with the ratio
	workload string // whose Skipped explains a missing number
	value    func(rs map[string]map[string]*Result, engine string) (float64, bool)
}

func perSecond(workload string, of func(*Result) float64) func(map[string]map[string]*Result, string) (float64, bool) {
	return func(rs map[string]map[string]*Result, e string) (float64, bool) {
		r := rs[workload][e]
		if r == nil || r.Skipped != "" || r.Seconds <= 0 {
			return 0, false
		}
		return of(r) / r.Seconds, true
	}
}

func records(r *Result) float64 { return float64(r.Records) }
func mbytes(r *Result) float64  { return float64(r.Bytes) / 1e6 }

func field(workload string, of func(*Result) (float64, bool)) func(map[string]map[string]*Result, string) (float64, bool) {
	return func(rs map[string]map[string]*Result, e string) (float64, bool) {
		r := rs[workload][e]
		if r == nil || r.Skipped != "" {
			return 0, false
		}
		return of(r)
	}
}

func space(r *Result) (float64, bool) {
	if r.LiveBytes <= 0 || r.FileBytes <= 0 {
		return 0, false
	}
	return float64(r.FileBytes) / float64(r.LiveBytes), true
}

func extra(key string) func(*Result) (float64, bool) {
	return func(r *Result) (float64, bool) {
		v, ok := r.Extra[key]
		return v, ok
	}
}

// commitGrowth is the fragmented file's 1-record commit over the fresh one's.
func commitGrowth(rs map[string]map[string]*Result, e string) (float64, bool) {
	f, fresh := rs["commit-frag"][e], rs["commit-fresh"][e]
	if f == nil || fresh == nil || fresh.Extra["commit_us"] <= 0 {
		return 0, false
	}
	return f.Extra["commit_us"] / fresh.Extra["commit_us"], true
}

var rows = []row{
	{"load, records/s", "higher", "load", perSecond("load", records)},
	{"load, MB/s", "higher", "load", perSecond("load", mbytes)},
	{"load, file ÷ live value bytes", "lower", "load", field("load", space)},
	{"upsert, records/s", "higher", "upsert", perSecond("upsert", records)},
	{"upsert: Close (not in records/s), ms", "lower", "upsert", field("upsert", extra("close_ms"))},
	{"stream every list, records/s", "higher", "stream", perSecond("stream", records)},
	{"stream every list, MB/s", "higher", "stream", perSecond("stream", mbytes)},
	{"random get, ops/s", "higher", "get", perSecond("get", records)},
	{"churn, records/s", "higher", "churn", perSecond("churn", records)},
	{"churn, file ÷ live value bytes", "lower", "churn", field("churn", space)},
	{"churn: Close (not in records/s), ms", "lower", "churn", field("churn", extra("close_ms"))},
	{"open (writable, median), ms", "lower", "open", field("open", extra("open_ms"))},
	{"open (first in process), ms", "lower", "open", field("open", extra("first_open_ms"))},
	{"tiny load, records/s", "higher", "tiny-load", perSecond("tiny-load", records)},
	{"tiny load, file ÷ live value bytes", "lower", "tiny-load", field("tiny-load", space)},
	{"tiny stream, records/s", "higher", "tiny-stream", perSecond("tiny-stream", records)},
	{"fragment: fill + delete half, records/s", "higher", "fragment", perSecond("fragment", records)},
	{"fragmented file ÷ live value bytes", "lower", "fragment", field("fragment", space)},
	{"fragmented file: writable open, ms", "lower", "commit-frag", field("commit-frag", extra("open_ms"))},
	{"fragmented file: 1-record commit, µs", "lower", "commit-frag", field("commit-frag", extra("commit_us"))},
	{"fresh file: 1-record commit, µs", "lower", "commit-fresh", field("commit-fresh", extra("commit_us"))},
	{"1-record commit, fragmented ÷ fresh", "lower", "commit-frag", commitGrowth},
	{"group commit (concurrent 1-record), commits/s", "higher", "group", perSecond("group", records)},
	{"huge value put, MB/s", "higher", "huge-put", perSecond("huge-put", mbytes)},
	{"huge value get, MB/s", "higher", "huge-get", perSecond("huge-get", mbytes)},
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianOf returns the median over runs of value for engine e.
func medianOf(rs resultSet, e string, value func(map[string]map[string]*Result, string) (float64, bool)) (float64, bool) {
	var vs []float64
	for _, run := range rs {
		if v, ok := value(run, e); ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	return median(vs), true
}

func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.0f k", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func report(o *options, rs resultSet, took time.Duration) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "\n## scdb comparison benchmark\n\n")
	fmt.Fprintf(&b, "n = %d records over %d lists, %d per transaction; %d random gets; median of %d run(s); seed %d; %s %s/%s, %d CPUs (%s); took %s\n\n",
		o.cfg.N, o.cfg.Lists, o.cfg.Batch, o.cfg.Gets, o.runs, o.cfg.Seed, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), host, took.Round(time.Second))
	ratioBase := ""
	if slices.ContainsFunc(o.engines, func(d Driver) bool { return d.Name == boltDriver.Name }) {
		ratioBase = boltDriver.Name
	}
	b.WriteString(mainTable(o, rs, ratioBase))
	b.WriteString("\n")
	b.WriteString(memoryTable(o, rs))
	b.WriteString("\n")
	b.WriteString(notes(o))
	return b.String()
}

func mainTable(o *options, rs resultSet, base string) string {
	var b strings.Builder
	b.WriteString("| workload |")
	for _, d := range o.engines {
		fmt.Fprintf(&b, " %s |", d.Name)
	}
	b.WriteString("\n|---|")
	for range o.engines {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		cells := make([]string, len(o.engines))
		shown := false
		baseV, baseOK := medianOf(rs, base, r.value)
		for i, d := range o.engines {
			v, ok := medianOf(rs, d.Name, r.value)
			switch {
			case !ok:
				cells[i] = "–"
				if why := skipped(rs, r, d.Name); why != "" {
					cells[i] = why
				}
				continue
			case base != "" && baseOK && baseV != 0 && d.Name != base:
				cells[i] = fmt.Sprintf("%s (%.2f×)", fmtNum(v), v/baseV)
			default:
				cells[i] = fmtNum(v)
			}
			shown = true
		}
		if !shown {
			continue
		}
		fmt.Fprintf(&b, "| %s (%s is better) | %s |\n", r.label, r.better, strings.Join(cells, " | "))
	}
	return b.String()
}

// skipped returns why an engine has no number in a row, if it said.
func skipped(rs resultSet, r row, engine string) string {
	for _, run := range rs {
		if res := run[r.workload][engine]; res != nil && res.Skipped != "" {
			return "n/a (" + res.Skipped + ")"
		}
	}
	return ""
}

func memoryTable(o *options, rs resultSet) string {
	var b strings.Builder
	b.WriteString("| peak Go heap / peak RSS, MB |")
	for _, d := range o.engines {
		fmt.Fprintf(&b, " %s |", d.Name)
	}
	b.WriteString("\n|---|")
	for range o.engines {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, w := range o.workloads {
		fmt.Fprintf(&b, "| %s |", w.Name)
		for _, d := range o.engines {
			heap, okH := medianOf(rs, d.Name, field(w.Name, func(r *Result) (float64, bool) { return float64(r.HeapPeak) / 1e6, true }))
			rss, okR := medianOf(rs, d.Name, field(w.Name, func(r *Result) (float64, bool) { return float64(r.RSSPeak) / 1e6, true }))
			if !okH || !okR {
				b.WriteString(" – |")
				continue
			}
			held := ""
			if w.Name == "huge-put" || w.Name == "huge-get" {
				if d.HugeHeld {
					held = " (holds the value whole)"
				} else {
					held = " (streamed)"
				}
			}
			fmt.Fprintf(&b, " %s / %s%s |", fmtNum(heap), fmtNum(rss), held)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func notes(o *options) string {
	var b strings.Builder
	b.WriteString("Engines:\n")
	for _, d := range o.engines {
		fmt.Fprintf(&b, "- %s: %s\n", d.Name, d.Label)
	}
	fmt.Fprintf(&b, `
Ratios are to bbolt+AEAD in the same run. Every workload ran in a fresh process; only the store's own
calls are timed (not generating values, copying fixtures or Close; upsert's and churn's Close have rows of
their own: scdb gives the file's free space back there). Records: text stanzas, log-normal size
(median 700 B, p90 1 KB, p99 2 KB, tail to 30 KB), ids like package names, sorted within each list. Upsert:
%d random existing ids. Churn: %d rounds replacing %d %% of the records with new random-size values.
Fragment: %d values of %d B, then every other one deleted; commits: median of %d 1-record durable commits
(scdb opens this file with KeepFreeSpace, so that it stays fragmented as a long-running writer's would).
Stream passes: %d. Group: %d goroutines, %d commits. Tiny: %d records of 100 B under 16-byte ids. Huge: one %d MiB value.
Heap: peak Go heap objects above the process's baseline before the work (sampled every 1 ms). RSS: the
process's VmHWM, which includes mapped file pages and the Go runtime. The stores' files are in the OS page
cache while read (they were just written), so reads are memory-speed for every engine.
`, o.cfg.Upserts, o.cfg.ChurnRounds, o.cfg.ChurnPct, o.cfg.FragN, o.cfg.FragSize, o.cfg.Commits,
		o.cfg.StreamReps, o.cfg.GroupWorkers, o.cfg.GroupCommits, o.cfg.TinyN, o.cfg.HugeMiB)
	return b.String()
}
