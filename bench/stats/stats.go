// Package stats summarises repeated benchmark measurements without assuming
// they are normally distributed: the median, a confidence interval for the
// median from order statistics, a mark for results too noisy to quote, and a
// rank test (Mann-Whitney U) for whether two sets of runs differ.
//
// Benchmark timings on a shared machine are skewed (a run is slowed by a
// neighbour far more often than it is sped up), so the mean and a
// t-interval would follow the outliers. Order statistics do not.
package stats

import (
	"math"
	"slices"
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
	// Confidence is the interval's exact coverage (at least the level
	// asked for, unless there were too few samples to reach it, in which
	// case the interval is the whole range and the result is noisy).
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
	v := slices.Clone(xs)
	slices.Sort(v)
	return sortedMedian(v)
}

func sortedMedian(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// Summarize returns the median of xs with the narrowest interval
// [x(k), x(n+1-k)] (order statistics, 1-based) whose coverage of the true
// median is at least conf. The coverage of that interval is
// 1 - 2·P(B ≤ k-1) for B ~ Binomial(n, 1/2), whatever the distribution of
// the samples, as long as they are independent. The result is Noisy if no
// interval reaches conf (too few samples: it is then the full range) or if
// the interval is wider than maxSpread times the median.
func Summarize(xs []float64, conf, maxSpread float64) Summary {
	n := len(xs)
	if n == 0 {
		return Summary{Noisy: true}
	}
	v := slices.Clone(xs)
	slices.Sort(v)
	s := Summary{N: n, Median: sortedMedian(v)}
	// Widen from the full range inwards while the coverage stays at or
	// above conf; k is the 1-based rank of the lower bound.
	k := 1
	coverage := 1 - 2*binomCDF(0, n)
	for k+1 <= n+1-(k+1) {
		c := 1 - 2*binomCDF(k, n)
		if c < conf {
			break
		}
		k, coverage = k+1, c
	}
	s.Lo, s.Hi, s.Confidence = v[k-1], v[n-k], coverage
	s.Noisy = coverage < conf || s.Spread() > maxSpread
	return s
}

// binomCDF is P(B ≤ k) for B ~ Binomial(n, 1/2).
func binomCDF(k, n int) float64 {
	if k < 0 {
		return 0
	}
	if k >= n {
		return 1
	}
	// Sum C(n,i)/2^n in log space: n stays small, but 2^n need not.
	sum := 0.0
	for i := 0; i <= k; i++ {
		sum += math.Exp(logChoose(n, i) - float64(n)*math.Ln2)
	}
	return min(sum, 1)
}

func logChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}
