package main

// The workloads on the realistic shape, and the registry the parent runs
// them from. Each Run opens (or creates) its engine in r.dir, times only the
// store's own work, and closes it before measuring files.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Workload is one row group of the report.
type Workload struct {
	Name     string             // the -w name and the report's row
	Fixture  string             // directory under run/engine the child gets
	CopyFrom string             // if set, the parent copies this fixture to Fixture first
	Needs    []string           // workloads that must have run before, in this run
	NeedsGen bool               // the child builds the realistic data set's shape
	Run      func(r *run) error // does and times the work in the child
	// Expect returns the digest a correct engine reads, or "" if the
	// workload reads nothing.
	Expect func(cfg Config) string
	// KeepFree keeps the free space of the fixture where it is: the
	// fragmented file must stay fragmented, as a long-running writer's
	// is, although scdb gives free space back when it closes.
	KeepFree bool
}

var workloads = []Workload{
	{Name: "load", Fixture: "main", NeedsGen: true, Run: runLoad},
	{Name: "stream", Fixture: "main", Needs: []string{"load"}, NeedsGen: true, Run: runStream, Expect: expectStream},
	{Name: "get", Fixture: "main", Needs: []string{"load"}, NeedsGen: true, Run: runGet, Expect: expectGet},
	{Name: "open", Fixture: "main", Needs: []string{"load"}, Run: runOpen},
	{Name: "upsert", Fixture: "upsert", CopyFrom: "main", Needs: []string{"load"}, NeedsGen: true, Run: runUpsert},
	{Name: "churn", Fixture: "churn", CopyFrom: "main", Needs: []string{"load"}, NeedsGen: true, Run: runChurn},
	{Name: "tiny-load", Fixture: "tiny", Run: runTinyLoad},
	{Name: "tiny-stream", Fixture: "tiny", Needs: []string{"tiny-load"}, Run: runTinyStream, Expect: expectTinyStream},
	{Name: "fragment", Fixture: "frag", Run: runFragment, KeepFree: true},
	{Name: "commit-frag", Fixture: "frag", Needs: []string{"fragment"}, Run: runCommitFrag, KeepFree: true},
	{Name: "commit-fresh", Fixture: "fresh", Run: runCommitFresh},
	{Name: "group", Fixture: "group", Run: runGroup},
	{Name: "huge-put", Fixture: "huge", Run: runHugePut},
	{Name: "huge-get", Fixture: "huge", Needs: []string{"huge-put"}, Run: runHugeGet, Expect: expectHuge},
}

func workloadByName(name string) (Workload, bool) {
	i := slices.IndexFunc(workloads, func(w Workload) bool { return w.Name == name })
	if i < 0 {
		return Workload{}, false
	}
	return workloads[i], true
}

// putRecs writes recs at version ver in transactions of cfg.Batch records,
// timing only the engine's commits, and returns the value bytes written.
// Values are built into one reused arena between commits: generating them is
// not the store's work.
func (r *run) putRecs(e Engine, recs []Rec, ver func(i int) int) (int64, error) {
	var arena []byte
	var total int64
	for lo := 0; lo < len(recs); lo += r.cfg.Batch {
		batch := recs[lo:min(lo+r.cfg.Batch, len(recs))]
		arena = arena[:0]
		ends := make([]int, len(batch))
		for i, rec := range batch {
			arena = r.gen.Value(arena, rec, ver(lo+i))
			ends[i] = len(arena)
		}
		kvs := make([]KV, len(batch))
		start := 0
		for i, rec := range batch {
			list, id := r.gen.ID(rec)
			kvs[i] = KV{List: list, ID: id, Value: arena[start:ends[i]]}
			start = ends[i]
		}
		if err := r.timed(func() error { return e.PutBatch(kvs) }); err != nil {
			return total, err
		}
		total += int64(len(arena))
	}
	return total, nil
}

// closeAndMeasure closes e and records the engine's file bytes beside the
// live value bytes. Close comes first: Badger flushes its memtable then.
func (r *run) closeAndMeasure(e Engine, live int64) error {
	start := time.Now()
	if err := e.Close(); err != nil {
		return err
	}
	r.res.Extra["close_ms"] = float64(time.Since(start).Microseconds()) / 1000
	size, err := dirBytes(r.dir)
	r.res.FileBytes, r.res.LiveBytes = size, live
	return err
}

func runLoad(r *run) error {
	e, err := r.open(true)
	if err != nil {
		return err
	}
	n, err := r.putRecs(e, r.gen.All, func(int) int { return 0 })
	if err != nil {
		return err
	}
	r.res.Records, r.res.Bytes = int64(len(r.gen.All)), n
	return r.closeAndMeasure(e, n)
}

// scan streams every list of the store in r.dir into a digest,
// cfg.StreamReps times (one pass is short enough for the clock's and the
// machine's noise to matter). Every pass must read the same records.
func (r *run) scan() error {
	e, err := r.open(false)
	if err != nil {
		return err
	}
	defer e.Close()
	for pass := range r.cfg.StreamReps {
		d := newDigest()
		err := r.timed(func() error {
			return e.Scan(func(list, id string, value []byte) error {
				d.add(list, id, value)
				r.res.Records++
				r.res.Bytes += int64(len(value))
				return nil
			})
		})
		if err != nil {
			return err
		}
		if pass > 0 && d.sum() != r.res.Digest {
			return fmt.Errorf("pass %d read digest %s, pass 1 read %s", pass+1, d.sum(), r.res.Digest)
		}
		r.res.Digest = d.sum()
	}
	return nil
}

