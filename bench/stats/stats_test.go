package stats_test

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/atrest/atrest/bench/stats"
)

// seq returns lo, lo+1, ..., hi.
func seq(lo, hi float64) []float64 {
	var xs []float64
	for x := lo; x <= hi; x++ {
		xs = append(xs, x)
	}
	return xs
}

// shuffled returns a copy of xs in an order fixed by seed.
func shuffled(xs []float64, seed uint64) []float64 {
	v := slices.Clone(xs)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	r.Shuffle(len(v), func(i, j int) { v[i], v[j] = v[j], v[i] })
	return v
}

func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"empty", nil, 0},
		{"single", []float64{7}, 7},
		{"odd", []float64{3, 1, 2}, 2},
		{"odd unsorted", []float64{9, -4, 5, 1, 100}, 5},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"even two", []float64{10, 0}, 5},
		{"negative", []float64{-3, -1, -2, -10}, -2.5},
		{"repeated", []float64{2, 2, 2, 1, 3}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.xs)
			if got := stats.Median(in); got != tc.want {
				t.Errorf("Median(%v) = %v, want %v", tc.xs, got, tc.want)
			}
			if !slices.Equal(in, tc.xs) {
				t.Errorf("Median modified its input: %v, was %v", in, tc.xs)
			}
		})
	}
}

func TestSummarizeKnown(t *testing.T) {
	tests := []struct {
		name      string
		xs        []float64
		conf      float64
		lo, hi    float64
		coverage  float64
		median    float64
		wantNoisy bool
	}{
		// C(10,0)+C(10,1) = 11 of 1024 outcomes put fewer than two
		// samples below the median: coverage 1 - 2·11/1024. The next
		// narrower interval [x(3), x(8)] has 1 - 2·56/1024 ≈ 0.89.
		{"n=10", shuffled(seq(1, 10), 1), 0.95, 2, 9, 1 - 2*11.0/1024, 5.5, true},
		// Even the full range covers only 1 - 2/32 < 0.95: noisy.
		{"n=5", shuffled(seq(1, 5), 2), 0.95, 1, 5, 0.9375, 3, true},
		// The full range covers 1 - 2/64; [x(2), x(5)] only 1 - 14/64.
		{"n=6", shuffled(seq(1, 6), 3), 0.95, 1, 6, 0.96875, 3.5, true},
		// One sample: the "interval" is the point, covering nothing.
		{"n=1", []float64{4}, 0.95, 4, 4, 0, 4, true},
		// A lower level lets n=5 narrow: [x(2), x(4)] covers 1 - 12/32.
		{"n=5 conf 0.6", shuffled(seq(1, 5), 4), 0.6, 2, 4, 0.625, 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.xs)
			// maxSpread is huge so that Noisy only reflects coverage;
			// the spread of 1..n is always large, so it is 10.
			s := stats.Summarize(in, tc.conf, 10)
			if !slices.Equal(in, tc.xs) {
				t.Errorf("Summarize modified its input")
			}
			if s.N != len(tc.xs) || s.Median != tc.median || s.Lo != tc.lo || s.Hi != tc.hi {
				t.Errorf("got N=%d median=%v [%v, %v], want N=%d median=%v [%v, %v]",
					s.N, s.Median, s.Lo, s.Hi, len(tc.xs), tc.median, tc.lo, tc.hi)
			}
			if !near(s.Confidence, tc.coverage, 1e-12) {
				t.Errorf("Confidence = %.17g, want %.17g", s.Confidence, tc.coverage)
			}
			if want := tc.coverage < tc.conf; s.Noisy != want {
				t.Errorf("Noisy = %v, want %v (coverage %v, conf %v)", s.Noisy, want, tc.coverage, tc.conf)
			}
		})
	}
}

