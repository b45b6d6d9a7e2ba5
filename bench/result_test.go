package bench_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/bench/stats"
)

// jsonFixture is a result with a figure of every workload, every optional
// field of Figure set somewhere, and a comparison of every relation, one
// of them noisy.
func jsonFixture() *bench.Result {
	r := &bench.Result{
		Schema:  bench.SchemaVersion,
		Started: time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC),
		Elapsed: 95*time.Second + 123*time.Nanosecond,
		Host: bench.Host{
			Hostname: "testhost", OS: "linux", Arch: "amd64", GoVersion: "go1.26.0",
			CPU: "Test CPU @ 3.00GHz", LogicalCores: 8,
			Features: []string{"AES-NI", "AVX2"},
			ClockHz:  2.9999e9,
			Kernels:  map[string]string{"aes128-ctr": "aesni-avx2", "sm4-ctr": "gfni-avx2"},
		},
		Options: bench.Options{
			Methods: []string{"plaintext", "aes128-ctr", "sm4-ctr"}, Sizes: []int{64, 4096},
			Workloads: bench.Workloads, Rounds: 6, Duration: 250 * time.Millisecond, Threads: 4,
			Preset: "quick", Confidence: stats.DefaultConfidence, MaxSpread: stats.DefaultMaxSpread,
		},
	}
	sum := func(xs []float64) stats.Summary {
		return stats.Summarize(xs, stats.DefaultConfidence, stats.DefaultMaxSpread)
	}
	relations := []bench.Relation{bench.SpeedUp, bench.Degradation, bench.Scaling}
	for i, w := range bench.Workloads {
		unit, metric := bench.MBPerSecond, "throughput"
		switch w {
		case bench.RandomRead:
			unit, metric = bench.Nanoseconds, "p99"
		case bench.FileRead, bench.PebbleFillSeq, bench.PebbleFillRandom, bench.PebbleReadRandom:
			unit = bench.OpsPerSecond
		}
		// Values that print long in decimal, to catch any rounding.
		xs := []float64{1.0 / 3 * float64(i+1), 2.0 / 3, 0.1 + 0.2, 1e-9, 12345.678901234567, 7}
		speed := []float64{0.9, 0.91, 0.92, 0.5, 1.3, 0.93}
		f := bench.Figure{
			Workload: w, Method: "sm4-ctr", Impl: bench.ImplAtrest, Kernel: "gfni-avx2",
			Size: 4096, Threads: i % 3, Metric: metric, Unit: unit,
			Samples: xs, Summary: sum(xs), CyclesPerByte: 1.0 / 7,
			Versus: &bench.Versus{
				Relation: relations[i%len(relations)], Baseline: "plaintext",
				Speed: speed, Summary: sum(speed),
			},
		}
		plain := bench.Figure{
			Workload: w, Method: "plaintext", Impl: bench.ImplGMSM, Metric: metric, Unit: unit,
			Samples: []float64{5}, Summary: sum([]float64{5}),
		}
		r.Figures = append(r.Figures, plain, f)
	}
	return r
}

func TestResultJSONRoundTrip(t *testing.T) {
	r := jsonFixture()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	got, err := bench.ReadResult(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip changed the result:\ngot  %+v\nwant %+v", got, r)
	}
	// The fixture is what the test claims.
	var noisy bool
	for _, f := range r.Figures {
		noisy = noisy || f.Versus != nil && f.Versus.Summary.Noisy
	}
	if !noisy {
		t.Error("fixture has no noisy comparison")
	}
}

func TestReadResultRejects(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		schema bool // ErrSchema, else a decoding error
	}{
		{"future schema", `{"schema": 99, "figures": []}`, true},
		{"no schema", `{"figures": []}`, true},
		{"empty object", `{}`, true},
		{"array", `[]`, false},
		{"string", `"result"`, false},
		{"wrong field type", `{"schema": "1"}`, false},
		{"truncated", `{"schema": 1, "figures": [`, false},
		{"empty", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := bench.ReadResult(strings.NewReader(tt.doc))
			if err == nil {
				t.Fatalf("no error; result %+v", r)
			}
			if r != nil {
				t.Errorf("result %+v with error", r)
			}
			if errors.Is(err, bench.ErrSchema) != tt.schema {
				t.Errorf("error %v: ErrSchema %v, want %v", err, errors.Is(err, bench.ErrSchema), tt.schema)
			}
			if !tt.schema {
				var typeErr *json.UnmarshalTypeError
				var syntaxErr *json.SyntaxError
				if !errors.As(err, &typeErr) && !errors.As(err, &syntaxErr) && !strings.Contains(err.Error(), "EOF") {
					t.Errorf("error %v is not a decoding error", err)
				}
			}
		})
	}
}

