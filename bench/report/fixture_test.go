package report_test

import (
	"math"
	"slices"
	"time"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/bench/stats"
)

// around returns six samples spread evenly across median·(1 ± spread/2),
// so that their summary's interval (the full range, for six samples) is
// spread wide relative to the median: noisy above stats.DefaultMaxSpread.
func around(median, spread float64) []float64 {
	out := make([]float64, 6)
	for i := range out {
		out[i] = median * (1 + spread*(float64(i)/5-0.5))
	}
	// Not in order, as rounds are not.
	out[0], out[3] = out[3], out[0]
	return out
}

func summarize(xs []float64) stats.Summary {
	return stats.Summarize(xs, stats.DefaultConfidence, stats.DefaultMaxSpread)
}

func figure(workload, method, impl string, size, threads int, metric string, unit bench.Unit, samples []float64) bench.Figure {
	f := bench.Figure{
		Workload: workload, Method: method, Impl: impl,
		Size: size, Threads: threads, Metric: metric, Unit: unit,
		Samples: samples, Summary: summarize(samples),
	}
	if impl == bench.ImplAtrest && method != "plaintext" {
		f.Kernel = "kernel-" + method
	}
	return f
}

func versus(rel bench.Relation, baseline string, speed []float64) *bench.Versus {
	return &bench.Versus{Relation: rel, Baseline: baseline, Speed: speed, Summary: summarize(speed)}
}

// Spreads of samples: clean ones well inside stats.DefaultMaxSpread, noisy
// ones well outside it.
const (
	clean = 0.02
	noisy = 0.30
)

