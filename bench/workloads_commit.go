package main

// Workloads about commits and files rather than the record shape: small
// durable commits on a fragmented file and on a fresh one, concurrent
// (group) commits, opening, and one huge value.

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
)

const fragList = "frag"

func fragID(i int) string { return fmt.Sprintf("k%08d", i) }

// runFragment fills a store with cfg.FragN values of cfg.FragSize bytes, then
// deletes every other one in transactions of cfg.Batch: the free space of a
// long-lived, often-updated file, scattered page by page.
func runFragment(r *run) error {
	e, err := r.open(true)
	if err != nil {
		return err
	}
	var arena []byte
	for lo := 0; lo < r.cfg.FragN; lo += r.cfg.Batch {
		hi := min(lo+r.cfg.Batch, r.cfg.FragN)
		arena = arena[:0]
		for i := lo; i < hi; i++ {
			arena = TextValue(arena, r.cfg.Seed, i, r.cfg.FragSize)
		}
		kvs := make([]KV, 0, hi-lo)
		for i := lo; i < hi; i++ {
			off := (i - lo) * r.cfg.FragSize
			kvs = append(kvs, KV{List: fragList, ID: fragID(i), Value: arena[off : off+r.cfg.FragSize]})
		}
		if err := r.timed(func() error { return e.PutBatch(kvs) }); err != nil {
			return errors.Join(err, e.Close())
		}
	}
	var odd []KV
	for i := 1; i < r.cfg.FragN; i += 2 {
		odd = append(odd, KV{List: fragList, ID: fragID(i)})
	}
	for lo := 0; lo < len(odd); lo += r.cfg.Batch {
		batch := odd[lo:min(lo+r.cfg.Batch, len(odd))]
		if err := r.timed(func() error { return e.DeleteBatch(batch) }); err != nil {
			return errors.Join(err, e.Close())
		}
	}
	r.res.Records = int64(r.cfg.FragN + len(odd))
	r.res.Bytes = int64(r.cfg.FragN * r.cfg.FragSize)
	return r.closeAndMeasure(e, int64((r.cfg.FragN-len(odd))*r.cfg.FragSize))
}

// openTimes opens and closes the store in r.dir writable reps times and
// returns the durations, the first (nothing of the engine warm in this
// process) first.
func (r *run) openTimes(reps int) ([]time.Duration, error) {
	var ds []time.Duration
	for range reps {
		start := time.Now()
		e, err := r.open(false)
		d := time.Since(start)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
		if err := e.Close(); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func runOpen(r *run) error {
	ds, err := r.openTimes(r.cfg.OpenReps)
	if err != nil {
		return err
	}
	r.res.Extra["first_open_ms"] = ms(ds[0])
	r.res.Extra["open_ms"] = ms(medianDuration(ds))
	r.res.Records = int64(len(ds))
	for _, d := range ds {
		r.took += d
	}
	return nil
}

// commits times cfg.Commits durable commits of one cfg.FragSize-byte record
// each, under new ids.
func (r *run) commits(e Engine) error {
	var lat []time.Duration
	for i := range r.cfg.Commits {
		kv := []KV{{List: fragList, ID: fmt.Sprintf("c%08d", i), Value: TextValue(nil, r.cfg.Seed+1, i, r.cfg.FragSize)}}
		start := time.Now()
		if err := e.PutBatch(kv); err != nil {
			return err
		}
		d := time.Since(start)
		r.took += d
		lat = append(lat, d)
	}
	r.res.Records = int64(len(lat))
	r.res.Bytes = int64(len(lat) * r.cfg.FragSize)
	r.res.Extra["commit_us"] = float64(medianDuration(lat)) / 1e3
	return nil
}

func runCommitFrag(r *run) error {
	ds, err := r.openTimes(3)
	if err != nil {
		return err
	}
	r.res.Extra["open_ms"] = ms(medianDuration(ds))
	e, err := r.open(false)
	if err != nil {
		return err
	}
	return errors.Join(r.commits(e), e.Close())
}

// runCommitFresh is the baseline for commit-frag: the same commits on a file
// holding one record.
func runCommitFresh(r *run) error {
	e, err := r.open(true)
	if err != nil {
		return err
	}
	if err := e.PutBatch([]KV{{List: fragList, ID: "first", Value: TextValue(nil, r.cfg.Seed, 0, r.cfg.FragSize)}}); err != nil {
		return errors.Join(err, e.Close())
	}
	return errors.Join(r.commits(e), e.Close())
}

// runGroup runs cfg.GroupWorkers goroutines each committing its share of
// cfg.GroupCommits one-record durable writes through the engine's group
// commit, and reports commits per second of wall time.
func runGroup(r *run) error {
	e, err := r.open(true)
	if err != nil {
		return err
	}
	value := TextValue(nil, r.cfg.Seed, 0, 700)
	if err := e.GroupPut(fragList, "probe", value); errors.Is(err, errNoGroupCommit) {
		r.res.Skipped = "no DB.Batch"
		return errors.Join(err, e.Close())
	} else if err != nil {
		return errors.Join(err, e.Close())
	}
	per := r.cfg.GroupCommits / r.cfg.GroupWorkers
	errs := make([]error, r.cfg.GroupWorkers)
	err = r.timed(func() error {
		var wg sync.WaitGroup
		for w := range r.cfg.GroupWorkers {
			wg.Go(func() {
				for i := range per {
					if err := e.GroupPut(fragList, fmt.Sprintf("w%03d-%06d", w, i), value); err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	r.res.Records = int64(per * r.cfg.GroupWorkers)
	r.res.Bytes = r.res.Records * int64(len(value))
	return errors.Join(err, e.Close())
}

const hugeList, hugeID = "huge", "blob"

func (c Config) hugeBytes() int64 { return int64(c.HugeMiB) << 20 }

func runHugePut(r *run) error {
	e, err := r.open(true)
	if err != nil {
		return err
	}
	size := r.cfg.hugeBytes()
	err = r.timed(func() error { return e.PutHuge(hugeList, hugeID, newHugeReader(r.cfg.Seed, size), size) })
	if err != nil {
		return errors.Join(err, e.Close())
	}
	r.res.Records, r.res.Bytes = 1, size
	return r.closeAndMeasure(e, size)
}

func runHugeGet(r *run) error {
	e, err := r.open(false)
	if err != nil {
		return err
	}
	defer e.Close()
	h := xxhash.New()
	var n int64
	err = r.timed(func() error {
		n, err = e.GetHuge(hugeList, hugeID, h)
		return err
	})
	r.res.Records, r.res.Bytes, r.res.Digest = 1, n, fmt.Sprintf("%016x", h.Sum64())
	return err
}

func expectHuge(cfg Config) string {
	h := xxhash.New()
	if _, err := io.Copy(h, newHugeReader(cfg.Seed, cfg.hugeBytes())); err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%016x", h.Sum64())
}