// coverages returns, computed exactly, the coverage of [x(k), x(n+1-k)]
// for k = 1, 2, ... while k ≤ n+1-k: 1 - 2·Σ_{i<k} C(n,i) / 2^n.
func coverages(n int) []*big.Rat {
	total := new(big.Int).Lsh(big.NewInt(1), uint(n))
	below := new(big.Int) // Σ_{i<k} C(n,i)
	var out []*big.Rat
	for k := 1; k <= n+1-k; k++ {
		below.Add(below, new(big.Int).Binomial(int64(n), int64(k-1)))
		c := new(big.Rat).SetFrac(new(big.Int).Mul(below, big.NewInt(2)), total)
		out = append(out, c.Sub(big.NewRat(1, 1), c))
	}
	return out
}

func TestSummarizeOrderStatistic(t *testing.T) {
	// Samples 1..n, so x(k) = k and the interval names k directly.
	for _, conf := range []float64{0.5, 0.8, 0.9, 0.95, 0.99, 0.999} {
		confR := new(big.Rat).SetFloat64(conf)
		for n := 1; n <= 60; n++ {
			cov := coverages(n)
			s := stats.Summarize(shuffled(seq(1, float64(n)), uint64(n)), conf, math.Inf(1))
			k := int(s.Lo)
			if s.Lo != float64(k) || s.Hi != float64(n+1-k) || k < 1 || k > len(cov) {
				t.Errorf("n=%d conf=%v: interval [%v, %v] is not [x(k), x(n+1-k)]", n, conf, s.Lo, s.Hi)
				continue
			}
			exact, _ := cov[k-1].Float64()
			if !near(s.Confidence, exact, 1e-12) {
				t.Errorf("n=%d conf=%v k=%d: Confidence %.17g, exact %.17g", n, conf, k, s.Confidence, exact)
			}
			reached := cov[k-1].Cmp(confR) >= 0
			if !reached && k != 1 {
				t.Errorf("n=%d conf=%v: k=%d covers %v < conf", n, conf, k, exact)
			}
			if k < len(cov) && cov[k].Cmp(confR) >= 0 {
				next, _ := cov[k].Float64()
				t.Errorf("n=%d conf=%v: k=%d is not the narrowest: k=%d covers %v", n, conf, k, k+1, next)
			}
			if s.Noisy != !reached {
				t.Errorf("n=%d conf=%v: Noisy = %v with coverage %v", n, conf, s.Noisy, exact)
			}
		}
	}

	// Hand-checked: for n=20, P(B ≤ 5) = 21700/2^20 ≈ 0.0207 and
	// P(B ≤ 6) ≈ 0.0577, so [x(6), x(15)] covers ≈ 0.9586 and
	// [x(7), x(14)] only ≈ 0.885. For n=50, P(B ≤ 17) ≈ 0.0164 and
	// P(B ≤ 18) ≈ 0.0325, so [x(18), x(33)] covers ≈ 0.967 and
	// [x(19), x(32)] ≈ 0.935.
	for _, tc := range []struct {
		n, k int
		cov  float64
	}{
		{20, 6, 1 - 2*21700.0/(1<<20)},
		{50, 18, 0.9672},
	} {
		s := stats.Summarize(shuffled(seq(1, float64(tc.n)), 7), 0.95, math.Inf(1))
		if s.Lo != float64(tc.k) || s.Hi != float64(tc.n+1-tc.k) || !near(s.Confidence, tc.cov, 1e-4) {
			t.Errorf("n=%d: got [%v, %v] coverage %v, want [%d, %d] coverage ≈ %v",
				tc.n, s.Lo, s.Hi, s.Confidence, tc.k, tc.n+1-tc.k, tc.cov)
		}
	}
}

