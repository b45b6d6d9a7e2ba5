package stats

import (
	"cmp"
	"math"
	"slices"
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
// (Wilcoxon rank-sum) for samples a and b. Without ties and with at most 50
// samples a side it is exact, from the distribution of U counted by
// dynamic programming; otherwise it uses the normal approximation with the
// correction for ties and for continuity. Empty samples give 1.
func MannWhitney(a, b []float64) float64 {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return 1
	}
	u1, ties := rankSum(a, b)
	mean := float64(n1*n2) / 2
	if ties == 0 && n1 <= 50 && n2 <= 50 {
		// P(U ≤ min(u, n1n2-u)), doubled, is the two-sided p-value; U
		// is an integer without ties.
		u := min(u1, float64(n1*n2)-u1)
		return min(1, 2*exactUCDF(int(math.Round(u)), n1, n2))
	}
	n := float64(n1 + n2)
	variance := float64(n1*n2) / 12 * ((n + 1) - ties/(n*(n-1)))
	if variance == 0 {
		return 1 // every value equal
	}
	z := (math.Abs(u1-mean) - 0.5) / math.Sqrt(variance)
	if z < 0 {
		z = 0
	}
	return min(1, math.Erfc(z/math.Sqrt2))
}

// rankSum returns U for sample a (the number of pairs (x in a, y in b)
// with x > y, ties counting one half) and the tie term Σ(t³ - t) over the
// groups of equal values in the pooled sample.
func rankSum(a, b []float64) (u, ties float64) {
	type obs struct {
		v     float64
		fromA bool
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, x := range a {
		all = append(all, obs{x, true})
	}
	for _, y := range b {
		all = append(all, obs{y, false})
	}
	slices.SortFunc(all, func(p, q obs) int { return cmp.Compare(p.v, q.v) })
	var rankA float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		// Values i..j-1 share the mean of ranks i+1..j.
		rank := float64(i+1+j) / 2
		for _, o := range all[i:j] {
			if o.fromA {
				rankA += rank
			}
		}
		if t := float64(j - i); t > 1 {
			ties += t*t*t - t
		}
		i = j
	}
	n1 := float64(len(a))
	return rankA - n1*(n1+1)/2, ties
}

// exactUCDF returns P(U ≤ u) for the U statistic of samples of sizes n1 and
// n2 with no ties: the share of the C(n1+n2, n1) orderings whose U is at
// most u.
func exactUCDF(u, n1, n2 int) float64 {
	if u < 0 {
		return 0
	}
	// count[i][j][k] (rolled into two layers): orderings of i values of a
	// and j of b with U = k. The largest value is either from a (adding j
	// to U) or from b.
	maxU := n1 * n2
	prev := make([][]float64, n2+1)
	cur := make([][]float64, n2+1)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
		cur[j] = make([]float64, maxU+1)
		prev[j][0] = 1 // i = 0: one ordering, U = 0
	}
	for i := 1; i <= n1; i++ {
		for j := 0; j <= n2; j++ {
			clear(cur[j])
			for k := 0; k <= maxU; k++ {
				v := 0.0
				if k >= j {
					v += prev[j][k-j] // largest is from a: beats all j of b
				}
				if j > 0 {
					v += cur[j-1][k] // largest is from b
				}
				cur[j][k] = v
			}
		}
		prev, cur = cur, prev
	}
	total, below := 0.0, 0.0
	for k, c := range prev[n2] {
		total += c
		if k <= u {
			below += c
		}
	}
	return below / total
}
