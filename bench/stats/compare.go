package stats

import (
	"slices"

	moremath "github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchmath"
)

// Delta is how a figure moved from one set of runs (old) to another (new).
type Delta struct {
	// Ratio is median(new) / median(old); 1 means no change.
	Ratio float64 `json:"ratio"`
	// P is the two-sided p-value of the Mann-Whitney U test: how likely
	// runs at least this far apart are if both sets come from one
	// distribution.
	P float64 `json:"p"`
	// Significant reports P < alpha.
	Significant bool `json:"significant"`
}

// Compare tests whether the runs in new differ from those in old at
// significance level alpha, as benchstat does: a rank test, so a single
// outlier cannot make or hide a difference. With three runs a side the
// smallest p-value possible is 0.1, so no change is ever significant at
// 0.05; six runs a side can reach 0.002.
func Compare(old, new []float64, alpha float64) Delta {
	d := Delta{P: 1}
	if mo := Median(old); mo != 0 {
		d.Ratio = Median(new) / mo
	}
	if len(old) == 0 || len(new) == 0 {
		return d
	}
	d.P = MannWhitney(old, new)
	d.Significant = d.P < alpha
	return d
}

// MannWhitney returns the two-sided p-value of the Mann-Whitney U test
// (Wilcoxon rank-sum) for samples a and b: benchmath's test (benchstat's),
// exact up to 50 samples a side without ties, exact from the distribution
// of U given the ties up to 25 a side with ties, and otherwise the normal
// approximation with the corrections for ties and for continuity. Empty
// samples, and samples whose values are all equal, give 1. The order of a
// and b does not matter.
//
// benchmath doubles the tail of U's distribution below the smaller U of
// the two samples, read from the distribution of the first. MannWhitney
// passes the sample with the smaller U first: the normal approximation's
// tail is then computed without cancellation (the other way round, a
// p-value of 3.6e-21 comes out as 0). With ties and up to 25 samples a
// side, U's distribution is asymmetric, and the doubled tail depends on
// the order, can pass 1, and where the pooled samples hold only two
// distinct values it is wrong below the least U possible ({0,0,0} against
// {1,1}: 0.2 one way, 0.6 the other; exactly 0.1). There MannWhitney adds
// the two tails of that distribution (moremath's, which benchmath uses)
// instead: P(|U - n₁n₂/2| ≥ |u - n₁n₂/2|).
func MannWhitney(a, b []float64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 1
	}
	res, err := moremath.MannWhitneyUTest(a, b, moremath.LocationDiffers)
	if err != nil {
		return 1 // every value equal
	}
	u, nn := res.U, float64(len(a)*len(b))
	if u > nn/2 {
		a, b, u = b, a, nn-u
	}
	if u == nn/2 {
		return 1
	}
	pool := slices.Concat(a, b)
	slices.Sort(pool)
	if ties := tieGroups(pool); len(ties) < len(pool) &&
		max(len(a), len(b)) <= moremath.MannWhitneyTiesExactLimit {
		// Both tails of the distribution of a's U, read at or above u, so
		// never below the least U possible; U moves in halves, so
		// P(U ≥ nn-u) = 1 - P(U ≤ nn-u-½).
		d := moremath.UDist{N1: len(a), N2: len(b), T: ties}
		return min(1, d.CDF(u)+1-d.CDF(nn-u-0.5))
	}
	t := &benchmath.DefaultThresholds
	sa := benchmath.NewSample(slices.Clone(a), t)
	sb := benchmath.NewSample(slices.Clone(b), t)
	return benchmath.AssumeNothing.Compare(sa, sb).P
}

// tieGroups returns the sizes of the runs of equal values in sorted xs.
func tieGroups(xs []float64) []int {
	var groups []int
	for i := 0; i < len(xs); {
		j := i + 1
		for j < len(xs) && xs[j] == xs[i] {
			j++
		}
		groups = append(groups, j-i)
		i = j
	}
	return groups
}