// fixture is a result with every workload of bench.Workloads, every unit
// and relation, a noisy figure and a noisy comparison. Every median is
// distinct, so a test can find a figure's row by its median.
func fixture() *bench.Result {
	r := &bench.Result{
		Schema:  bench.SchemaVersion,
		Started: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC),
		Elapsed: 95 * time.Second,
		Host: bench.Host{
			Hostname: "testhost", OS: "linux", Arch: "amd64", GoVersion: "go1.26.0",
			CPU: "Test CPU @ 3.00GHz", LogicalCores: 8,
			Features: []string{"AES-NI", "AVX2", "VAES"},
			ClockHz:  3e9,
			Kernels:  map[string]string{"plaintext": "copy", "aes128-ctr": "kernel-aes128-ctr", "sm4-ctr": "kernel-sm4-ctr"},
		},
		Options: bench.Options{
			Methods:   []string{"plaintext", "aes128-ctr", "sm4-ctr"},
			Sizes:     []int{64, 65536},
			Workloads: bench.Workloads,
			Rounds:    6, Duration: 200 * time.Millisecond, Threads: 2, Preset: "quick",
			Slice: 20 * time.Millisecond, SliceRounds: 20, SliceRoundsMax: 400, SliceBudget: 70 * time.Second,
			Confidence: stats.DefaultConfidence, MaxSpread: stats.DefaultMaxSpread,
		},
	}
	// add appends f and returns it for finishing touches, which must
	// come before the next add moves the slice.
	add := func(f bench.Figure) *bench.Figure {
		r.Figures = append(r.Figures, f)
		return &r.Figures[len(r.Figures)-1]
	}
	mbs, ops, ns := bench.MBPerSecond, bench.OpsPerSecond, bench.Nanoseconds

	// stream: two sizes; AES against crypto/cipher, SM4 against gmsm.
	for _, size := range []int{64, 65536} {
		k := 1 + float64(size)/16384 // larger buffers are faster
		add(figure(bench.Stream, "plaintext", bench.ImplAtrest, size, 0, "throughput", mbs, around(1000*k+1, clean)))
		f := add(figure(bench.Stream, "aes128-ctr", bench.ImplAtrest, size, 0, "throughput", mbs, around(700*k+2, clean)))
		f.CyclesPerByte = 3e9 / (f.Summary.Median * 1e6)
		f.Versus = versus(bench.SpeedUp, bench.ImplCryptoCipher, around(3.5, clean))
		f = add(figure(bench.Stream, "aes128-ctr", bench.ImplCryptoCipher, size, 0, "throughput", mbs, around(200*k+3, clean)))
		f.CyclesPerByte = 3e9 / (f.Summary.Median * 1e6)
		f = add(figure(bench.Stream, "sm4-ctr", bench.ImplAtrest, size, 0, "throughput", mbs, around(300*k+4, clean)))
		f.CyclesPerByte = 3e9 / (f.Summary.Median * 1e6)
		spread := clean
		if size == 64 {
			spread = noisy // the noisy comparison
		}
		f.Versus = versus(bench.SpeedUp, bench.ImplGMSM, around(1.8+float64(size)/1e6, spread))
		spread = clean
		if size == 65536 {
			spread = noisy // the noisy figure
		}
		add(figure(bench.Stream, "sm4-ctr", bench.ImplGMSM, size, 0, "throughput", mbs, around(150*k+5, spread)))
	}

	// random-read: p50 in ns, p99 in µs.
	for i, m := range []string{"plaintext", "aes128-ctr"} {
		base := float64(i) * 100
		p50 := figure(bench.RandomRead, m, bench.ImplAtrest, 4096, 0, "p50", ns, around(900+base, clean))
		p99 := figure(bench.RandomRead, m, bench.ImplAtrest, 4096, 0, "p99", ns, around(25000+base, clean))
		if m != "plaintext" {
			p50.Versus = versus(bench.SpeedUp, bench.ImplCryptoCipher, around(2.25, clean))
			p99.Versus = versus(bench.SpeedUp, bench.ImplCryptoCipher, around(1.75, clean))
		}
		add(p50)
		add(p99)
		if m != "plaintext" {
			add(figure(bench.RandomRead, m, bench.ImplCryptoCipher, 4096, 0, "p50", ns, around(2000, clean)))
			add(figure(bench.RandomRead, m, bench.ImplCryptoCipher, 4096, 0, "p99", ns, around(44000, clean)))
		}
	}

	// parallel: 1 and 2 threads.
	for i, m := range []string{"plaintext", "aes128-ctr"} {
		one := 5000 + float64(i)*7
		add(figure(bench.Parallel, m, bench.ImplAtrest, 64<<20, 1, "throughput", mbs, around(one, clean)))
		f := add(figure(bench.Parallel, m, bench.ImplAtrest, 64<<20, 2, "throughput", mbs, around(one*1.9, clean)))
		f.Versus = versus(bench.Scaling, "1 thread", around(1.9, clean))
	}

	// The file and engine workloads (Pebble v2's first), against
	// plaintext.
	engines := bench.Workloads[slices.Index(bench.Workloads, bench.PebbleFillSeq):]
	for i, w := range append([]string{bench.FileWrite, bench.FileRead}, engines...) {
		unit := ops
		if w == bench.FileWrite {
			unit = mbs
		}
		plain := 2000 + 100*float64(i)
		if i >= 5 { // the other engines': medians of their own
			plain = 12340 * math.Pow(3, float64(i-5))
		}
		add(figure(w, "plaintext", bench.ImplAtrest, 0, 0, "throughput", unit, around(plain, clean)))
		for j, m := range []string{"aes128-ctr", "sm4-ctr"} {
			speed := 0.9 - 0.3*float64(j) - 0.01*float64(i)
			spread := clean
			if w == bench.PebbleFillRandom && m == "sm4-ctr" {
				spread = noisy // a noisy degradation
			}
			f := add(figure(w, m, bench.ImplAtrest, 0, 0, "throughput", unit, around(plain*speed+float64(j), clean)))
			f.Versus = versus(bench.Degradation, "plaintext", around(speed, spread))
		}
	}
	return r
}