func TestSummarizeNoisy(t *testing.T) {
	tests := []struct {
		name       string
		xs         []float64
		maxSpread  float64
		spread     float64
		wantNoisy  bool
		wantLo     float64
		wantHi     float64
		wantMedian float64
	}{
		// n=10: [x(2), x(9)] = [101, 108] around 104.5: spread 7/104.5.
		{"under", shuffled(seq(100, 109), 5), 0.10, 7 / 104.5, false, 101, 108, 104.5},
		{"over", shuffled(seq(100, 109), 5), 0.05, 7 / 104.5, true, 101, 108, 104.5},
		// The spread is relative to the median's magnitude.
		{"negative", shuffled(seq(-109, -100), 6), 0.10, 7 / 104.5, false, -108, -101, -104.5},
		// All equal: a zero-width interval is never too wide.
		{"zero width", []float64{5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, 0, 0, false, 5, 5, 5},
		// A zero median with some width: infinitely wide.
		{"zero median", []float64{-2, -1, -1, -1, 0, 0, 1, 1, 1, 2}, 1e300, math.Inf(1), true, -1, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := stats.Summarize(tc.xs, 0.95, tc.maxSpread)
			if s.Lo != tc.wantLo || s.Hi != tc.wantHi || s.Median != tc.wantMedian {
				t.Fatalf("got median %v [%v, %v], want %v [%v, %v]", s.Median, s.Lo, s.Hi, tc.wantMedian, tc.wantLo, tc.wantHi)
			}
			if got := s.Spread(); !(got == tc.spread || near(got, tc.spread, 1e-12)) {
				t.Errorf("Spread() = %v, want %v", got, tc.spread)
			}
			if s.Noisy != tc.wantNoisy {
				t.Errorf("Noisy = %v, want %v", s.Noisy, tc.wantNoisy)
			}
		})
	}

	if s := stats.Summarize(nil, 0.95, 0.1); s != (stats.Summary{Noisy: true}) {
		t.Errorf("Summarize(nil) = %+v, want only Noisy", s)
	}
	if got := (stats.Summary{Median: 0, Lo: 3, Hi: 3}).Spread(); got != 0 {
		t.Errorf("Spread of a zero-width interval at a zero median = %v, want 0", got)
	}
}

// TestSummarizeCoverage draws many samples of 10 from an exponential
// distribution (skewed, median ln 2) and counts how often the interval
// misses the true median. The interval [x(2), x(9)] misses with
// probability 22/1024 ≈ 2.15%: about 43 of 2000 times, with a standard
// deviation of about 6.5. At most 80 misses (4%) is 5.7 standard
// deviations above that; the wrong interval [x(3), x(8)] would miss about
// 219 times (sd ≈ 14), and the full range [x(1), x(10)] about 4 times, so
// at least 15 misses (4.3 sd below 43) catches an interval too wide.
func TestSummarizeCoverage(t *testing.T) {
	const sets, n = 2000, 10
	r := rand.New(rand.NewPCG(2024, 11))
	xs := make([]float64, n)
	misses := 0
	for range sets {
		for i := range xs {
			xs[i] = r.ExpFloat64()
		}
		s := stats.Summarize(xs, 0.95, math.Inf(1))
		if s.Lo > math.Ln2 || s.Hi < math.Ln2 {
			misses++
		}
	}
	if misses > 80 || misses < 15 {
		t.Errorf("interval missed the true median %d times in %d, want about 43 (15..80)", misses, sets)
	}
}

func TestMannWhitneyExact(t *testing.T) {
	binom := func(n, k int64) float64 {
		f, _ := new(big.Float).SetInt(new(big.Int).Binomial(n, k)).Float64()
		return f
	}
	tests := []struct {
		name string
		a, b []float64
		want float64
	}{
		// Separated: U = 0, reached by 1 of C(6,3) = 20 orderings, each way.
		{"3v3 separated", seq(1, 3), seq(4, 6), 2.0 / 20},
		{"6v6 separated", seq(1, 6), seq(7, 12), 2.0 / 924},
		// R: wilcox.test(1:6, 1:6 + 0.5)$p.value (exact), U = 15.
		{"6v6 interleaved", seq(1, 6), []float64{1.5, 2.5, 3.5, 4.5, 5.5, 6.5}, 0.6991341991341992},
		// U = n1n2/2 exactly: the p-value is capped at 1.
		{"centred", []float64{1, 4}, []float64{2, 3}, 1},
		// One apart from separated: U = 1 reached by 1 ordering, U = 0 by
		// 1; P(U ≤ 1) = 2/20.
		{"3v3 one swap", []float64{1, 2, 4}, []float64{3, 5, 6}, 4.0 / 20},
		// 1v1: p = 2·1/2.
		{"1v1", []float64{1}, []float64{2}, 1},
		// The largest exact case: 50 a side.
		{"50v50 separated", seq(1, 50), seq(51, 100), 2 / binom(100, 50)},
		{"50v20 separated", seq(1, 50), seq(51, 70), 2 / binom(70, 20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := shuffled(tc.a, 1), shuffled(tc.b, 2)
			if got := stats.MannWhitney(a, b); !near(got, tc.want, 1e-12) && math.Abs(got/tc.want-1) > 1e-9 {
				t.Errorf("MannWhitney(a, b) = %.17g, want %.17g", got, tc.want)
			}
			if got := stats.MannWhitney(b, a); !near(got, tc.want, 1e-12) && math.Abs(got/tc.want-1) > 1e-9 {
				t.Errorf("MannWhitney(b, a) = %.17g, want %.17g", got, tc.want)
			}
		})
	}
}

