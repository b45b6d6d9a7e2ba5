package bench_test

import (
	"slices"
	"testing"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/bench/stats"
)

// cmpFigure is a figure of samples xs, summarised as a run would.
func cmpFigure(workload, method string, size int, unit bench.Unit, xs ...float64) bench.Figure {
	metric := "throughput"
	if unit == bench.Nanoseconds {
		metric = "p50"
	}
	return bench.Figure{
		Workload: workload, Method: method, Impl: bench.ImplAtrest, Size: size,
		Metric: metric, Unit: unit, Samples: xs,
		Summary: stats.Summarize(xs, stats.DefaultConfidence, stats.DefaultMaxSpread),
	}
}

// cmpVersus is a comparison of relation rel with speed ratios xs.
func cmpVersus(rel bench.Relation, baseline string, xs ...float64) *bench.Versus {
	return &bench.Versus{Relation: rel, Baseline: baseline, Speed: xs,
		Summary: stats.Summarize(xs, stats.DefaultConfidence, stats.DefaultMaxSpread)}
}

// cmpRuns is a pair of runs: stream at 4 KiB clearly faster in new
// (samples fully apart), stream at 64 KiB unchanged (samples interleaved),
// a random-read latency clearly lower, a file-write whose degradation
// against plaintext clearly shrank though its throughput did not move,
// a regression, a figure only old has and one only new has.
func cmpRuns() (old, new *bench.Result) {
	old, new = &bench.Result{Schema: bench.SchemaVersion}, &bench.Result{Schema: bench.SchemaVersion}
	add := func(r *bench.Result, f bench.Figure, v *bench.Versus) {
		f.Versus = v
		r.Figures = append(r.Figures, f)
	}
	mbs := bench.MBPerSecond
	add(old, cmpFigure(bench.Stream, "aes128-ctr", 4096, mbs, 100, 104, 101, 105, 102, 103),
		cmpVersus(bench.SpeedUp, bench.ImplCryptoCipher, 3.0, 3.1, 3.2, 3.05, 3.15, 3.12))
	add(new, cmpFigure(bench.Stream, "aes128-ctr", 4096, mbs, 120, 124, 121, 125, 122, 123),
		cmpVersus(bench.SpeedUp, bench.ImplCryptoCipher, 3.6, 3.7, 3.8, 3.65, 3.75, 3.72))
	add(old, cmpFigure(bench.Stream, "aes128-ctr", 65536, mbs, 201, 203, 205, 207, 209, 211), nil)
	add(new, cmpFigure(bench.Stream, "aes128-ctr", 65536, mbs, 202, 204, 206, 208, 210, 212), nil)
	add(old, cmpFigure(bench.RandomRead, "aes128-ctr", 4096, bench.Nanoseconds, 900, 905, 910, 902, 907, 903), nil)
	add(new, cmpFigure(bench.RandomRead, "aes128-ctr", 4096, bench.Nanoseconds, 800, 805, 810, 802, 807, 803), nil)
	add(old, cmpFigure(bench.FileWrite, "sm4-ctr", 0, mbs, 501, 503, 505, 507, 509, 511),
		cmpVersus(bench.Degradation, "plaintext", 0.60, 0.61, 0.62, 0.63, 0.64, 0.65))
	add(new, cmpFigure(bench.FileWrite, "sm4-ctr", 0, mbs, 502, 504, 506, 508, 510, 512),
		cmpVersus(bench.Degradation, "plaintext", 0.80, 0.81, 0.82, 0.83, 0.84, 0.85))
	add(old, cmpFigure(bench.FileRead, "sm4-ctr", 0, bench.OpsPerSecond, 1000, 1001, 1002, 1003, 1004, 1005), nil)
	add(new, cmpFigure(bench.FileRead, "sm4-ctr", 0, bench.OpsPerSecond, 900, 901, 902, 903, 904, 905), nil)
	add(old, cmpFigure(bench.PebbleFillSeq, "sm4-ctr", 0, bench.OpsPerSecond, 1, 2, 3, 4, 5, 6),
		cmpVersus(bench.Degradation, "plaintext", 0.5, 0.5, 0.5))
	add(new, cmpFigure(bench.PebbleReadRandom, "sm4-ctr", 0, bench.OpsPerSecond, 1, 2, 3, 4, 5, 6), nil)
	return old, new
}