// TestReadResultOlderSchema reads a version 1 document (the committed
// results of earlier builds): its figures read as they were written.
func TestReadResultOlderSchema(t *testing.T) {
	doc := `{"schema": 1, "figures": [{"workload": "pebble-fillseq", "method": "sm4-ctr", "impl": "atrest", "metric": "throughput", "unit": "ops/s", "samples": [1, 2],
		"versus": {"relation": "degradation", "baseline": "plaintext", "speed": [0.9, 0.8], "summary": {"n": 2, "median": 0.85}}}]}`
	r, err := bench.ReadResult(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Figures[0]; r.Schema != 1 || f.Versus.Relation != bench.Degradation || math.Abs(f.Versus.Value()-15) > 1e-9 {
		t.Errorf("read %+v", r)
	}
}

// TestOverheadValue checks how an overhead reads: the baseline's cost
// over this one's is the speed, and the overhead is the extra time.
func TestOverheadValue(t *testing.T) {
	v := &bench.Versus{Relation: bench.Overhead, Summary: stats.Summary{Median: 0.8, Lo: 0.5, Hi: 1}}
	if got := v.Value(); math.Abs(got-25) > 1e-9 {
		t.Errorf("speed 0.8: overhead %v, want +25%%", got)
	}
	if lo, hi := v.Interval(); math.Abs(lo) > 1e-9 || math.Abs(hi-100) > 1e-9 {
		t.Errorf("speeds [0.5, 1]: overhead [%v, %v], want [0, 100]", lo, hi)
	}
}

// TestNoisyCostPerOp checks that a cost per operation is quoted by its
// overhead: a wide interval of the cost itself (the machine's drift) does
// not make the row noisy, a noisy overhead does; other figures stay noisy
// on either.
func TestNoisyCostPerOp(t *testing.T) {
	wide := stats.Summary{N: 20, Median: 100, Lo: 50, Hi: 150, Noisy: true}
	clean := stats.Summary{N: 20, Median: 1, Lo: 0.99, Hi: 1.01}
	for _, tt := range []struct {
		unit   bench.Unit
		own    stats.Summary
		versus *bench.Versus
		want   bool
	}{
		{bench.NsPerOp, wide, &bench.Versus{Relation: bench.Overhead, Summary: clean}, false},
		{bench.NsPerOp, clean, &bench.Versus{Relation: bench.Overhead, Summary: wide}, true},
		{bench.NsPerOp, wide, nil, false},
		{bench.OpsPerSecond, wide, &bench.Versus{Relation: bench.Degradation, Summary: clean}, true},
		{bench.MBPerSecond, clean, nil, false},
	} {
		f := &bench.Figure{Unit: tt.unit, Summary: tt.own, Versus: tt.versus}
		if got := f.Noisy(); got != tt.want {
			t.Errorf("%s, own noisy %v, versus %+v: Noisy %v, want %v", tt.unit, tt.own.Noisy, tt.versus, got, tt.want)
		}
	}
}

// TestRoundsToSettle: an interval twice as wide as ±5 points needs four
// times the rounds; a settled one needs no more; too few rounds say
// nothing; a need beyond counting is capped rather than overflowing.
func TestRoundsToSettle(t *testing.T) {
	speedOf := func(overhead float64) float64 { return 1 / (1 + overhead/100) }
	for _, tt := range []struct {
		name      string
		n         int
		lo, hi    float64 // overhead interval, points
		want      int
		wantKnown bool
	}{
		{"twice too wide", 30, 0, 20, 120, true},
		{"just settled", 30, 5, 15, 30, true},
		{"three times too wide", 20, -15, 15, 180, true},
		{"too few rounds", 5, 0, 40, 0, false},
		{"beyond any count, capped", 30, 0, 1e9, math.MaxInt32, true},
		{"no width", 30, 10, 10, 0, false},
		{"not an overhead", 30, 0, 20, 0, false},
	} {
		rel := bench.Overhead
		if tt.name == "not an overhead" {
			rel = bench.SpeedUp
		}
		v := &bench.Versus{Relation: rel, Summary: stats.Summary{N: tt.n, Median: speedOf((tt.lo + tt.hi) / 2), Lo: speedOf(tt.hi), Hi: speedOf(tt.lo), Confidence: 0.95}}
		got, known := v.RoundsToSettle(0.10)
		if known != tt.wantKnown || (known && (got < tt.want-1 || got > tt.want+1)) {
			t.Errorf("%s: %d rounds (%v), want %d (%v)", tt.name, got, known, tt.want, tt.wantKnown)
		}
	}
}
