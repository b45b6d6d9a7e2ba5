package bench_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/ctr"
)

// tinyConfig runs every workload at the smallest size that still measures
// something, on two cipher methods (plaintext comes along as a baseline).
func tinyConfig(t *testing.T) bench.Config {
	c := bench.QuickConfig()
	c.Methods = []ctr.Method{ctr.Plaintext, ctr.AES128CTR, ctr.SM4CTR}
	c.Sizes = []int{64, 4 << 10}
	c.Rounds = 3
	c.Duration = 2 * time.Millisecond
	c.Threads = 2
	c.ParallelSize = 512 << 10
	c.FileSize = 1 << 20
	c.PebbleKeys = 500
	c.SliceRounds, c.Slice = 3, 5*time.Millisecond
	c.SliceRoundsMax, c.SliceBudget = 0, 0 // every figure exactly SliceRounds
	c.Dir = t.TempDir()
	return c
}

func finitePositive(xs []float64) bool {
	for _, x := range xs {
		if !(x > 0) || math.IsInf(x, 0) {
			return false
		}
	}
	return len(xs) > 0
}

// TestRun runs every workload small and checks the result's shape: which
// figures exist, their samples, their baselines and the per-round ratios.
func TestRun(t *testing.T) {
	cfg := tinyConfig(t)
	var progress []int
	total := -1
	cfg.Progress = func(done, tot int, step string) {
		if step == "" {
			t.Errorf("progress step %d has no description", done)
		}
		progress = append(progress, done)
		total = tot
	}
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}

	if res.Schema != bench.SchemaVersion || res.Elapsed <= 0 || res.Started.IsZero() {
		t.Errorf("header: schema %d, elapsed %v, started %v", res.Schema, res.Elapsed, res.Started)
	}
	for _, m := range ctr.Methods {
		if res.Host.Kernels[m.String()] != ctr.KernelName(m) {
			t.Errorf("host kernel of %v = %q, want %q", m, res.Host.Kernels[m.String()], ctr.KernelName(m))
		}
	}
	if res.Host.LogicalCores < 1 || res.Host.CPU == "" || res.Host.GoVersion == "" || res.Host.ClockReadNs < 0 {
		t.Errorf("host: %+v", res.Host)
	}
	if res.Options.Rounds != 3 || !slices.Equal(res.Options.Methods, []string{"plaintext", "aes128-ctr", "sm4-ctr"}) {
		t.Errorf("options: %+v", res.Options)
	}

	// Progress counts every round once, in order, and ends at the total.
	if total <= 0 || len(progress) != total {
		t.Fatalf("progress: %d calls, total %d", len(progress), total)
	}
	for i, d := range progress {
		if d != i+1 {
			t.Fatalf("progress call %d reported %d done", i, d)
		}
	}

	byKey := map[string]*bench.Figure{}
	count := map[string]int{}
	for i := range res.Figures {
		f := &res.Figures[i]
		if _, dup := byKey[f.Key()]; dup {
			t.Errorf("figure %s twice", f.Key())
		}
		byKey[f.Key()] = f
		count[f.Workload]++
		if len(f.Samples) != cfg.Rounds || !finitePositive(f.Samples) {
			t.Errorf("%s: samples %v", f.Key(), f.Samples)
		}
		if f.Summary.N != cfg.Rounds || f.Summary.Lo > f.Summary.Median || f.Summary.Median > f.Summary.Hi {
			t.Errorf("%s: summary %+v", f.Key(), f.Summary)
		}
		if f.Impl == bench.ImplAtrest && f.Kernel != ctr.KernelName(mustMethod(t, f.Method)) {
			t.Errorf("%s: kernel %q", f.Key(), f.Kernel)
		}
		if v := f.Versus; v != nil {
			if len(v.Speed) != cfg.Rounds || !finitePositive(v.Speed) || v.Summary.N != cfg.Rounds {
				t.Errorf("%s: versus %+v", f.Key(), v)
			}
		}
	}
	// Stream: every method at every size, a baseline beside each cipher.
	// Random reads and scaling: ciphers only (plaintext computes nothing).
	want := map[string]int{
		bench.Stream:     2 * (1 + 2*2),
		bench.RandomRead: 2 * 2 * 2,
		bench.Parallel:   2 * 2,
		// The arms' workloads: plaintext, the control, each method
		// (and each peer, for an engine), each by CPU and wall time.
		bench.FileWrite:        2 * (2 + 2),
		bench.FileRead:         2 * (2 + 2),
		bench.PebbleFillSeq:    2 * (2 + 2*2),
		bench.PebbleFillRandom: 2 * (2 + 2*2),
		bench.PebbleReadRandom: 2 * (2 + 2*2),
	}
	for w, n := range want {
		if count[w] != n {
			t.Errorf("%s: %d figures, want %d", w, count[w], n)
		}
	}

	for _, size := range cfg.Sizes {
		for _, tc := range []struct{ method, baseline string }{{"aes128-ctr", bench.ImplCryptoCipher}, {"sm4-ctr", bench.ImplGMSM}} {
			own := figure(t, byKey, bench.Stream, tc.method, bench.ImplAtrest, size, 0, "throughput")
			base := figure(t, byKey, bench.Stream, tc.method, tc.baseline, size, 0, "throughput")
			if own == nil || base == nil {
				continue
			}
			checkVersus(t, own, base, bench.SpeedUp, tc.baseline, false)
			if res.Host.ClockHz > 0 && !(own.CyclesPerByte > 0) {
				t.Errorf("%s: no cycles per byte", own.Key())
			}
		}
		if p := figure(t, byKey, bench.Stream, "plaintext", bench.ImplAtrest, size, 0, "throughput"); p != nil && p.Versus != nil {
			t.Errorf("plaintext stream has a baseline: %+v", p.Versus)
		}
	}
	for _, tc := range []struct{ method, baseline string }{{"aes128-ctr", bench.ImplCryptoCipher}, {"sm4-ctr", bench.ImplGMSM}} {
		for _, q := range []string{"p50", "p99"} {
			own := figure(t, byKey, bench.RandomRead, tc.method, bench.ImplAtrest, 4096, 0, q)
			base := figure(t, byKey, bench.RandomRead, tc.method, tc.baseline, 4096, 0, q)
			if own != nil && base != nil {
				checkVersus(t, own, base, bench.SpeedUp, tc.baseline, true)
			}
		}
		p50 := figure(t, byKey, bench.RandomRead, tc.method, bench.ImplAtrest, 4096, 0, "p50")
		p99 := figure(t, byKey, bench.RandomRead, tc.method, bench.ImplAtrest, 4096, 0, "p99")
		if p50 != nil && p99 != nil {
			for i := range p50.Samples {
				if p50.Samples[i] > p99.Samples[i] {
					t.Errorf("%s round %d: p50 %v above p99 %v", tc.method, i, p50.Samples[i], p99.Samples[i])
				}
			}
		}
		one := figure(t, byKey, bench.Parallel, tc.method, bench.ImplAtrest, cfg.ParallelSize, 1, "throughput")
		two := figure(t, byKey, bench.Parallel, tc.method, bench.ImplAtrest, cfg.ParallelSize, 2, "throughput")
		if one != nil && two != nil {
			if one.Versus != nil {
				t.Errorf("one thread has a baseline")
			}
			checkVersus(t, two, one, bench.Scaling, "1 thread", false)
		}
	}
	for _, w := range []string{bench.FileWrite, bench.FileRead, bench.PebbleFillSeq, bench.PebbleFillRandom, bench.PebbleReadRandom} {
		engine := w != bench.FileWrite && w != bench.FileRead
		baseImpl := bench.ImplAtrest
		if engine {
			baseImpl = bench.ImplNone
		}
		for _, metric := range []string{bench.MetricCPU, bench.MetricWall} {
			plain := figure(t, byKey, w, "plaintext", baseImpl, -1, 0, metric)
			if plain == nil {
				continue
			}
			if plain.Versus != nil || plain.Unit != bench.NsPerOp {
				t.Errorf("%s: plaintext has a baseline or unit %s", plain.Key(), plain.Unit)
			}
			// The control line: plaintext against plaintext.
			if c := figure(t, byKey, w, "plaintext", bench.ImplControl, -1, 0, metric); c != nil {
				checkOverhead(t, c)
			}
			impls := []string{bench.ImplAtrest}
			if engine {
				impls = append(impls, bench.ImplPeer)
			}
			for _, m := range []string{"aes128-ctr", "sm4-ctr"} {
				for _, impl := range impls {
					f := figure(t, byKey, w, m, impl, -1, 0, metric)
					if f == nil {
						continue
					}
					checkOverhead(t, f)
					// Where the cost goes: the engines' encrypted CPU
					// figures say what their cipher work was.
					switch x := f.Expected; {
					case engine && metric == bench.MetricCPU && x == nil:
						t.Errorf("%s: no expected cost", f.Key())
					case engine && metric == bench.MetricCPU:
						if !(x.WriteCalls+x.ReadCalls > 0 && x.ReadBytes+x.WriteBytes > 0 && x.CipherNs > 0) {
							t.Errorf("%s: expected %+v", f.Key(), x)
						}
						if want := x.ReadCalls*x.ReadCallNs + x.WriteCalls*x.WriteCallNs; math.Abs(x.CipherNs-want) > 1e-9*want {
							t.Errorf("%s: expected cipher time %v, want %v", f.Key(), x.CipherNs, want)
						}
					case x != nil:
						t.Errorf("%s: an expected cost on a figure without one: %+v", f.Key(), x)
					}
				}
			}
		}
	}
}

