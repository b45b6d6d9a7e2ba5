package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/bench/report"
)

// comparisonRuns is a pair of runs: stream at 4 KiB clearly faster (six
// samples a side, fully apart), stream at 64 KiB unchanged (interleaved),
// a file-write whose degradation clearly shrank, a figure only old has and
// one only new has.
func comparisonRuns() (old, new *bench.Result) {
	old, new = &bench.Result{Schema: bench.SchemaVersion}, &bench.Result{Schema: bench.SchemaVersion}
	mbs := bench.MBPerSecond
	improved := figure(bench.Stream, "aes128-ctr", bench.ImplAtrest, 4096, 0, "throughput", mbs, []float64{100, 104, 101, 105, 102, 103})
	faster := improved
	faster.Samples = []float64{120, 124, 121, 125, 122, 123}
	faster.Summary = summarize(faster.Samples)
	same := figure(bench.Stream, "aes128-ctr", bench.ImplAtrest, 65536, 0, "throughput", mbs, []float64{201, 203, 205, 207, 209, 211})
	same2 := same
	same2.Samples = []float64{202, 204, 206, 208, 210, 212}
	same2.Summary = summarize(same2.Samples)
	costly := figure(bench.FileWrite, "sm4-ctr", bench.ImplAtrest, 0, 0, "throughput", mbs, around(500, clean))
	costly.Versus = versus(bench.Degradation, "plaintext", []float64{0.60, 0.61, 0.62, 0.63, 0.64, 0.65})
	cheaper := costly
	cheaper.Versus = versus(bench.Degradation, "plaintext", []float64{0.80, 0.81, 0.82, 0.83, 0.84, 0.85})
	gone := figure(bench.PebbleFillSeq, "sm4-ctr", bench.ImplAtrest, 0, 0, "throughput", bench.OpsPerSecond, around(1000, clean))
	added := figure(bench.PebbleReadRandom, "sm4-ctr", bench.ImplAtrest, 0, 0, "throughput", bench.OpsPerSecond, around(2000, clean))
	old.Figures = []bench.Figure{improved, same, costly, gone}
	new.Figures = []bench.Figure{faster, same2, cheaper, added}
	return old, new
}

func TestWriteComparison(t *testing.T) {
	old, new := comparisonRuns()
	var b bytes.Buffer
	if err := report.WriteComparison(&b, bench.CompareResults(old, new, 0.05)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	tests := []struct {
		figure string   // picks the line
		want   []string // all on that line
	}{
		{"stream aes128-ctr atrest 4 KiB throughput", []string{"102 MB/s", "122 MB/s", "+19.5% (better)", "p=0.002 n=6+6"}},
		{"stream aes128-ctr atrest 64 KiB throughput", []string{"206 MB/s", "207 MB/s", " ~ ", "n=6+6"}},
		{"file-write sm4-ctr atrest throughput degradation vs plaintext", []string{"37.5%", "17.5%", "-20.0 pts (better)"}},
		{"pebble-fillseq sm4-ctr atrest throughput", []string{"1000 ops/s", "only in old"}},
		{"pebble-readrandom sm4-ctr atrest throughput", []string{"2000 ops/s", "only in new"}},
	}
	for _, tt := range tests {
		lines := linesWith(out, tt.figure)
		if len(lines) == 0 {
			t.Errorf("no line for %q in\n%s", tt.figure, out)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(lines[0], w) {
				t.Errorf("line %q lacks %q", lines[0], w)
			}
		}
	}
	// The file-write throughput did not move: "~" on its own line.
	if lines := linesWith(out, "file-write sm4-ctr atrest throughput "); len(lines) != 2 || !strings.Contains(lines[0], " ~ ") {
		t.Errorf("file-write lines %q", lines)
	}
	if !strings.Contains(out, "~: no significant change") {
		t.Error("no legend for ~")
	}
}

func TestWriteComparisonEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteComparison(&b, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "figure") {
		t.Errorf("no header: %q", b.String())
	}
}
