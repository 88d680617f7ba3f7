// Command bench compares scdb with the stores a Go programmer would otherwise
// use for encrypted records (bbolt with per-value XChaCha20-Poly1305, and
// Badger v4 with its own encryption) on a realistic record shape, every
// workload in a fresh process, every engine durable. Run it from this
// directory (it is a module of its own, so the library keeps its few
// dependencies):
//
//	cd bench && go run . [flags]
//
// See README.md for the flags and how to read the table.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Config is everything a workload process needs; the parent passes it to
// each child as JSON.
type Config struct {
	N            int    // realistic records
	Seed         uint64 // fixes every record, id and random choice
	Lists        int    // lists the records are spread over
	Batch        int    // records per transaction in bulk writes
	Gets         int    // random gets
	Upserts      int    // records the upsert workload replaces
	ChurnRounds  int    // churn rounds
	ChurnPct     int    // percent of the records replaced per churn round
	FragN        int    // values the fragment workload fills before deleting half
	FragSize     int    // their size, and the size of each 1-record commit
	Commits      int    // 1-record durable commits timed
	GroupWorkers int    // goroutines committing at once in the group workload
	GroupCommits int    // 1-record commits in the group workload, over all goroutines
	HugeMiB      int    // MiB of the one huge value
	TinyN        int    // records of the tiny shape
	OpenReps     int    // opens timed in the open workload
	StreamReps   int    // passes over the store in stream and tiny-stream
	CPUProfile   string // directory for one CPU profile per workload and engine
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == childCmd {
		if err := childMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(parentMain())
}

type options struct {
	cfg       Config
	runs      int
	engines   []Driver
	workloads []Workload
	dir       string
	keep      bool
	verbose   bool
}

func parseFlags() (*options, error) {
	var o options
	c := &o.cfg
	quick := flag.Bool("quick", false, "smoke test: -n 2000, 1 run, small gets, commits, tiny and huge shapes (well under a minute)")
	flag.IntVar(&c.N, "n", 63000, "realistic records to load")
	flag.IntVar(&o.runs, "runs", 3, "runs; the table shows the median of each number")
	engines := flag.String("engines", "scdb,bbolt,badger", "engines to compare, comma-separated: scdb, bbolt, badger")
	wl := flag.String("w", "", "workloads to run, comma-separated (default all): "+strings.Join(workloadNames(), ", ")+"; ones they need run too")
	flag.Uint64Var(&c.Seed, "seed", 1, "seed for the records and every random choice")
	flag.IntVar(&c.Lists, "lists", 60, "lists the records are spread over (Zipf-like sizes)")
	flag.IntVar(&c.Batch, "batch", 1000, "records per transaction in bulk writes")
	flag.IntVar(&c.Gets, "gets", 100000, "random gets")
	flag.IntVar(&c.Upserts, "upserts", 0, "records replaced by the upsert workload (0: n)")
	flag.IntVar(&c.ChurnRounds, "churn-rounds", 5, "churn rounds")
	flag.IntVar(&c.ChurnPct, "churn-pct", 20, "percent of the records replaced per churn round")
	flag.IntVar(&c.FragN, "frag-n", 0, "values filled before deleting every other one (0: 120000 scaled by n/63000)")
	flag.IntVar(&c.FragSize, "frag-size", 3000, "bytes per value in the fragment and commit workloads")
	flag.IntVar(&c.Commits, "commits", 200, "1-record durable commits timed on the fragmented and the fresh file")
	flag.IntVar(&c.GroupWorkers, "group-workers", 32, "goroutines committing at once in the group workload")
	flag.IntVar(&c.GroupCommits, "group-commits", 3200, "1-record commits in the group workload, over all goroutines")
	flag.IntVar(&c.HugeMiB, "huge-mib", 256, "MiB of the one huge value")
	flag.IntVar(&c.TinyN, "tiny-n", 0, "records of the tiny shape, 100-byte values and 16-byte ids (0: 4n)")
	flag.IntVar(&c.OpenReps, "open-reps", 10, "opens timed in the open workload")
	flag.IntVar(&c.StreamReps, "stream-reps", 3, "passes over the store in the stream workloads (one pass takes a fraction of a second)")
	flag.StringVar(&o.dir, "dir", "", "directory for the stores (default: a new temporary directory)")
	flag.BoolVar(&o.keep, "keep", false, "keep the stores after the run")
	flag.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of every workload and engine into this directory")
	flag.BoolVar(&o.verbose, "v", true, "progress on stderr")
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		quickDefaults(&o, set)
	}
	if c.Upserts == 0 {
		c.Upserts = c.N
	}
	if c.FragN == 0 {
		c.FragN = max(100, 120000*c.N/63000)
	}
	if c.TinyN == 0 {
		c.TinyN = 4 * c.N
	}
	if c.N < 1 || o.runs < 1 || c.Batch < 1 || c.GroupWorkers < 1 || c.OpenReps < 1 || c.Commits < 1 || c.StreamReps < 1 {
		return nil, fmt.Errorf("-n, -runs, -batch, -commits, -open-reps, -stream-reps and -group-workers must be at least 1")
	}
	var err error
	if o.engines, err = pickEngines(*engines); err != nil {
		return nil, err
	}
	if o.workloads, err = pickWorkloads(*wl); err != nil {
		return nil, err
	}
	return &o, nil
}

// quickDefaults shrinks every size the user did not set.
func quickDefaults(o *options, set map[string]bool) {
	small := map[string]func(){
		"n":             func() { o.cfg.N = 2000 },
		"runs":          func() { o.runs = 1 },
		"gets":          func() { o.cfg.Gets = 5000 },
		"commits":       func() { o.cfg.Commits = 30 },
		"group-commits": func() { o.cfg.GroupCommits = 320 },
		"huge-mib":      func() { o.cfg.HugeMiB = 16 },
		"open-reps":     func() { o.cfg.OpenReps = 3 },
		"stream-reps":   func() { o.cfg.StreamReps = 1 },
	}
	for name, apply := range small {
		if !set[name] {
			apply()
		}
	}
}

func pickEngines(list string) ([]Driver, error) {
	var out []Driver
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "bbolt" || name == "bolt" {
			name = boltDriver.Name
		}
		d, err := driverByName(name)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(x Driver) bool { return x.Name == d.Name }) {
			out = append(out, d)
		}
	}
	return out, nil
}

func workloadNames() []string {
	var names []string
	for _, w := range workloads {
		names = append(names, w.Name)
	}
	return names
}

// pickWorkloads returns the named workloads and those they need, in the
// registry's order (which runs a fixture's creator before its readers).
func pickWorkloads(list string) ([]Workload, error) {
	if list == "" {
		return workloads, nil
	}
	want := map[string]bool{}
	var add func(name string) error
	add = func(name string) error {
		w, ok := workloadByName(name)
		if !ok {
			return fmt.Errorf("unknown workload %q (have %s)", name, strings.Join(workloadNames(), ", "))
		}
		want[name] = true
		for _, dep := range w.Needs {
			if err := add(dep); err != nil {
				return err
			}
		}
		return nil
	}
	for name := range strings.SplitSeq(list, ",") {
		if err := add(strings.TrimSpace(name)); err != nil {
			return nil, err
		}
	}
	var out []Workload
	for _, w := range workloads {
		if want[w.Name] {
			out = append(out, w)
		}
	}
	return out, nil
}
