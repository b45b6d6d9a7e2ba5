package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/bench/report"
	"github.com/atrest/atrest/bench/stats"
)

// armsResult is an engine workload as bench.Run writes it: CPU and wall
// figures for plaintext, the control, atrest and the peer, the encrypted
// CPU figures with their expected cost.
func armsResult() *bench.Result {
	r := &bench.Result{Schema: bench.SchemaVersion, Options: bench.Options{Methods: []string{"plaintext", "sm4-ctr"}, Rounds: 6}}
	w := bench.PebbleReadRandom
	for _, metric := range []string{bench.MetricCPU, bench.MetricWall} {
		add := func(method, impl string, ns, speed float64) *bench.Figure {
			f := figure(w, method, impl, 0, 0, metric, bench.NsPerOp, around(ns, 0.02))
			if speed != 0 {
				f.Versus = versus(bench.Overhead, "plaintext", around(speed, 0.01))
			}
			r.Figures = append(r.Figures, f)
			return &r.Figures[len(r.Figures)-1]
		}
		add("plaintext", bench.ImplNone, 1000, 0)
		add("plaintext", bench.ImplControl, 1000, 1)
		own := add("sm4-ctr", bench.ImplAtrest, 1100, 1/1.1)
		peer := add("sm4-ctr", bench.ImplPeer, 1500, 1/1.5)
		if metric == bench.MetricCPU {
			own.Expected = &bench.Expected{ReadCalls: 0.5, ReadBytes: 2048, ReadCallNs: 160, CipherNs: 80, MeasuredNs: 100}
			peer.Expected = &bench.Expected{ReadCalls: 0.5, ReadBytes: 2048, ReadCallNs: 1000, CipherNs: 500, MeasuredNs: 500}
		}
	}
	return r
}

// TestCostLines checks that the table and the Markdown report carry the
// control line, the sentence against the typical Go way, the expected
// against the measured cost, and what the peer leaves out, from the CPU
// figures (the lead), and that the summary has the peer's and the
// control's rows.
func TestCostLines(t *testing.T) {
	r := armsResult()
	var table, md bytes.Buffer
	if err := report.WriteTable(&table, r); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteMarkdown(&md, r, ""); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"table": table.String(), "markdown": strings.ReplaceAll(md.String(), `\`, "")} {
		for _, want := range []string{
			"control, plaintext against plaintext (cpu time): +0.0% [",
			"sm4-ctr: atrest +10.0% [",
			"typical-go +50.0% [",
			": atrest costs 0.2 of it",
			"sm4-ctr atrest: 2048 B read in 0.50 calls + 0 B written in 0.00 calls per op; cipher 80.0 ns/op expected, 100 ns/op measured beyond plaintext (+20 ns/op)",
			"sm4-ctr typical-go: 2048 B read",
			"keeps no durable dictionary",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, out)
			}
		}
	}
	for _, row := range []string{"| pebble-readrandom (control) | +0.0% | - |", "| pebble-readrandom (typical-go) | - | +50.0% |"} {
		if !strings.Contains(strings.ReplaceAll(md.String(), `\`, ""), row) {
			t.Errorf("summary lacks the row %q:\n%s", row, md.String())
		}
	}
}

func TestShareOf(t *testing.T) {
	for _, tt := range []struct {
		x, y float64
		want string
	}{{10, 50, "0.2"}, {11, 100, "0.11"}, {12.5, 50, "0.25"}, {50, 50, "1"}, {60, 50, "1.2"}} {
		if got := report.ShareOf(tt.x, tt.y); got != tt.want {
			t.Errorf("ShareOf(%v, %v) = %q, want %q", tt.x, tt.y, got, tt.want)
		}
	}
}

// TestVersusPeer: the share of the peer's overhead is given only when
// both overheads' intervals lie above 0.
func TestVersusPeer(t *testing.T) {
	overhead := func(lo, mid, hi float64) *bench.Figure {
		// Overhead o is a speed of 1/(1+o); the interval's ends swap.
		s := stats.Summary{N: 30, Median: 1 / (1 + mid/100), Lo: 1 / (1 + hi/100), Hi: 1 / (1 + lo/100), Confidence: 0.95}
		return &bench.Figure{Versus: &bench.Versus{Relation: bench.Overhead, Summary: s}}
	}
	for _, tt := range []struct {
		name      string
		own, peer *bench.Figure
		want      string
	}{
		{"both measurable", overhead(8, 10, 12), overhead(45, 50, 55), ": atrest costs 0.2 of it"},
		{"peer's interval holds 0", overhead(30, 36, 77), overhead(-17, 0.01, 25), ": the typical way costs nothing measurable here"},
		{"peer below 0", overhead(1, 2, 3), overhead(-9, -5, -1), ": the typical way costs nothing measurable here"},
		{"own interval holds 0", overhead(-3, 1, 5), overhead(40, 50, 60), ": atrest costs nothing measurable of it"},
	} {
		if got := report.VersusPeer(tt.own, tt.peer, 0.10); !strings.HasSuffix(got, tt.want) {
			t.Errorf("%s: %q, want it to end %q", tt.name, got, tt.want)
		}
	}
	// A noisy overhead says how many rounds would settle it.
	noisy := overhead(2, 12, 22)
	noisy.Versus.Summary.Noisy = true
	if got, want := report.VersusPeer(overhead(8, 10, 12), noisy, 0.10), "typical-go ~+12.0% [2.0, 22.0] (30 rounds; about 120 would settle it)"; !strings.Contains(got, want) {
		t.Errorf("%q lacks %q", got, want)
	}
}