// normalP is the normal approximation written out from the textbook
// formula, for checking MannWhitney's tie-corrected branch.
func normalP(u float64, n1, n2 int, tieTerm float64) float64 {
	m := float64(n1 * n2)
	n := float64(n1 + n2)
	sigma := math.Sqrt(m / 12 * ((n + 1) - tieTerm/(n*(n-1))))
	z := (math.Abs(u-m/2) - 0.5) / sigma
	return math.Erfc(z / math.Sqrt2)
}

func TestMannWhitneyNormal(t *testing.T) {
	tests := []struct {
		name string
		a, b []float64
		want float64
	}{
		// Pooled: 1a 2a 2a 2b 3a 3b 4b 5b. U counts pairs with a > b,
		// ties a half: a=1 → 0, each a=2 → ½ (the tied 2), a=3 → 1 + ½;
		// U = 2.5 against a mean of 8. Ties: a group of three 2s
		// (27-3 = 24) and of two 3s (8-2 = 6): Σ(t³-t) = 30.
		// σ² = 16/12·(9 - 30/56) ≈ 11.2857, z = 5/σ ≈ 1.4883, p ≈ 0.1367.
		{"hand-worked ties", []float64{1, 2, 2, 3}, []float64{2, 3, 4, 5}, normalP(2.5, 4, 4, 30)},
		// a = {1,1,2}, b = {1,3}: pooled 1a 1a 1b 2a 3b. U = ½+½+1 = 2
		// (each a=1 ties the b=1; a=2 beats it), mean 3, Σ(t³-t) = 24.
		// |U - mean| - ½ = ½.
		{"small ties", []float64{1, 1, 2}, []float64{1, 3}, normalP(2, 3, 2, 24)},
		// a = {2,3}, b = {1,3}: U = 1 + 1 + ½ = 2.5 against a mean of 2,
		// and |U - mean| = ½ is what the continuity correction takes off:
		// z = 0.
		{"ties near centre", []float64{2, 3}, []float64{1, 3}, 1},
		// 60 a side, separated, no ties: beyond the exact limit.
		{"60v60 separated", seq(1, 60), seq(61, 120), normalP(0, 60, 60, 0)},
		// 51 against 3, interleaved, no ties: U for b counts the 10, 20
		// and 30 values of a below each of b's.
		{"51v3", seq(1, 51), []float64{10.5, 20.5, 30.5}, normalP(10+20+30, 51, 3, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := stats.MannWhitney(tc.a, tc.b); !near(got, tc.want, 1e-12) && math.Abs(got/tc.want-1) > 1e-9 {
				t.Errorf("MannWhitney(a, b) = %.17g, want %.17g", got, tc.want)
			}
			if got := stats.MannWhitney(tc.b, tc.a); !near(got, tc.want, 1e-12) && math.Abs(got/tc.want-1) > 1e-9 {
				t.Errorf("MannWhitney(b, a) = %.17g, want %.17g", got, tc.want)
			}
		})
	}

	// The hand-worked figure, so that a mistake in normalP shows too.
	if p := normalP(2.5, 4, 4, 30); math.Abs(p-0.1367) > 5e-4 {
		t.Errorf("hand-worked p = %v, want ≈ 0.1367", p)
	}
	if p := stats.MannWhitney(seq(1, 60), seq(61, 120)); p <= 0 || p > 1e-15 {
		t.Errorf("60v60 separated p = %v, want tiny but positive", p)
	}
}

