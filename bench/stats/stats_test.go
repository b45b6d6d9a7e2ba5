package stats_test

import (
	"math"
	"math/big"
	"math/bits"
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

// coverage returns, computed exactly, the coverage of [x(l), x(h)] for a
// sample of n: the chance that from l to h-1 samples lie below the true
// median, Σ_{l≤i<h} C(n,i) / 2^n.
func coverage(n, l, h int) *big.Rat {
	sum := new(big.Int)
	for i := l; i < h; i++ {
		sum.Add(sum, new(big.Int).Binomial(int64(n), int64(i)))
	}
	return new(big.Rat).SetFrac(sum, new(big.Int).Lsh(big.NewInt(1), uint(n)))
}

// TestSummarizeOrderStatistic checks the interval against benchmath's
// method, worked out exactly here. (Before benchmath the interval was
// always the narrowest symmetric one, [x(k), x(n+1-k)]; benchmath's may
// stop one order statistic short on one side, and above 30 samples it
// sums the normal approximation, so the exact coverage is checked to
// reach the level rather than to equal Confidence there.)
func TestSummarizeOrderStatistic(t *testing.T) {
	// Samples 1..n, so x(k) = k and the interval names l and h directly.
	for _, conf := range []float64{0.5, 0.8, 0.9, 0.95, 0.99, 0.999} {
		confR := new(big.Rat).SetFloat64(conf)
		for n := 1; n <= 60; n++ {
			s := stats.Summarize(shuffled(seq(1, float64(n)), uint64(n)), conf, math.Inf(1))
			l, h := int(s.Lo), int(s.Hi)
			if s.Lo != float64(l) || s.Hi != float64(h) || l < 1 || h > n || l > h {
				t.Errorf("n=%d conf=%v: interval [%v, %v] is not [x(l), x(h)]", n, conf, s.Lo, s.Hi)
				continue
			}
			exactR := coverage(n, l, h)
			exact, _ := exactR.Float64()
			if full := coverage(n, 1, n); full.Cmp(confR) < 0 {
				// Too few samples: the full range, with its coverage.
				if l != 1 || h != n || !s.Noisy || !near(s.Confidence, exact, 1e-12) {
					t.Errorf("n=%d conf=%v: got [%d, %d] Confidence %v Noisy %v; want the full range, its coverage %v, noisy",
						n, conf, l, h, s.Confidence, s.Noisy, exact)
				}
				continue
			}
			if s.Noisy {
				t.Errorf("n=%d conf=%v: noisy with coverage %v", n, conf, exact)
			}
			if exactR.Cmp(confR) < 0 {
				t.Errorf("n=%d conf=%v: [%d, %d] covers %v < conf", n, conf, l, h, exact)
			}
			// Centred: at most one order statistic more on one side.
			if d := l + h - (n + 1); d < -1 || d > 1 {
				t.Errorf("n=%d conf=%v: [%d, %d] is off centre", n, conf, l, h)
			}
			if n <= 30 {
				// Exact sums: Confidence is the coverage, and neither
				// bound can move in and still reach conf.
				if !near(s.Confidence, exact, 1e-12) {
					t.Errorf("n=%d conf=%v [%d, %d]: Confidence %.17g, exact %.17g", n, conf, l, h, s.Confidence, exact)
				}
				if l < h && (coverage(n, l+1, h).Cmp(confR) >= 0 || coverage(n, l, h-1).Cmp(confR) >= 0) {
					t.Errorf("n=%d conf=%v: [%d, %d] is not the narrowest", n, conf, l, h)
				}
				continue
			}
			// The normal approximation: Confidence reaches conf and is
			// within a few thousandths of the exact coverage (which
			// reaches conf too, checked above), and the interval one
			// step narrower on both sides would not do.
			if s.Confidence < conf || math.Abs(s.Confidence-exact) > 3e-3 {
				t.Errorf("n=%d conf=%v [%d, %d]: Confidence %v, exact %v", n, conf, l, h, s.Confidence, exact)
			}
			if coverage(n, l+1, h-1).Cmp(confR) >= 0 {
				t.Errorf("n=%d conf=%v: [%d, %d] is wider than needed", n, conf, l, h)
			}
		}
	}

	// Hand-checked: for n=20, P(B ≤ 5) = 21700/2^20 ≈ 0.0207 and
	// P(B ≤ 6) ≈ 0.0577, so [x(6), x(15)] covers ≈ 0.9586 and neither
	// [x(7), x(15)] nor [x(6), x(14)] reaches 0.95 (≈ 0.922). For n=8,
	// [x(1), x(8)] covers 1 - 2/256 ≈ 0.992, but [x(1), x(7)] still
	// covers 1 - 1/256 - 9/256 ≈ 0.961: benchmath stops there. For n=50
	// (the normal approximation, N(25, 12.5) with the continuity
	// correction), [x(18), x(32)] covers Φ(6.5/√12.5) - Φ(-7.5/√12.5) ≈
	// 0.9501, exactly 1 - P(B ≤ 17) - P(B ≤ 18) ≈ 1 - 0.0164 - 0.0325;
	// [x(19), x(32)] would cover ≈ 0.934.
	for _, tc := range []struct {
		n, l, h int
		cov     float64
	}{
		{20, 6, 15, 1 - 2*21700.0/(1<<20)},
		{8, 1, 7, 1 - 10.0/256},
		{50, 18, 32, 0.9501},
	} {
		s := stats.Summarize(shuffled(seq(1, float64(tc.n)), 7), 0.95, math.Inf(1))
		if s.Lo != float64(tc.l) || s.Hi != float64(tc.h) || !near(s.Confidence, tc.cov, 1e-4) {
			t.Errorf("n=%d: got [%v, %v] coverage %v, want [%d, %d] coverage ≈ %v",
				tc.n, s.Lo, s.Hi, s.Confidence, tc.l, tc.h, tc.cov)
		}
	}
	if exact, _ := coverage(50, 18, 32).Float64(); math.Abs(exact-(1-0.0164-0.0325)) > 2e-4 {
		t.Errorf("n=50: [x(18), x(32)] covers exactly %v", exact)
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

// checkBothWays checks MannWhitney(a, b) and MannWhitney(b, a) against
// want, to 1e-12 or, for tiny p-values, to a relative 1e-9.
func checkBothWays(t *testing.T, a, b []float64, want float64) {
	t.Helper()
	for _, order := range [][2][]float64{{a, b}, {b, a}} {
		if got := stats.MannWhitney(order[0], order[1]); !near(got, want, 1e-12) && math.Abs(got/want-1) > 1e-9 {
			t.Errorf("MannWhitney(%v, %v) = %.17g, want %.17g", order[0], order[1], got, want)
		}
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
			checkBothWays(t, shuffled(tc.a, 1), shuffled(tc.b, 2), tc.want)
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

// tiedRuns returns n values cycling through lo, lo+1, ..., lo+k-1: each
// value about n/k times.
func tiedRuns(n, k int, lo float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = lo + float64(i%k)
	}
	return xs
}

// uAndTies counts U for a (the pairs with x in a greater than y in b, ties
// a half) and the tie term Σ(t³ - t) over the groups of equal values in
// the pooled sample, straight from their definitions.
func uAndTies(a, b []float64) (u, ties float64) {
	for _, x := range a {
		for _, y := range b {
			switch {
			case x > y:
				u++
			case x == y:
				u += 0.5
			}
		}
	}
	count := map[float64]float64{}
	for _, v := range append(slices.Clone(a), b...) {
		count[v]++
	}
	for _, t := range count {
		ties += t*t*t - t
	}
	return u, ties
}

func TestMannWhitneyNormal(t *testing.T) {
	// Beyond benchmath's exact limits (25 a side with ties), with ties.
	tiedA, tiedB := tiedRuns(30, 6, 0), tiedRuns(28, 6, 1)
	tiedU, tiedTerm := uAndTies(tiedA, tiedB)
	tests := []struct {
		name string
		a, b []float64
		want float64
	}{
		// 60 a side, separated, no ties: beyond the exact limit.
		{"60v60 separated", seq(1, 60), seq(61, 120), normalP(0, 60, 60, 0)},
		// 51 against 3, interleaved, no ties: U for b counts the 10, 20
		// and 30 values of a below each of b's.
		{"51v3", seq(1, 51), []float64{10.5, 20.5, 30.5}, normalP(10+20+30, 51, 3, 0)},
		// 30 against 28 from seven values: the tie correction.
		{"30v28 ties", tiedA, tiedB, normalP(tiedU, 30, 28, tiedTerm)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkBothWays(t, tc.a, tc.b, tc.want)
		})
	}

	// The hand-worked figure (see TestMannWhitneyTies), so that a
	// mistake in normalP shows too: U = 2.5 against a mean of 8,
	// Σ(t³-t) = 30, σ² = 16/12·(9 - 30/56) ≈ 11.2857, z = 5/σ ≈ 1.4883.
	if p := normalP(2.5, 4, 4, 30); math.Abs(p-0.1367) > 5e-4 {
		t.Errorf("hand-worked p = %v, want ≈ 0.1367", p)
	}
	if u, ties := uAndTies([]float64{1, 2, 2, 3}, []float64{2, 3, 4, 5}); u != 2.5 || ties != 30 {
		t.Errorf("hand-worked U = %v, Σ(t³-t) = %v; want 2.5, 30", u, ties)
	}
	if tiedTerm == 0 || tiedU == 30*28/2 {
		t.Errorf("30v28 ties: U = %v, Σ(t³-t) = %v: no ties, or no difference, to test", tiedU, tiedTerm)
	}
	for _, p := range []float64{stats.MannWhitney(seq(1, 60), seq(61, 120)), stats.MannWhitney(seq(61, 120), seq(1, 60))} {
		if p <= 0 || p > 1e-15 {
			t.Errorf("60v60 separated p = %v, want tiny but positive", p)
		}
	}
	// Far in the tail, either way round, to the last few digits (the
	// tail 1 - Φ(z) would lose them): 1…60 against 30½…89½.
	a, b := seq(1, 60), seq(30.5, 89.5)
	p, q := stats.MannWhitney(a, b), stats.MannWhitney(b, a)
	if u, ties := uAndTies(a, b); ties != 0 || u != 465 {
		t.Errorf("1…60 against 30½…89½: U = %v, Σ(t³-t) = %v; want 465, 0", u, ties)
	}
	if want := normalP(465, 60, 60, 0); want > 1e-10 || math.Abs(p/want-1) > 1e-12 || math.Abs(q/want-1) > 1e-12 {
		t.Errorf("1…60 against 30½…89½: p = %v and %v, want %v", p, q, want)
	}
}

// bruteP is the exact two-sided p-value of the U test by enumeration: of
// the C(n1+n2, n1) ways to deal the pooled values into a group of n1 and
// one of n2, the share whose U lies at least as far from n1n2/2 as a's
// does, ties counting one half. It needs no distribution of U, with ties
// or without.
func bruteP(a, b []float64) float64 {
	pool := append(slices.Clone(a), b...)
	n1, n := len(a), len(pool)
	mean := float64(n1*(n-n1)) / 2
	u, _ := uAndTies(a, b)
	dist := math.Abs(u - mean)
	far, total := 0, 0
	for mask := uint(0); mask < 1<<n; mask++ {
		if bits.OnesCount(mask) != n1 {
			continue
		}
		var xs, ys []float64
		for i, v := range pool {
			if mask&(1<<i) != 0 {
				xs = append(xs, v)
			} else {
				ys = append(ys, v)
			}
		}
		total++
		if u, _ := uAndTies(xs, ys); math.Abs(u-mean) >= dist {
			far++
		}
	}
	return float64(far) / float64(total)
}

// TestMannWhitneyBrute checks the exact p-values against enumeration for
// every pair of sizes up to 6, with distinct values and with ties.
func TestMannWhitneyBrute(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n1 := 1; n1 <= 6; n1++ {
		for n2 := 1; n2 <= 6; n2++ {
			for i := range 6 {
				a, b := make([]float64, n1), make([]float64, n2)
				for j := range a {
					a[j] = float64(r.IntN(4))
				}
				for j := range b {
					b[j] = float64(r.IntN(4))
				}
				if i%2 == 0 { // distinct values, in a random order
					pool := shuffled(seq(1, float64(n1+n2)), uint64(i*100+n1*10+n2))
					a, b = pool[:n1], pool[n1:]
				}
				want := bruteP(a, b)
				if got := stats.MannWhitney(a, b); !near(got, want, 1e-12) {
					t.Errorf("MannWhitney(%v, %v) = %.17g, enumeration gives %.17g", a, b, got, want)
				}
			}
		}
	}
}

// TestMannWhitneyTies: small samples with ties get the exact p-value from
// the distribution of U given the ties, the same either way round. (Before
// benchmath they got the normal approximation, as larger ones still do:
// the hand-worked case was 0.1367 then and "small ties" 0.7469.)
func TestMannWhitneyTies(t *testing.T) {
	tests := []struct {
		name string
		a, b []float64
		want float64
	}{
		// Pooled: 1a 2a 2a 2b 3a 3b 4b 5b. U counts pairs with a > b,
		// ties a half: a=1 → 0, each a=2 → ½ (the tied 2), a=3 → 1 + ½;
		// U = 2.5 against a mean of 8. Of the C(8,4) = 70 ways to deal
		// these values into two fours, 14 put U at least 5.5 from 8.
		{"hand-worked ties", []float64{1, 2, 2, 3}, []float64{2, 3, 4, 5}, 14.0 / 70},
		// a = {1,1,2}, b = {1,3}: pooled 1a 1a 1b 2a 3b. U = ½+½+1 = 2
		// (each a=1 ties the b=1; a=2 beats it) against a mean of 3; 7
		// of the C(5,2) = 10 deals are at least 1 from it.
		{"small ties", []float64{1, 1, 2}, []float64{1, 3}, 7.0 / 10},
		// a = {2,3}, b = {1,3}: U = 1 + 1 + ½ = 2.5 against a mean of 2,
		// and every deal of 1, 2, 3, 3 puts U at least ½ from 2.
		{"ties near centre", []float64{2, 3}, []float64{1, 3}, 1},
		// Two distinct values: U = 0 against a mean of 3, reached by 1 of
		// the C(5,2) = 10 deals; the other U are 2.5 and 5. (benchmath
		// alone gives 0.2 or 0.6 depending on the order.)
		{"two values", []float64{0, 0, 0}, []float64{1, 1}, 1.0 / 10},
		// One against a pair: U = 2 against a mean of 1, reached by 1 of
		// the 3 deals (the other two give ½).
		{"one against a tied pair", []float64{1}, []float64{0, 0}, 1.0 / 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if brute := bruteP(tc.a, tc.b); !near(brute, tc.want, 1e-12) {
				t.Fatalf("enumeration gives %v, the worked figure is %v", brute, tc.want)
			}
			checkBothWays(t, tc.a, tc.b, tc.want)
		})
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
