// Package interleave measures several arms of a comparison (each
// encryption method, the peers, a plaintext control) against a plaintext
// baseline in short slices that take turns within every round, each arm
// right beside a baseline slice, so that whatever the machine does over
// the run (a neighbour's load, the clock's drift, the page cache filling)
// falls on both sides of a pair alike and cancels out of their per-round
// ratio.
//
// Each slice is timed twice: by the wall clock and by the process's CPU
// time (user plus system, every thread: the engine's background work
// included). Between slices, outside the timing, the arm that just ran
// is quiesced (an engine waits for the flushes and compactions it
// started) and the garbage collector runs, so that no slice pays for the
// work of the one before.
package interleave

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"
)

// Arm is one side of a comparison.
type Arm interface {
	// Slice does one slice of the arm's work, timed by Run, and returns
	// how many operations it did (at least one).
	Slice(ctx context.Context) (ops int, err error)
	// Quiesce waits, untimed, until any background work the last slice
	// left running is done.
	Quiesce() error
}

// Sample is one timed slice of one arm.
type Sample struct {
	// Ops is what Slice returned.
	Ops int
	// Wall is the slice's elapsed time; CPU the process's user and
	// system time over it (0 where CPUTime is not available).
	Wall, CPU time.Duration
}

// WallPerOp is the wall time per operation in nanoseconds.
func (s Sample) WallPerOp() float64 { return float64(s.Wall) / float64(s.Ops) }

// CPUPerOp is the CPU time per operation in nanoseconds.
func (s Sample) CPUPerOp() float64 { return float64(s.CPU) / float64(s.Ops) }

// Options say how long Run measures.
type Options struct {
	// Rounds is the number of measured rounds every pair runs.
	Rounds int
	// Warmup is the number of rounds run first and not recorded (caches,
	// the page cache, an engine's first flushes).
	Warmup int
	// MaxRounds, if more than Rounds, lets Run go on past Rounds with
	// the pairs that Settled does not yet call settled, up to MaxRounds
	// measured rounds: on a noisy machine the pairs whose figures are
	// still wide get the time, the settled ones sit out.
	MaxRounds int
	// Settled reports whether a pair needs no more rounds: its samples
	// so far are precise enough (or, the caller's choice, more rounds
	// would not make them so in time). Run asks after every measured
	// round from the Rounds-th on; nil means never, so every pair runs
	// MaxRounds rounds.
	Settled func(pair int, s PairSamples) bool
	// Budget, if not 0, bounds the rounds past Rounds: none starts once
	// Budget has passed since Run started.
	Budget time.Duration
}

// Pair is an arm and the baseline it is compared with. Pairs may share
// one baseline when its work changes nothing (reads); a baseline that
// changes state as it works (an engine's fill) must be a pair's own, so
// that it does exactly the work its arm does and both stay in the same
// state, round after round.
type Pair struct {
	Base, Arm Arm
}

// PairSamples are a pair's samples, one per round each.
type PairSamples struct {
	Base, Arm []Sample
}

// Order is the order in which the pairs go in round r: pair (k+r) mod n
// in place k, so each goes first in turn.
func Order(n, r int) []int {
	out := make([]int, n)
	for k := range out {
		out[k] = (k + r) % n
	}
	return out
}

// BaseFirst reports whether a pair's baseline runs before its arm in
// round r: in even rounds, and after it in odd ones, so that a drift of
// the machine's speed favours neither side over the run.
func BaseFirst(r int) bool { return r%2 == 0 }

// Run measures pairs in opts.Rounds rounds after opts.Warmup unrecorded
// ones, then, if opts.MaxRounds asks for more, in further rounds of the
// pairs not yet settled (see Options). A round runs every pair taking
// part, in the order of Order, each pair as two slices back to back: its
// baseline's and its arm's, in the order of BaseFirst. The two slices of
// a pair are as close in time as slices can be, so the machine's drift
// cancels out of their ratio. progress, if not nil, is called with a
// pair's index after each recorded pair of slices. A cancelled ctx stops
// Run before the next slice with ctx's error.
//
// Pairs that settle early have fewer samples than the others: a pair's
// samples are its own rounds, in order.
func Run(ctx context.Context, pairs []Pair, opts Options, progress func(pair int)) ([]PairSamples, error) {
	start := time.Now()
	out := make([]PairSamples, len(pairs))
	run := func(a Arm) (Sample, error) {
		if err := ctx.Err(); err != nil {
			return Sample{}, err
		}
		return slice(ctx, a)
	}
	active := make([]int, len(pairs))
	for i := range active {
		active[i] = i
	}
	last := opts.Warmup + max(opts.Rounds, opts.MaxRounds)
	for r := 0; r < last && len(active) > 0; r++ {
		extra := r >= opts.Warmup+opts.Rounds
		if extra && opts.Budget > 0 && time.Since(start) >= opts.Budget {
			break
		}
		for _, k := range Order(len(active), r) {
			i := active[k]
			first, second := pairs[i].Base, pairs[i].Arm
			if !BaseFirst(r) {
				first, second = second, first
			}
			s1, err := run(first)
			if err != nil {
				return nil, fmt.Errorf("pair %d: %w", i, err)
			}
			s2, err := run(second)
			if err != nil {
				return nil, fmt.Errorf("pair %d: %w", i, err)
			}
			if r < opts.Warmup {
				continue
			}
			if !BaseFirst(r) {
				s1, s2 = s2, s1
			}
			out[i].Base = append(out[i].Base, s1)
			out[i].Arm = append(out[i].Arm, s2)
			if progress != nil {
				progress(i)
			}
		}
		if r+1 >= opts.Warmup+opts.Rounds && opts.Settled != nil {
			active = slices.DeleteFunc(active, func(i int) bool { return opts.Settled(i, out[i]) })
		}
	}
	return out, nil
}

// Add pools two samples: their operations and times added up.
func (s Sample) Add(t Sample) Sample {
	return Sample{Ops: s.Ops + t.Ops, Wall: s.Wall + t.Wall, CPU: s.CPU + t.CPU}
}

// slice runs and times one slice of a, then quiesces a and collects the
// garbage it made, untimed: the next slice, whichever arm's, starts
// with nothing of this one's left to do.
func slice(ctx context.Context, a Arm) (Sample, error) {
	cpu0, cpuErr := CPUTime()
	start := time.Now()
	ops, err := a.Slice(ctx)
	wall := time.Since(start)
	cpu1, _ := CPUTime()
	if err != nil {
		return Sample{}, err
	}
	if ops < 1 {
		return Sample{}, fmt.Errorf("a slice did %d operations: %w", ops, ErrNoOps)
	}
	s := Sample{Ops: ops, Wall: wall}
	if cpuErr == nil {
		s.CPU = cpu1 - cpu0
	}
	if err := a.Quiesce(); err != nil {
		return Sample{}, fmt.Errorf("quiescing: %w", err)
	}
	runtime.GC()
	return s, nil
}