func runStream(r *run) error { return r.scan() }

func expectStream(cfg Config) string {
	g := NewGen(cfg.Seed, cfg.N, cfg.Lists)
	d := newDigest()
	var buf []byte
	for _, rec := range g.All {
		list, id := g.ID(rec)
		buf = g.Value(buf[:0], rec, 0)
		d.add(list, id, buf)
	}
	return d.sum()
}

// getKeys is the sequence of random gets, the same in every process.
func getKeys(cfg Config, g *Gen) []Rec {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x676574))
	keys := make([]Rec, cfg.Gets)
	for i := range keys {
		keys[i] = g.All[rng.IntN(len(g.All))]
	}
	return keys
}

func runGet(r *run) error {
	e, err := r.open(false)
	if err != nil {
		return err
	}
	defer e.Close()
	keys := getKeys(r.cfg, r.gen)
	d := newDigest()
	err = r.timed(func() error {
		for _, k := range keys {
			list, id := r.gen.ID(k)
			v, err := e.Get(list, id)
			if err != nil {
				return fmt.Errorf("get %s/%s: %w", list, id, err)
			}
			d.add(list, id, v)
			r.res.Bytes += int64(len(v))
		}
		return nil
	})
	r.res.Records, r.res.Digest = int64(len(keys)), d.sum()
	return err
}

func expectGet(cfg Config) string {
	g := NewGen(cfg.Seed, cfg.N, cfg.Lists)
	d := newDigest()
	var buf []byte
	for _, k := range getKeys(cfg, g) {
		list, id := g.ID(k)
		buf = g.Value(buf[:0], k, 0)
		d.add(list, id, buf)
	}
	return d.sum()
}

// runUpsert replaces cfg.Upserts random existing records (with repeats, as
// real updates come) with new values, cfg.Batch per transaction.
func runUpsert(r *run) error {
	e, err := r.open(false)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(r.cfg.Seed, 0x757073))
	recs := make([]Rec, r.cfg.Upserts)
	for i := range recs {
		recs[i] = r.gen.All[rng.IntN(len(r.gen.All))]
	}
	n, err := r.putRecs(e, recs, func(int) int { return 1 })
	if err != nil {
		return errors.Join(err, e.Close())
	}
	r.res.Records, r.res.Bytes = int64(len(recs)), n
	return r.closeAndMeasure(e, 0) // the live bytes are not counted: no space ratio
}

// runChurn replaces a random cfg.ChurnPct % of the records, cfg.ChurnRounds
// times, each time with a new value of a new random size, then measures the
// space the engine holds for what is live.
func runChurn(r *run) error {
	e, err := r.open(false)
	if err != nil {
		return err
	}
	all := r.gen.All
	ver := make([]int, len(all))
	pos := make(map[Rec]int, len(all))
	for i, rec := range all {
		pos[rec] = i
	}
	rng := rand.New(rand.NewPCG(r.cfg.Seed, 0x636875))
	for round := 1; round <= r.cfg.ChurnRounds; round++ {
		perm := rng.Perm(len(all))[:len(all)*r.cfg.ChurnPct/100]
		recs := make([]Rec, len(perm))
		for i, p := range perm {
			recs[i] = all[p]
			ver[p] = round
		}
		n, err := r.putRecs(e, recs, func(int) int { return round })
		if err != nil {
			return errors.Join(err, e.Close())
		}
		r.res.Records += int64(len(recs))
		r.res.Bytes += n
	}
	var live int64
	for i, rec := range all {
		live += int64(r.gen.Size(rec, ver[i]))
	}
	return r.closeAndMeasure(e, live)
}

func runTinyLoad(r *run) error {
	e, err := r.open(true)
	if err != nil {
		return err
	}
	var arena []byte
	for lo := 0; lo < r.cfg.TinyN; lo += r.cfg.Batch {
		hi := min(lo+r.cfg.Batch, r.cfg.TinyN)
		arena = arena[:0]
		kvs := make([]KV, 0, hi-lo)
		for i := lo; i < hi; i++ {
			arena = TinyValue(arena, r.cfg.Seed, i)
		}
		for i := lo; i < hi; i++ {
			off := (i - lo) * tinyValueSize
			kvs = append(kvs, KV{List: tinyList, ID: TinyID(i), Value: arena[off : off+tinyValueSize]})
		}
		if err := r.timed(func() error { return e.PutBatch(kvs) }); err != nil {
			return errors.Join(err, e.Close())
		}
	}
	r.res.Records, r.res.Bytes = int64(r.cfg.TinyN), int64(r.cfg.TinyN*tinyValueSize)
	return r.closeAndMeasure(e, r.res.Bytes)
}

func runTinyStream(r *run) error { return r.scan() }

func expectTinyStream(cfg Config) string {
	d := newDigest()
	var buf []byte
	for i := range cfg.TinyN {
		buf = TinyValue(buf[:0], cfg.Seed, i)
		d.add(tinyList, TinyID(i), buf)
	}
	return d.sum()
}
