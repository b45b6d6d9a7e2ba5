package pebblework

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/atrest/atrest/bench/stats"
)

// Samples are the per-round times of one method, in nanoseconds per
// operation.
type Samples struct {
	Config  Config
	NsPerOp []float64
}

// Median is the median of the samples (stats.Median).
func (s Samples) Median() float64 { return stats.Median(s.NsPerOp) }

// Compare runs workload w for every configuration in turn, rounds times,
// so that the machine's drift falls on all of them alike, with the one
// that goes first moving on by one each round; the first configuration is
// normally plaintext, the baseline. Each round of a fill
// writes ops keys into a fresh DB (and settles it); ReadRandom loads one DB
// per configuration up front and reads ops keys from each per round. Each
// configuration's Dir is used as a parent for the DBs of its rounds.
func Compare(ctx context.Context, w Workload, cfgs []Config, rounds, ops int) ([]Samples, error) {
	return CompareWithProgress(ctx, w, cfgs, rounds, ops, nil)
}

// CompareWithProgress is Compare calling progress (if not nil) with the
// index in cfgs of the configuration whose part of a round just ended, for
// a progress bar. It stops at the next round if ctx is cancelled.
func CompareWithProgress(ctx context.Context, w Workload, cfgs []Config, rounds, ops int, progress func(cfg int)) ([]Samples, error) {
	if progress == nil {
		progress = func(int) {}
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
		for r := range rounds {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			for k := range dbs {
				// Take turns at going first, as the fills do below.
				i := (k + r) % len(dbs)
				db := dbs[i]
				start := time.Now()
				for range ops {
					if err := db.Read(); err != nil {
						return nil, err
					}
				}
				out[i].NsPerOp = append(out[i].NsPerOp, float64(time.Since(start).Nanoseconds())/float64(ops))
				progress(i)
			}
		}
		return out, nil
	}
	for r := range rounds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for k := range cfgs {
			// Take turns at going first: a DB filled right after another
			// shares the disk with its background flushes.
			i := (k + r) % len(cfgs)
			c := cfgs[i]
			c.Dir = filepath.Join(c.Dir, fmt.Sprintf("%s-%d", w, r))
			c.Seed += uint64(r)
			ns, err := timeFill(ctx, w, c, ops)
			if err != nil {
				return nil, err
			}
			out[i].NsPerOp = append(out[i].NsPerOp, ns)
			progress(i)
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