func TestMannWhitneyEdge(t *testing.T) {
	same := []float64{3, 3, 3, 3, 3}
	tests := []struct {
		name string
		a, b []float64
		want float64
	}{
		{"all equal", same, same, 1},
		{"all equal, other sizes", []float64{2, 2}, []float64{2, 2, 2, 2}, 1},
		{"identical samples", seq(1, 6), seq(1, 6), 1},
		{"empty a", nil, seq(1, 3), 1},
		{"empty b", seq(1, 3), nil, 1},
		{"both empty", nil, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := stats.MannWhitney(tc.a, tc.b); got != tc.want {
				t.Errorf("MannWhitney = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMannWhitneySymmetric(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 200 {
		n1, n2 := 1+r.IntN(12), 1+r.IntN(12)
		if i%4 == 0 {
			n1, n2 = 40+r.IntN(30), 40+r.IntN(30)
		}
		a, b := make([]float64, n1), make([]float64, n2)
		ties := i%2 == 0 // draw from few values so that some tie
		for j := range a {
			if ties {
				a[j] = float64(r.IntN(5))
			} else {
				a[j] = r.NormFloat64()
			}
		}
		for j := range b {
			if ties {
				b[j] = float64(r.IntN(5))
			} else {
				b[j] = r.NormFloat64() + 0.5
			}
		}
		p, q := stats.MannWhitney(a, b), stats.MannWhitney(b, a)
		if !near(p, q, 1e-12) || p <= 0 || p > 1 {
			t.Fatalf("MannWhitney(a, b) = %v, MannWhitney(b, a) = %v for\na = %v\nb = %v", p, q, a, b)
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name     string
		old, new []float64
		ratio    float64
		p        float64
		sig      bool
	}{
		{"6v6 separated", seq(1, 6), seq(7, 12), 9.5 / 3.5, 2.0 / 924, true},
		{"6v6 faster", seq(7, 12), seq(1, 6), 3.5 / 9.5, 2.0 / 924, true},
		{"3v3 separated", seq(1, 3), seq(4, 6), 5.0 / 2, 0.1, false},
		{"interleaved", seq(1, 6), []float64{1.5, 2.5, 3.5, 4.5, 5.5, 6.5}, 4.0 / 3.5, 0.6991341991341992, false},
		{"same", []float64{5, 5, 5}, []float64{5, 5, 5}, 1, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := stats.Compare(tc.old, tc.new, stats.DefaultAlpha)
			if !near(d.Ratio, tc.ratio, 1e-15) || !near(d.P, tc.p, 1e-12) || d.Significant != tc.sig {
				t.Errorf("Compare = %+v, want ratio %v p %v significant %v", d, tc.ratio, tc.p, tc.sig)
			}
		})
	}

	for _, tc := range []struct {
		name     string
		old, new []float64
	}{
		{"empty old", nil, seq(1, 6)},
		{"empty new", seq(1, 6), nil},
		{"both empty", nil, nil},
	} {
		d := stats.Compare(tc.old, tc.new, stats.DefaultAlpha)
		if d.P != 1 || d.Significant {
			t.Errorf("%s: Compare = %+v, want P = 1, not significant", tc.name, d)
		}
	}

	// 3v3 separated reaches p = 0.1: significant at a looser alpha, and
	// P < alpha is strict.
	if d := stats.Compare(seq(1, 3), seq(4, 6), 0.11); !d.Significant {
		t.Errorf("3v3 at alpha 0.11: %+v, want significant", d)
	}
	if d := stats.Compare(seq(1, 6), seq(7, 12), 2.0/924); d.Significant {
		t.Errorf("6v6 at alpha = p: %+v, want not significant", d)
	}
}
