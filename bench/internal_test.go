package bench

import (
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/bench/stats"
)

func TestThreadCounts(t *testing.T) {
	for _, tc := range []struct {
		limit int
		want  []int
	}{
		{1, []int{1}}, {2, []int{1, 2}}, {3, []int{1, 2, 3}}, {4, []int{1, 2, 4}}, {6, []int{1, 2, 4, 6}}, {8, []int{1, 2, 4, 8}},
	} {
		if got := threadCounts(tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("threadCounts(%d) = %v, want %v", tc.limit, got, tc.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	sorted := []float64{10, 20, 30, 40, 50}
	for _, tc := range []struct{ q, want float64 }{
		{0, 10}, {0.5, 30}, {1, 50}, {0.25, 20}, {0.125, 15}, {0.99, 49.6},
	} {
		if got := quantile(sorted, tc.q); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if quantile(nil, 0.5) != 0 || quantile([]float64{7}, 0.99) != 7 {
		t.Error("quantile of an empty or single sample")
	}
}

// TestAddIV checks the baseline's counter arithmetic against big.Int,
// including carries through every byte and the wrap at 2^128.
func TestAddIV(t *testing.T) {
	mod := new(big.Int).Lsh(big.NewInt(1), 128)
	ivs := [][]byte{
		make([]byte, 16),
		{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe},
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
	}
	for _, iv := range ivs {
		for _, n := range []uint64{0, 1, 2, 255, 256, 1<<32 - 1, 1 << 40, 1<<64 - 1} {
			got := make([]byte, 16)
			addIV(got, iv, n)
			sum := new(big.Int).Add(new(big.Int).SetBytes(iv), new(big.Int).SetUint64(n))
			want := sum.Mod(sum, mod).FillBytes(make([]byte, 16))
			if !slices.Equal(got, want) {
				t.Errorf("addIV(%x, %d) = %x, want %x", iv, n, got, want)
			}
		}
	}
}

func TestMeasure(t *testing.T) {
	calls := 0
	ops, d := measure(5*time.Millisecond, func() { calls++ })
	if ops != calls || ops < 1 || d < 5*time.Millisecond {
		t.Errorf("measure: %d ops for %d calls in %v", ops, calls, d)
	}
	if o := timerOverhead(); o < 0 || o > float64(time.Millisecond) {
		t.Errorf("timer overhead %v ns", o)
	}
}

// TestOverheadNoisy checks the noisy mark of an overhead is in points: ±5
// points at the default 10% spread, whatever the overhead's size.
func TestOverheadNoisy(t *testing.T) {
	for _, tt := range []struct {
		lo, median, hi float64 // speeds
		conf           float64
		want           bool
	}{
		{1 / 1.04, 1, 1 / 0.96, 0.95, false},       // [-4, +4] points
		{1 / 1.06, 1, 1 / 0.94, 0.95, true},        // [-6, +6]
		{1 / 2.04, 1 / 2.0, 1 / 1.96, 0.95, false}, // +100% ±4 points
		{1 / 2.06, 1 / 2.0, 1 / 1.94, 0.95, true},  // +100% ±6 points
		{1 / 1.04, 1, 1 / 0.96, 0.90, true},        // too few rounds for 95%
	} {
		v := &Versus{Relation: Overhead, Summary: stats.Summary{N: 20, Lo: tt.lo, Median: tt.median, Hi: tt.hi, Confidence: tt.conf}}
		if got := overheadNoisy(v, 0.95, 0.10); got != tt.want {
			lo, hi := v.Interval()
			t.Errorf("overhead [%.1f, %.1f] at %v: noisy %v, want %v", lo, hi, tt.conf, got, tt.want)
		}
	}
}

// TestExpected checks the arithmetic of the expected cipher cost: the I/O
// per operation, and a call of the average size timed for reads and for
// writes.
func TestExpected(t *testing.T) {
	xor := func(b []byte, _ int64) {
		for i := range b {
			b[i] ^= 0x5a
		}
	}
	io := engine.IO{ReadCalls: 40, ReadBytes: 40 * 4096, WriteCalls: 10, WriteBytes: 10 * 65536}
	x := expected(io, 100, xor, 123)
	if x.ReadCalls != 0.4 || x.WriteCalls != 0.1 || x.ReadBytes != 0.4*4096 || x.WriteBytes != 0.1*65536 || x.MeasuredNs != 123 {
		t.Fatalf("per operation: %+v", x)
	}
	if !(x.ReadCallNs > 0 && x.WriteCallNs > x.ReadCallNs) {
		t.Errorf("a 64 KiB call costs %v ns, a 4 KiB one %v", x.WriteCallNs, x.ReadCallNs)
	}
	if want := 0.4*x.ReadCallNs + 0.1*x.WriteCallNs; math.Abs(x.CipherNs-want) > 1e-9*want {
		t.Errorf("cipher %v ns/op, want %v", x.CipherNs, want)
	}
	if got := x.Gap(); math.Abs(got-(123-x.CipherNs)) > 1e-9 {
		t.Errorf("gap %v", got)
	}
	if expected(io, 0, xor, 1) != nil {
		t.Error("an expected cost for no operations")
	}
	// Reads only: no write cost is timed.
	if x := expected(engine.IO{ReadCalls: 1, ReadBytes: 100}, 1, xor, 0); x.WriteCallNs != 0 || x.CipherNs != x.ReadCallNs {
		t.Errorf("reads only: %+v", x)
	}
}

func TestMedianDiff(t *testing.T) {
	if got := medianDiff([]float64{10, 20, 30}, []float64{1, 2, 100}); got != 9 {
		t.Errorf("median of 9, 18, -70 = %v, want 9", got)
	}
}

// TestPooledRatio checks a pooled summary is the ratio of the sums, its
// interval holds it and narrows as rounds agree, and few rounds are
// noisy.
func TestPooledRatio(t *testing.T) {
	// One round in five holds a compaction costing ten times the rest.
	var num, den []float64
	for i := range 40 {
		c := 1.0
		if i%5 == 0 {
			c = 10
		}
		num = append(num, c)
		den = append(den, c*1.25)
	}
	s := pooledRatio(num, den, 0.95, 0.10)
	if math.Abs(s.Median-0.8) > 1e-12 || s.Lo > s.Median || s.Hi < s.Median || s.N != 40 {
		t.Errorf("pooled %+v, want 0.8 inside its interval", s)
	}
	if s.Hi-s.Lo > 1e-9 || s.Noisy {
		t.Errorf("rounds in the same ratio: interval [%v, %v], noisy %v", s.Lo, s.Hi, s.Noisy)
	}
	// The median of the rounds' own values would miss the compactions:
	// the pooled mean does not.
	m := pooledRatio(num, ones(len(num)), 0.95, 10)
	if want := (8*1.0 + 2*10.0) / 10; math.Abs(m.Median-want) > 1e-12 || stats.Median(num) != 1 {
		t.Errorf("pooled mean %v, want %v", m.Median, want)
	}
	den[3] = 3 // one round off: a non-empty interval still holding the ratio
	s = pooledRatio(num, den, 0.95, 0.10)
	if !(s.Lo < s.Median && s.Median <= s.Hi) {
		t.Errorf("interval [%v, %v] around %v", s.Lo, s.Hi, s.Median)
	}
	if few := pooledRatio(num[:5], den[:5], 0.95, 10); !few.Noisy {
		t.Errorf("five rounds: %+v, want noisy", few)
	}
}

// TestPooledRatioShiftedCompaction: when one DB of a pair runs a
// compaction a round later than the other, the two rounds' ratios stray
// far to either side while their sum is true; drawing the two together
// keeps the interval near what the other rounds say, where drawing them
// apart would make it many times wider. Rounds that merely stray stay
// apart.
func TestPooledRatioShiftedCompaction(t *testing.T) {
	var num, den []float64
	for i := range 40 {
		c := 1.0 + 0.02*float64(i%3) // a little noise
		num = append(num, c)
		den = append(den, c)
	}
	// Rounds 18 and 19: the arm's compaction (cost 8) in 18, the
	// baseline's in 19.
	num[18], den[18] = 9, 1
	num[19], den[19] = 1, 9
	s := pooledRatio(num, den, 0.95, 0.10)
	if math.Abs(s.Median-1) > 1e-9 {
		t.Errorf("pooled ratio %v, want 1", s.Median)
	}
	// Drawn apart, resamples hold round 18 without 19 (or the reverse)
	// about as often as not, straying by 8/56 or more.
	if s.Hi-s.Lo > 0.05 {
		t.Errorf("interval [%v, %v]: the shifted rounds were drawn apart", s.Lo, s.Hi)
	}
	for _, tt := range []struct {
		name     string
		num, den []float64
		units    int
	}{
		{"shifted pair", []float64{1, 1, 9, 1, 1}, []float64{1, 1, 1, 9, 1}, 4},
		{"shifted the other way", []float64{1, 1, 1, 9, 1}, []float64{1, 9, 1, 1, 1}, 5}, // not neighbours
		{"both high", []float64{1, 9, 9, 1, 1}, []float64{1, 1, 1, 1, 1}, 5},
		{"stray within the factor", []float64{1, 1.8, 0.6, 1, 1}, []float64{1, 1, 1, 1, 1}, 5},
		{"two pairs", []float64{1, 1, 9, 1, 1, 1, 9, 1}, []float64{1, 1, 1, 9, 1, 9, 1, 1}, 6},
	} {
		jn, jd := joinShifted(tt.num, tt.den)
		var sn, sd float64
		for i := range jn {
			sn += jn[i]
			sd += jd[i]
		}
		if len(jn) != tt.units || len(jd) != tt.units || sn != sumOf(tt.num) || sd != sumOf(tt.den) {
			t.Errorf("%s: %d units (%v / %v), want %d with the same sums", tt.name, len(jn), jn, jd, tt.units)
		}
	}
}

func sumOf(xs []float64) (s float64) {
	for _, x := range xs {
		s += x
	}
	return s
}

// The quick preset measures Pebble v2 but no other engine, and every
// workload that is not an engine's.
func TestQuickWorkloads(t *testing.T) {
	q := QuickWorkloads()
	for _, w := range Workloads {
		_, _, isEngine := engineWorkload(w)
		other := isEngine && !strings.HasPrefix(w, "pebble-")
		if slices.Contains(q, w) == other {
			t.Errorf("%s in the quick workloads: %v", w, slices.Contains(q, w))
		}
	}
	if QuickConfig().Workloads == nil || !slices.Equal(QuickConfig().Workloads, q) {
		t.Errorf("QuickConfig's workloads %v", QuickConfig().Workloads)
	}
}

// TestOutOfReach: a pair is given up only when it needs more than twice
// the rounds the time left holds.
func TestOutOfReach(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		more           int
		left, perRound time.Duration
		want           bool
	}{
		{10, 100 * ms, 10 * ms, false}, // needs 10 of 10
		{20, 100 * ms, 10 * ms, false}, // needs twice what is left: still tried
		{21, 100 * ms, 10 * ms, true},
		{0, 0, 10 * ms, false}, // settled already
		{-5, 10 * ms, 10 * ms, false},
		{1, 0, 10 * ms, true}, // no time left at all
		{1, -ms, 10 * ms, true},
		{1000, 100 * ms, 0, false}, // no round measured yet: nothing known
	} {
		if got := outOfReach(tt.more, tt.left, tt.perRound); got != tt.want {
			t.Errorf("outOfReach(%d more, %v left, %v a round) = %v, want %v", tt.more, tt.left, tt.perRound, got, tt.want)
		}
	}
}

// TestSliceBudgetShares: each file or engine workload gets an equal share
// of what is left of the budget when it starts, so time one leaves goes
// to those after it; no budget means no limit.
func TestSliceBudgetShares(t *testing.T) {
	r := &run{cfg: Config{SliceBudget: 3 * time.Second}, budgetLeft: 3 * time.Second, sliceLeft: 3}
	start := time.Now() // before the share's own clock starts
	share, spent := r.sliceBudget()
	if share != time.Second {
		t.Fatalf("first share %v, want 1s", share)
	}
	time.Sleep(20 * time.Millisecond)
	spent()
	used := time.Since(start)
	share, spent = r.sliceBudget()
	// What is left (3s less what the first used) over the two left.
	if hi, lo := (3*time.Second-20*time.Millisecond)/2, (3*time.Second-used)/2; share > hi || share < lo {
		t.Errorf("second share %v, want between %v and %v", share, lo, hi)
	}
	spent()
	r.budgetLeft = 0
	if share, _ = r.sliceBudget(); share <= 0 {
		t.Errorf("a spent budget gave share %v: 0 would mean no limit to interleave.Run", share)
	}
	r = &run{cfg: Config{}, sliceLeft: 2}
	if share, _ = r.sliceBudget(); share != 0 {
		t.Errorf("no budget: share %v, want 0 (no limit)", share)
	}
}
