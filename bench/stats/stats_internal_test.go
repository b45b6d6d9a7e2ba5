package stats

import (
	"math"
	"math/big"
	"math/bits"
	"testing"
)

// TestBinomCDF checks P(B ≤ k) for B ~ Binomial(n, 1/2) against exact
// integer sums of C(n, i).
func TestBinomCDF(t *testing.T) {
	for n := 1; n <= 120; n++ {
		total := new(big.Int).Lsh(big.NewInt(1), uint(n))
		sum := new(big.Int)
		for k := -1; k <= n+1; k++ {
			if k >= 0 && k <= n {
				sum.Add(sum, new(big.Int).Binomial(int64(n), int64(k)))
			}
			want, _ := new(big.Rat).SetFrac(sum, total).Float64()
			if got := binomCDF(k, n); math.Abs(got-want) > 1e-12 {
				t.Errorf("binomCDF(%d, %d) = %.17g, want %.17g", k, n, got, want)
			}
		}
	}
}

// bruteU counts, over every ordering of n1 values of a and n2 of b (a bit
// set in mask marks an a, from the smallest value up), how many orderings
// give each U = #{(x in a, y in b): x > y}.
func bruteU(n1, n2 int) []int {
	counts := make([]int, n1*n2+1)
	for mask := uint(0); mask < 1<<(n1+n2); mask++ {
		if bits.OnesCount(mask) != n1 {
			continue
		}
		u, bs := 0, 0
		for i := range n1 + n2 {
			if mask&(1<<i) != 0 {
				u += bs // this a beats every b below it
			} else {
				bs++
			}
		}
		counts[u]++
	}
	return counts
}

func TestExactUCDF(t *testing.T) {
	for n1 := 1; n1 <= 6; n1++ {
		for n2 := 1; n2 <= 6; n2++ {
			counts := bruteU(n1, n2)
			total := 0
			for _, c := range counts {
				total += c
			}
			if want := new(big.Int).Binomial(int64(n1+n2), int64(n1)).Int64(); int64(total) != want {
				t.Fatalf("brute force: %d orderings for %dv%d, want %d", total, n1, n2, want)
			}
			below := 0
			for u := -2; u <= n1*n2+2; u++ {
				if u >= 0 && u < len(counts) {
					below += counts[u]
				}
				want := float64(below) / float64(total)
				if got := exactUCDF(u, n1, n2); math.Abs(got-want) > 1e-14 {
					t.Errorf("exactUCDF(%d, %d, %d) = %.17g, want %d/%d", u, n1, n2, got, below, total)
				}
			}
		}
	}

	// The whole distribution sums to 1, and it is symmetric about n1n2/2.
	for _, sz := range [][2]int{{1, 1}, {3, 3}, {6, 6}, {10, 3}, {12, 9}, {50, 50}, {50, 1}} {
		n1, n2 := sz[0], sz[1]
		if got := exactUCDF(n1*n2, n1, n2); got != 1 {
			t.Errorf("exactUCDF(n1n2=%d, %d, %d) = %.17g, want 1", n1*n2, n1, n2, got)
		}
		if n1*n2 > 200 {
			continue // each call is O(n1·n2·n1n2): keep the test fast
		}
		for u := 0; u < n1*n2; u++ {
			lo := exactUCDF(u, n1, n2)
			hi := 1 - exactUCDF(n1*n2-u-1, n1, n2) // P(U ≥ n1n2-u)
			if math.Abs(lo-hi) > 1e-12 {
				t.Fatalf("%dv%d: P(U ≤ %d) = %v but P(U ≥ %d) = %v", n1, n2, u, lo, n1*n2-u, hi)
			}
		}
	}
}

func TestRankSum(t *testing.T) {
	tests := []struct {
		a, b    []float64
		u, ties float64
	}{
		{[]float64{1, 2, 3}, []float64{4, 5, 6}, 0, 0},
		{[]float64{4, 5, 6}, []float64{1, 2, 3}, 9, 0},
		// Worked in TestMannWhitneyNormal: U = 2.5, Σ(t³-t) = 24 + 6.
		{[]float64{1, 2, 2, 3}, []float64{2, 3, 4, 5}, 2.5, 30},
		// All five equal: U = 6·½, Σ(t³-t) = 125 - 5.
		{[]float64{7, 7}, []float64{7, 7, 7}, 3, 120},
	}
	for _, tc := range tests {
		if u, ties := rankSum(tc.a, tc.b); u != tc.u || ties != tc.ties {
			t.Errorf("rankSum(%v, %v) = %v, %v, want %v, %v", tc.a, tc.b, u, ties, tc.u, tc.ties)
		}
	}
}
