package bench

import (
	"math/rand/v2"
	"slices"

	"github.com/atrest/atrest/bench/stats"
)

// A fill's slices are not alike: Pebble's compactions fall in some of
// them and cost several times a slice without one. The median slice is
// one without, so a fill's figures are summarized by what all the rounds
// add up to (the pooled cost per operation, and the pooled ratio of the
// baseline's cost to the arm's), with a percentile bootstrap interval
// over the rounds. Both sides of a pair do the same writes in every
// slice, so their compactions fall in the same rounds and the resampling
// keeps them together.

// bootstrapResamples is how many resamplings the interval is taken from.
const bootstrapResamples = 2000

// pooledRatio summarizes Σnum/Σden over rounds: the ratio of the sums,
// and the interval of the middle conf share of the ratios of bootstrap
// resamples of the rounds (num[i] and den[i] drawn together). It is noisy
// when the interval is wider than maxSpread of the ratio, or when there
// are fewer than six rounds.
func pooledRatio(num, den []float64, conf, maxSpread float64) stats.Summary {
	n := len(num)
	if n == 0 || len(den) != n {
		return stats.Summary{Noisy: true}
	}
	ratio := func(idx func(int) int) float64 {
		var a, b float64
		for i := range n {
			j := idx(i) // a round's two sides drawn together
			a += num[j]
			b += den[j]
		}
		return a / b
	}
	s := stats.Summary{N: n, Median: ratio(func(i int) int { return i }), Confidence: conf}
	rng := rand.New(rand.NewPCG(uint64(n), 21)) // repeatable
	rs := make([]float64, bootstrapResamples)
	for k := range rs {
		rs[k] = ratio(func(int) int { return rng.IntN(n) })
	}
	slices.Sort(rs)
	tail := (1 - conf) / 2
	s.Lo = rs[int(tail*float64(len(rs)-1))]
	s.Hi = rs[int((1-tail)*float64(len(rs)-1)+0.5)]
	if n < 6 {
		s.Confidence = 0 // too few rounds for a bootstrap to mean much
	}
	s.Noisy = s.Confidence < conf || s.Spread() > maxSpread
	return s
}

// ones is n ones: the denominator that makes pooledRatio a mean.
func ones(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = 1
	}
	return out
}