func TestCompareResults(t *testing.T) {
	old, new := cmpRuns()
	changes := bench.CompareResults(old, new, stats.DefaultAlpha)

	type want struct {
		key            string
		hasOld, hasNew bool
		significant    bool
		better         bool
		unit           bench.Unit
		relation       bench.Relation
		metric         string
	}
	k := func(f bench.Figure) string { return f.Key() }
	wants := []want{
		{k(old.Figures[0]), true, true, true, true, bench.MBPerSecond, "", "throughput"},
		{k(old.Figures[0]) + "/vs-crypto-cipher", true, true, true, true, bench.SpeedRatio, bench.SpeedUp, "throughput/speedup"},
		{k(old.Figures[1]), true, true, false, true, bench.MBPerSecond, "", "throughput"},
		{k(old.Figures[2]), true, true, true, true, bench.Nanoseconds, "", "p50"},
		{k(old.Figures[3]), true, true, false, true, bench.MBPerSecond, "", "throughput"},
		{k(old.Figures[3]) + "/vs-plaintext", true, true, true, true, bench.SpeedRatio, bench.Degradation, "throughput/degradation"},
		{k(old.Figures[4]), true, true, true, false, bench.OpsPerSecond, "", "throughput"},
		{k(old.Figures[5]), true, false, false, false, bench.OpsPerSecond, "", "throughput"},
		{k(old.Figures[5]) + "/vs-plaintext", true, false, false, false, bench.SpeedRatio, bench.Degradation, "throughput/degradation"},
		{k(new.Figures[5]), false, true, false, false, bench.OpsPerSecond, "", "throughput"},
	}
	if len(changes) != len(wants) {
		var keys []string
		for _, c := range changes {
			keys = append(keys, c.Key)
		}
		t.Fatalf("%d changes %q, want %d", len(changes), keys, len(wants))
	}
	for i, w := range wants {
		c := changes[i]
		if c.Key != w.key {
			t.Errorf("change %d: key %q, want %q", i, c.Key, w.key)
			continue
		}
		if (c.Old != nil) != w.hasOld || (c.New != nil) != w.hasNew {
			t.Errorf("%s: old %v new %v, want %v %v", c.Key, c.Old != nil, c.New != nil, w.hasOld, w.hasNew)
		}
		if c.OnlyOld() != (w.hasOld && !w.hasNew) || c.OnlyNew() != (!w.hasOld && w.hasNew) {
			t.Errorf("%s: OnlyOld %v OnlyNew %v", c.Key, c.OnlyOld(), c.OnlyNew())
		}
		if c.Delta.Significant != w.significant {
			t.Errorf("%s: significant %v (p=%v), want %v", c.Key, c.Delta.Significant, c.Delta.P, w.significant)
		}
		if w.significant && c.Better != w.better {
			t.Errorf("%s: better %v (ratio %v), want %v", c.Key, c.Better, c.Delta.Ratio, w.better)
		}
		if !w.hasOld || !w.hasNew {
			if c.Delta.P != 1 || c.Better {
				t.Errorf("%s: one-sided change has %+v, better %v", c.Key, c.Delta, c.Better)
			}
		}
		if c.Unit != w.unit || c.Relation != w.relation || c.Metric != w.metric {
			t.Errorf("%s: unit %q relation %q metric %q, want %q %q %q", c.Key, c.Unit, c.Relation, c.Metric, w.unit, w.relation, w.metric)
		}
	}
	// Labels come from the figure, whichever side has it.
	if c := changes[len(changes)-1]; c.Workload != bench.PebbleReadRandom || c.Method != "sm4-ctr" || c.Impl != bench.ImplAtrest {
		t.Errorf("new-only change labelled %+v", c)
	}
	// Six runs a side fully apart: the exact p-value 2/C(12,6).
	if p := changes[0].Delta.P; p > 0.0022 || p < 0.0021 {
		t.Errorf("p = %v, want 2/924", p)
	}
}

func TestCompareResultsRepeatsAndBaselines(t *testing.T) {
	old, new := &bench.Result{}, &bench.Result{}
	f := cmpFigure(bench.Stream, "sm4-ctr", 64, bench.MBPerSecond, 1, 2, 3)
	g := cmpFigure(bench.Stream, "sm4-ctr", 64, bench.MBPerSecond, 7, 8, 9)
	// A key measured twice pairs in order: old's first with new's first.
	old.Figures = []bench.Figure{f, g}
	new.Figures = []bench.Figure{f, g}
	// Another figure's baseline changed from gmsm to crypto/cipher: two
	// comparisons, each one-sided.
	h := cmpFigure(bench.Stream, "aes128-ctr", 64, bench.MBPerSecond, 1, 2, 3)
	h.Versus = cmpVersus(bench.SpeedUp, bench.ImplGMSM, 1, 2, 3)
	old.Figures = append(old.Figures, h)
	h.Versus = cmpVersus(bench.SpeedUp, bench.ImplCryptoCipher, 1, 2, 3)
	new.Figures = append(new.Figures, h)

	changes := bench.CompareResults(old, new, stats.DefaultAlpha)
	var got []string
	for _, c := range changes {
		got = append(got, c.Key)
		if c.Old != nil && c.New != nil && c.Relation == "" && c.Delta.Ratio != 1 {
			t.Errorf("%s: ratio %v; repeats paired out of order", c.Key, c.Delta.Ratio)
		}
	}
	want := []string{f.Key(), f.Key(), h.Key(), h.Key() + "/vs-gmsm", h.Key() + "/vs-crypto-cipher"}
	if !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
	if !changes[3].OnlyOld() || !changes[4].OnlyNew() {
		t.Errorf("changed baselines not one-sided: %+v %+v", changes[3], changes[4])
	}
}
