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
// resamples of the rounds (num[i] and den[i] drawn together; see
// joinShifted for rounds drawn as one). It is noisy when the interval is
// wider than maxSpread of the ratio, or when there are fewer than six
// rounds.
func pooledRatio(num, den []float64, conf, maxSpread float64) stats.Summary {
	n := len(num)
	if n == 0 || len(den) != n {
		return stats.Summary{Noisy: true}
	}
	var a, b float64
	for i := range n {
		a += num[i]
		b += den[i]
	}
	s := stats.Summary{N: n, Median: a / b, Confidence: conf}
	num, den = joinShifted(num, den)
	units := len(num)
	rng := rand.New(rand.NewPCG(uint64(n), 21)) // repeatable
	rs := make([]float64, bootstrapResamples)
	for k := range rs {
		var a, b float64
		for range units {
			j := rng.IntN(units) // a round's two sides drawn together
			a += num[j]
			b += den[j]
		}
		rs[k] = a / b
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

// shiftFactor is how far to either side of the rounds' median ratio two
// neighbouring rounds must stray for joinShifted to take them as one.
const shiftFactor = 2

// joinShifted joins neighbouring rounds whose ratios stray to opposite
// sides of the median ratio, each by more than shiftFactor. Both DBs of a
// fill pair do the same work, but a compaction that one of them starts
// just before its slice ends can start in the other just after, falling
// in the next round: the two rounds' ratios then stray far to either side
// while their sum is true. Resampled apart, such rounds would widen the
// interval many times over with an error that is not in the sums.
func joinShifted(num, den []float64) (jnum, jden []float64) {
	ratios := make([]float64, len(num))
	for i := range num {
		ratios[i] = num[i] / den[i]
	}
	m := stats.Median(ratios)
	if !(m > 0) {
		return num, den
	}
	high := func(i int) bool { return ratios[i] > m*shiftFactor }
	low := func(i int) bool { return ratios[i] < m/shiftFactor }
	for i := 0; i < len(num); i++ {
		if i+1 < len(num) && (high(i) && low(i+1) || low(i) && high(i+1)) {
			jnum, jden = append(jnum, num[i]+num[i+1]), append(jden, den[i]+den[i+1])
			i++
			continue
		}
		jnum, jden = append(jnum, num[i]), append(jden, den[i])
	}
	return jnum, jden
}

// ones is n ones: the denominator that makes pooledRatio a mean.
func ones(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = 1
	}
	return out
}