// checkOverhead checks that f (a cost per operation) has its overhead
// against plaintext, a ratio for every round.
func checkOverhead(t *testing.T, f *bench.Figure) {
	t.Helper()
	v := f.Versus
	if v == nil || v.Relation != bench.Overhead || v.Baseline != "plaintext" || f.Unit != bench.NsPerOp {
		t.Errorf("%s: versus %+v, want an overhead against plaintext", f.Key(), v)
		return
	}
	if len(v.Speed) != len(f.Samples) || !finitePositive(v.Speed) {
		t.Errorf("%s: speeds %v", f.Key(), v.Speed)
	}
}

func mustMethod(t *testing.T, name string) ctr.Method {
	m, err := ctr.ParseMethod(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// figure finds a figure; size -1 matches any size.
func figure(t *testing.T, byKey map[string]*bench.Figure, workload, method, impl string, size, threads int, metric string) *bench.Figure {
	t.Helper()
	for _, f := range byKey {
		if f.Workload == workload && f.Method == method && f.Impl == impl && (size < 0 || f.Size == size) && f.Threads == threads && f.Metric == metric {
			return f
		}
	}
	t.Errorf("no figure %s %s %s size %d threads %d %s", workload, method, impl, size, threads, metric)
	return nil
}

// checkVersus checks f's comparison with base is round by round: each
// ratio is f's sample over base's (base's over f's for latencies).
func checkVersus(t *testing.T, f, base *bench.Figure, rel bench.Relation, baseline string, latency bool) {
	t.Helper()
	v := f.Versus
	if v == nil {
		t.Errorf("%s: no comparison with %s", f.Key(), baseline)
		return
	}
	if v.Relation != rel || v.Baseline != baseline {
		t.Errorf("%s: versus %s %q, want %s %q", f.Key(), v.Relation, v.Baseline, rel, baseline)
	}
	for i := range v.Speed {
		want := f.Samples[i] / base.Samples[i]
		if latency {
			want = base.Samples[i] / f.Samples[i]
		}
		if math.Abs(v.Speed[i]-want) > 1e-9*want {
			t.Errorf("%s round %d: speed %v, want %v", f.Key(), i, v.Speed[i], want)
		}
	}
}

// TestRunRejects checks each setting Run cannot work with is an ErrConfig.
func TestRunRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*bench.Config)
	}{
		{"no methods", func(c *bench.Config) { c.Methods = nil }},
		{"no workloads", func(c *bench.Config) { c.Workloads = nil }},
		{"zero rounds", func(c *bench.Config) { c.Rounds = 0 }},
		{"zero duration", func(c *bench.Config) { c.Duration = 0 }},
		{"zero slice", func(c *bench.Config) { c.Slice = 0 }},
		{"zero slice rounds", func(c *bench.Config) { c.SliceRounds = 0 }},
		{"negative slice rounds max", func(c *bench.Config) { c.SliceRoundsMax = -1 }},
		{"negative slice budget", func(c *bench.Config) { c.SliceBudget = -time.Second }},
		{"zero threads", func(c *bench.Config) { c.Threads = 0 }},
		{"tiny file", func(c *bench.Config) { c.FileSize = 4096 }},
		{"no Pebble keys", func(c *bench.Config) { c.PebbleKeys = 0 }},
		{"size zero", func(c *bench.Config) { c.Sizes = []int{0} }},
		{"size too large", func(c *bench.Config) { c.Sizes = []int{bench.MaxSize + 1} }},
		{"stream without sizes", func(c *bench.Config) { c.Sizes = nil }},
		{"unknown workload", func(c *bench.Config) { c.Workloads = []string{"compaction"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig(t)
			tc.change(&c)
			called := false
			c.Progress = func(int, int, string) { called = true }
			_, err := bench.Run(context.Background(), c)
			if !errors.Is(err, bench.ErrConfig) {
				t.Errorf("err = %v, want ErrConfig", err)
			}
			if called {
				t.Error("measured something before rejecting the configuration")
			}
		})
	}
}

