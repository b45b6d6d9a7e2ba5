package pebblework

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Samples are the per-round times of one method, in nanoseconds per
// operation.
type Samples struct {
	Config  Config
	NsPerOp []float64
}

// Median is the median of the samples.
func (s Samples) Median() float64 {
	v := slices.Clone(s.NsPerOp)
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Compare runs workload w for every configuration in turn, rounds times,
// so that the machine's drift falls on all of them alike; the first
// configuration is normally plaintext, the baseline. Each round of a fill
// writes ops keys into a fresh DB (and settles it); ReadRandom loads one DB
// per configuration up front and reads ops keys from each per round. Each
// configuration's Dir is used as a parent for the DBs of its rounds.
func Compare(ctx context.Context, w Workload, cfgs []Config, rounds, ops int) ([]Samples, error) {
	return CompareWithProgress(ctx, w, cfgs, rounds, ops, nil)
}

// CompareWithProgress is Compare calling progress (if not nil) after each
// configuration's part of each round, for a progress bar. It stops at the
// next round if ctx is cancelled.
func CompareWithProgress(ctx context.Context, w Workload, cfgs []Config, rounds, ops int, progress func()) ([]Samples, error) {
	if progress == nil {
		progress = func() {}
	}
	out := make([]Samples, len(cfgs))
	for i, c := range cfgs {
		out[i].Config = c
	}
	if w == ReadRandom {
		dbs := make([]*DB, len(cfgs))
		defer func() {
			for _, db := range dbs {
				if db != nil {
					db.Close()
				}
			}
		}()
		for i, c := range cfgs {
			c.Dir = filepath.Join(c.Dir, "read")
			db, err := Open(ctx, w, c)
			if err != nil {
				return nil, err
			}
			dbs[i] = db
		}
		for range rounds {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			for i, db := range dbs {
				start := time.Now()
				for range ops {
					if err := db.Read(); err != nil {
						return nil, err
					}
				}
				out[i].NsPerOp = append(out[i].NsPerOp, float64(time.Since(start).Nanoseconds())/float64(ops))
				progress()
			}
		}
		return out, nil
	}
	for r := range rounds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i, c := range cfgs {
			c.Dir = filepath.Join(c.Dir, fmt.Sprintf("%s-%d", w, r))
			c.Seed += uint64(r)
			ns, err := timeFill(ctx, w, c, ops)
			if err != nil {
				return nil, err
			}
			out[i].NsPerOp = append(out[i].NsPerOp, ns)
			progress()
		}
	}
	return out, nil
}

// timeFill opens a fresh DB, fills ops keys, settles, and removes it.
func timeFill(ctx context.Context, w Workload, c Config, ops int) (float64, error) {
	db, err := Open(ctx, w, c)
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(c.Dir)
	start := time.Now()
	for range ops {
		if err := db.Fill(w); err != nil {
			db.Close()
			return 0, err
		}
	}
	if err := db.Settle(); err != nil {
		db.Close()
		return 0, err
	}
	ns := float64(time.Since(start).Nanoseconds()) / float64(ops)
	return ns, db.Close()
}
