package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/atrest/atrest/bench/interleave"
	"github.com/atrest/atrest/bench/stats"
	"github.com/atrest/atrest/ctr"
)

// The file and engine workloads measure arms: plaintext (the baseline),
// a second plaintext arm (the control), each method on atrest and, for
// the engines, each method on the peer. The arms take turns in short
// slices within every round (package bench/interleave), timed by the wall
// clock and by the process's CPU time.

// ImplNone names an engine's plaintext baseline: the engine on its own
// file system, no encrypting layer at all.
const ImplNone = "none"

// armSpec is how an arm's figures name it.
type armSpec struct {
	method ctr.Method
	impl   string
}

// sliceArms runs the arms specs[1:], each paired with its baseline
// (bases[i-1] for specs[i]; the bases may be one shared arm where its
// work changes nothing): r.cfg.SliceRounds rounds after a warm-up round,
// then, up to r.cfg.SliceRoundsMax rounds and within the workload's share
// of r.cfg.SliceBudget, the pairs whose figures are still noisy and can
// still settle in the time left (pairDone). It returns the pairs'
// samples, reporting each pair's slices to the progress bar under
// workload's name. pooled says the figures will be pooled (a fill's).
func (r *run) sliceArms(workload string, specs []armSpec, bases, arms []interleave.Arm, pooled bool) ([]interleave.PairSamples, error) {
	pairs := make([]interleave.Pair, len(arms))
	for i := range arms {
		pairs[i] = interleave.Pair{Base: bases[i], Arm: arms[i]}
	}
	maxRounds := r.cfg.maxSliceRounds()
	budget, spent := r.sliceBudget()
	defer spent()
	start := time.Now()
	done := make([]bool, len(pairs))
	roundCost := make([]time.Duration, len(pairs)) // a round of each pair still running
	opts := interleave.Options{
		Rounds: r.cfg.SliceRounds, Warmup: 1, MaxRounds: maxRounds, Budget: budget,
		Settled: func(i int, s interleave.PairSamples) bool {
			roundCost[i] = meanRoundWall(s)
			var perRound time.Duration
			for j, c := range roundCost {
				if !done[j] {
					perRound += c
				}
			}
			left := time.Duration(math.MaxInt64)
			if budget > 0 {
				left = budget - time.Since(start)
			}
			if done[i] = r.pairDone(s, pooled, min(left, perRound*time.Duration(maxRounds-len(s.Arm))), perRound); done[i] {
				r.total -= maxRounds - len(s.Arm) // the rounds it will not run
			}
			return done[i]
		},
	}
	var stepErr error
	samples, err := interleave.Run(r.ctx, pairs, opts, func(i int) {
		s := specs[i+1]
		if err := r.step(fmt.Sprintf("%s %s %s", workload, s.method, s.impl)); err != nil && stepErr == nil {
			stepErr = err
		}
	})
	if err == nil {
		err = stepErr
	}
	for i, s := range samples {
		if !done[i] {
			r.total -= maxRounds - len(s.Arm) // cut short by the budget
		}
	}
	return samples, err
}

// pairDone reports whether a pair needs no more rounds: its overhead is
// precise enough to quote by every metric the reports show (CPU time and
// wall time; wall alone where the process's CPU time cannot be read), or,
// after twice SliceRounds rounds, it is out of reach, needing far more
// rounds than the time left could give it (left, at perRound a round of
// every pair still running; the caller caps left at the rounds the pair
// may still run), so that the time goes to the pairs that can still
// settle.
func (r *run) pairDone(s interleave.PairSamples, pooled bool, left, perRound time.Duration) bool {
	metrics := []func(interleave.Sample) float64{interleave.Sample.WallPerOp}
	if _, err := interleave.CPUTime(); err == nil {
		metrics = append(metrics, interleave.Sample.CPUPerOp)
	}
	need, settled := 0, true
	for _, perOp := range metrics {
		arm := perOps(s.Arm, perOp)
		f := &Figure{Samples: arm, Pooled: pooled, Versus: overheadVersus(perOps(s.Base, perOp), arm)}
		r.summarizeVersus(f)
		if !f.Versus.Summary.Noisy {
			continue
		}
		settled = false
		n, ok := f.Versus.RoundsToSettle(r.cfg.MaxSpread)
		if !ok {
			return false
		}
		need = max(need, n)
	}
	if settled {
		return true
	}
	if len(s.Arm) < 2*r.cfg.SliceRounds {
		// An interval from few rounds is too rough to project from: one
		// unlucky round can double its width.
		return false
	}
	return outOfReach(need-len(s.Arm), left, perRound)
}