// TestRunCancel cancels the context from the first progress report: the
// run stops there with the context's error.
func TestRunCancel(t *testing.T) {
	for _, w := range []string{bench.Stream, bench.FileWrite, bench.PebbleFillSeq} {
		t.Run(w, func(t *testing.T) {
			c := tinyConfig(t)
			c.Workloads = []string{w}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			c.Progress = func(int, int, string) {
				calls++
				cancel()
			}
			res, err := bench.Run(ctx, c)
			if !errors.Is(err, context.Canceled) || res != nil {
				t.Errorf("got %v, %v; want context.Canceled", res, err)
			}
			// The first report cancels; the slices check the context
			// before each slice, so nothing more reports.
			if calls > 1 {
				t.Errorf("%d rounds after cancelling", calls)
			}
		})
	}
}

// TestRunSettlesNoisyPairs: past SliceRounds, a pair goes on only while
// its overhead is noisy and in reach, so every overhead measured in fewer
// than SliceRoundsMax rounds is one that can be quoted or one that would
// need far more rounds than were left, and the baseline's figure pools
// the rounds of the pairs that ran them.
func TestRunSettlesNoisyPairs(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Workloads = []string{bench.FileRead}
	cfg.SliceRounds, cfg.SliceRoundsMax = 6, 40
	var calls, lastTotal int
	cfg.Progress = func(done, total int, _ string) {
		calls++
		if done != calls || total < done {
			t.Errorf("progress %d of %d at call %d", done, total, calls)
		}
		lastTotal = total
	}
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A pair's CPU and wall figures come from the same rounds; it stops
	// early only when both settled, or when the one needing more rounds
	// is out of reach of the rounds left.
	type pair struct {
		rounds, need int
		noisy        bool
	}
	pairs := map[string]*pair{}
	most := 0
	for _, f := range res.Figures {
		if f.Versus == nil {
			continue
		}
		n := len(f.Samples)
		most = max(most, n)
		if n < cfg.SliceRounds || n > cfg.SliceRoundsMax || len(f.Versus.Base) != n {
			t.Errorf("%s: %d rounds (%d of the baseline), want %d to %d", f.Key(), n, len(f.Versus.Base), cfg.SliceRounds, cfg.SliceRoundsMax)
		}
		key := f.Workload + "/" + f.Method + "/" + f.Impl
		p := pairs[key]
		if p == nil {
			p = &pair{rounds: n}
			pairs[key] = p
		}
		if p.rounds != n {
			t.Errorf("%s: %d rounds, its other metric %d", f.Key(), n, p.rounds)
		}
		if f.Versus.Summary.Noisy {
			p.noisy = true
			if need, ok := f.Versus.RoundsToSettle(res.Options.MaxSpread); ok {
				p.need = max(p.need, need)
			}
		}
	}
	if len(pairs) == 0 {
		t.Fatal("no pairs measured")
	}
	for key, p := range pairs {
		n := p.rounds
		if n < cfg.SliceRoundsMax && p.noisy && !(n >= 2*cfg.SliceRounds && p.need-n > 2*(cfg.SliceRoundsMax-n)) {
			t.Errorf("%s stopped after %d rounds, noisy yet in reach (%d rounds would settle it)", key, n, p.need)
		}
	}
	for _, f := range res.Figures {
		if f.Versus == nil && f.Workload == bench.FileRead && len(f.Samples) != most {
			t.Errorf("baseline %s: %d rounds, want the most any pair ran (%d)", f.Key(), len(f.Samples), most)
		}
	}
	// The rounds the settled pairs did not run were taken off the total
	// before the last one was reported.
	if lastTotal < calls {
		t.Errorf("progress total %d below the %d rounds run", lastTotal, calls)
	}
}

// TestRunGivesUpOutOfReach: a pair whose interval would need far more
// rounds than it may still run stops once it has twice SliceRounds (from
// fewer, the projection is too rough), leaving the time to the others;
// its figure keeps its noisy mark.
func TestRunGivesUpOutOfReach(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Workloads = []string{bench.FileRead, "pebble-readrandom"}
	cfg.SliceRounds, cfg.SliceRoundsMax = 6, 100_000
	cfg.MaxSpread = 1e-12 // nothing can settle: every pair is out of reach
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Figures {
		if f.Versus == nil || f.Metric != bench.MetricCPU {
			continue
		}
		if n := len(f.Samples); n != 2*cfg.SliceRounds || !f.Versus.Summary.Noisy {
			t.Errorf("%s: %d rounds, noisy %v; want twice the first %d and the mark kept", f.Key(), n, f.Versus.Summary.Noisy, cfg.SliceRounds)
		}
	}
}
