// Package stats summarises repeated benchmark measurements without assuming
// they are normally distributed: the median, a confidence interval for the
// median from order statistics, a mark for results too noisy to quote, and a
// rank test (Mann-Whitney U) for whether two sets of runs differ.
//
// Benchmark timings on a shared machine are skewed (a run is slowed by a
// neighbour far more often than it is sped up), so the mean and a
// t-interval would follow the outliers. Order statistics do not.
//
// The statistics are benchstat's, from golang.org/x/perf/benchmath (its
// AssumeNothing assumption), so a median and interval here are what
// benchstat prints for the same runs. This package adds the noisy mark
// and keeps an interval finite where benchmath would make it infinite
// (see Summarize).
package stats

import (
	"math"
	"slices"

	"golang.org/x/perf/benchmath"
)

// DefaultConfidence is the coverage asked of a median's interval.
const DefaultConfidence = 0.95

// DefaultMaxSpread is the widest interval, as a fraction of the median,
// that is still quoted as a clean figure: beyond it a result is noisy.
const DefaultMaxSpread = 0.10

// DefaultAlpha is the significance level of Compare.
const DefaultAlpha = 0.05

// Summary is a sample's median and a distribution-free confidence interval
// for the median.
type Summary struct {
	// N is the number of samples.
	N int `json:"n"`
	// Median is the sample median (the mean of the middle two for even N).
	Median float64 `json:"median"`
	// Lo and Hi bound the interval: order statistics of the sample.
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	// Confidence is the interval's coverage: at least the level asked
	// for, unless there were too few samples to reach it, in which case
	// the interval is the whole range, this is that range's coverage and
	// the result is noisy. It is exact up to 30 samples; beyond, it is
	// benchmath's normal approximation of the binomial distribution.
	Confidence float64 `json:"confidence"`
	// Noisy is set when the interval is wider than the spread allowed, or
	// when there were too few samples for the confidence asked.
	Noisy bool `json:"noisy"`
}

// Spread is the interval's width as a fraction of the median's magnitude
// (+Inf for a zero median with a non-empty interval).
func (s Summary) Spread() float64 {
	w := s.Hi - s.Lo
	if w == 0 {
		return 0
	}
	return w / math.Abs(s.Median)
}

// Median returns the median of xs (0 for no samples). It does not modify xs.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	b, _ := summarize(xs, DefaultConfidence)
	return b.Center
}

// Summarize returns the median of xs with benchmath's confidence interval
// for it: the order statistics [x(l), x(h)] (1-based) found by adding up
// the binomial probabilities that the true median lies between two
// neighbouring samples, the likeliest first, until their sum reaches conf.
// Its coverage holds whatever the distribution of the samples, as long as
// they are independent. It is symmetric, [x(k), x(n+1-k)], or one order
// statistic narrower on one side where that still reaches conf; above 30
// samples the sums come from the normal approximation.
//
// Where no interval within the sample reaches conf (too few samples),
// benchmath gives an infinite bound; Summarize gives the full range
// [x(1), x(n)] with its coverage 1 - 2·2⁻ⁿ instead, and marks the result
// noisy. The result is also Noisy if the interval is wider than maxSpread
// times the median.
func Summarize(xs []float64, conf, maxSpread float64) Summary {
	n := len(xs)
	if n == 0 {
		return Summary{Noisy: true}
	}
	b, sorted := summarize(xs, conf)
	s := Summary{N: n, Median: b.Center, Lo: b.Lo, Hi: b.Hi, Confidence: b.Confidence}
	tooFew := math.IsInf(b.Lo, 0) || math.IsInf(b.Hi, 0)
	if tooFew {
		// The full range misses the median only when every sample lies
		// on the same side of it: 2 of the 2ⁿ equally likely ways.
		s.Lo, s.Hi, s.Confidence = sorted[0], sorted[n-1], 1-math.Ldexp(1, 1-n)
	}
	s.Noisy = tooFew || s.Spread() > maxSpread
	return s
}

// summarize is benchmath's summary of a copy of xs (which must not be
// empty) and that copy, sorted.
func summarize(xs []float64, conf float64) (benchmath.Summary, []float64) {
	sample := benchmath.NewSample(slices.Clone(xs), &benchmath.DefaultThresholds)
	return benchmath.AssumeNothing.Summary(sample, conf), sample.Values
}