// outOfReach reports whether a pair needing more rounds is out of reach
// of the time left, at perRound a round: it needs more than twice the
// rounds that time holds (twice, because the pairs that settle meanwhile
// leave their time to the others).
func outOfReach(more int, left, perRound time.Duration) bool {
	if more <= 0 || perRound <= 0 {
		return false
	}
	if left <= 0 {
		return true
	}
	return float64(more) > 2*float64(left)/float64(perRound)
}

// meanRoundWall is the mean wall time of a round of a pair: its two
// slices.
func meanRoundWall(s interleave.PairSamples) time.Duration {
	var sum time.Duration
	for k := range s.Arm {
		sum += s.Arm[k].Wall + s.Base[k].Wall
	}
	return sum / time.Duration(max(len(s.Arm), 1))
}

// armFigures turns the samples of the pairs (specs[0] naming the
// baseline, specs[i] the arm of pair i-1) into a CPU and a wall figure
// per arm, each arm's compared round by round with its own baseline
// slices (Overhead); the baseline's figure pools, round by round, all its
// slices. The caller adds the figures, CPU first: the figure the reports
// lead with. cpu is nil where the process's CPU time cannot be read.
//
// pooled marks the figures to be summarized by what their rounds add up to
// (Figure.Pooled): a fill's.
func armFigures(workload string, size int, specs []armSpec, res []interleave.PairSamples, pooled bool) (cpu, wall []*Figure) {
	if _, err := interleave.CPUTime(); err == nil {
		cpu = armMetric(workload, size, specs, res, MetricCPU, interleave.Sample.CPUPerOp)
	}
	wall = armMetric(workload, size, specs, res, MetricWall, interleave.Sample.WallPerOp)
	for _, f := range slices.Concat(cpu, wall) {
		f.Pooled = pooled
	}
	return cpu, wall
}

// armMetric is one metric's figures of the arms, not yet added.
func armMetric(workload string, size int, specs []armSpec, res []interleave.PairSamples, metric string, perOp func(interleave.Sample) float64) []*Figure {
	figs := make([]*Figure, len(specs))
	for i, s := range specs {
		figs[i] = &Figure{Workload: workload, Method: s.method.String(), Impl: s.impl, Size: size, Metric: metric, Unit: NsPerOp}
		if s.impl == ImplAtrest {
			figs[i].Kernel = ctr.KernelName(s.method)
		}
	}
	// Pairs that settled early have fewer rounds: round r pools the
	// baseline slices of the pairs that ran it.
	rounds := 0
	for _, p := range res {
		rounds = max(rounds, len(p.Base))
	}
	pooled := make([]interleave.Sample, rounds)
	for _, p := range res {
		for r, x := range p.Base {
			pooled[r] = pooled[r].Add(x)
		}
	}
	figs[0].Samples = perOps(pooled, perOp)
	for i, p := range res {
		f := figs[i+1]
		f.Samples = perOps(p.Arm, perOp)
		f.Versus = overheadVersus(perOps(p.Base, perOp), f.Samples)
	}
	return figs
}

// overheadVersus compares an arm's cost per operation with its plaintext
// baseline's, round by round: the baseline's cost over the arm's is the
// speed.
func overheadVersus(base, arm []float64) *Versus {
	return &Versus{Relation: Overhead, Baseline: ctr.Plaintext.String(), Speed: speed(base, arm), Base: base}
}

// perOps is the cost per operation of each sample.
func perOps(xs []interleave.Sample, perOp func(interleave.Sample) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = perOp(x)
	}
	return out
}

// overheadNoisy reports whether an Overhead comparison may not be quoted:
// its interval, in percentage points of overhead, is wider than
// ±maxSpread/2 (±5 points at the default 10%), or there were too few
// rounds for the confidence asked. Points, not a share of the median: a
// 3% overhead measured as [1, 5]% is a clean figure.
func overheadNoisy(v *Versus, conf, maxSpread float64) bool {
	if v.Summary.N == 0 || v.Summary.Confidence < conf {
		return true
	}
	lo, hi := v.Interval()
	return (hi-lo)/2 > maxSpread*50 || math.IsNaN(hi-lo)
}

// costBeyond is what f costs per operation beyond its baseline: the
// median over rounds of the difference, or for a pooled figure the
// difference of the means.
func costBeyond(f *Figure) float64 {
	if f.Pooled {
		return mean(f.Samples) - mean(f.Versus.Base)
	}
	return medianDiff(f.Samples, f.Versus.Base)
}

// mean is the mean of xs (0 for none).
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// medianDiff is the median over rounds of a[i] - b[i].
func medianDiff(a, b []float64) float64 {
	d := make([]float64, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	return stats.Median(d)
}

// sliceArm adapts a function doing one slice to interleave.Arm, with
// nothing to quiesce.
type sliceArm func(context.Context) (int, error)

func (f sliceArm) Slice(ctx context.Context) (int, error) { return f(ctx) }
func (sliceArm) Quiesce() error                           { return nil }
