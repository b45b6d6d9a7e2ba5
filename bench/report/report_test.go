package report_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"image"
	"image/png"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/bench/report"
)

// linesWith returns the lines of out that contain s.
func linesWith(out, s string) []string {
	var found []string
	for line := range strings.Lines(out) {
		if strings.Contains(line, s) {
			found = append(found, line)
		}
	}
	return found
}

// mdEscape escapes s as the Markdown report does for the characters the
// fixture's cells use.
var mdEscape = strings.NewReplacer("~", `\~`, "[", `\[`, "]", `\]`, "|", `\|`).Replace

// checkFigures checks that out shows every figure of r: its median on
// exactly one line (the fixture's medians are distinct), its comparison on
// that line, and "noisy" on it if and only if the figure is noisy.
func checkFigures(t *testing.T, out string, r *bench.Result, escape func(string) string) {
	t.Helper()
	for i := range r.Figures {
		f := &r.Figures[i]
		median := escape(report.FormatMedian(f))
		lines := linesWith(out, median)
		if len(lines) != 1 {
			t.Errorf("%s: median %q on %d lines, want 1", f.Key(), median, len(lines))
			continue
		}
		line := lines[0]
		if f.Versus != nil {
			if v := escape(report.FormatVersus(f.Versus)); !strings.Contains(line, v) {
				t.Errorf("%s: line %q lacks comparison %q", f.Key(), line, v)
			}
		}
		if got := strings.Contains(line, "noisy"); got != f.Noisy() {
			t.Errorf("%s: line %q marked noisy = %v, want %v", f.Key(), line, got, f.Noisy())
		}
		if f.Summary.Noisy && !strings.Contains(line, escape("~")+median[len(escape("~")):]) {
			t.Errorf("%s: noisy median not marked with ~ in %q", f.Key(), line)
		}
	}
}

// checkOrder checks that the markers appear in out in the given order.
func checkOrder(t *testing.T, out string, markers []string) {
	t.Helper()
	last := -1
	for _, m := range markers {
		i := strings.Index(out, m)
		if i < 0 {
			t.Errorf("%q missing", m)
			continue
		}
		if i < last {
			t.Errorf("%q out of order", m)
		}
		last = i
	}
}

func TestWriteTable(t *testing.T) {
	r := fixture()
	var b bytes.Buffer
	if err := report.WriteTable(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	checkFigures(t, out, r, func(s string) string { return s })
	for _, want := range []string{
		"Test CPU @ 3.00GHz", "8 logical cores", "AES-NI AVX2 VAES", "3.00 GHz (calibrated)", "go1.26.0",
		"aes128-ctr: kernel-aes128-ctr", "sm4-ctr: kernel-sm4-ctr", "6 rounds of 200ms per figure",
		"file and engine workloads: 20 rounds of 20ms slices, up to 400 for the figures still noisy within 1m10s in all",
		// A few cells worked out by hand.
		"1005 MB/s", "±1.0%", "4.26", "0.857", "~755 MB/s",
		"3.50× vs crypto/cipher [3.46, 3.54]",
		"25.0 µs", "900 ns",
		"1.90× vs 1 thread [1.88, 1.92]",
		"10.0% vs plaintext [9.1, 10.9]", "~43.0% vs plaintext [34.5, 51.5]",
		"~ / noisy: the 95% interval",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	var sections []string
	for _, w := range bench.Workloads {
		sections = append(sections, "\n"+w+": ")
	}
	checkOrder(t, out, sections)
	// The random-read row holds both latencies.
	if lines := linesWith(out, "1000 ns"); len(lines) != 1 || !strings.Contains(lines[0], "25.1 µs") {
		t.Errorf("p50 and p99 not on one row: %q", lines)
	}
	if strings.Contains(out, " \n") {
		t.Error("a line ends in a space")
	}
}

// withStrays is the fixture with figures no known layout expects: a
// workload of the future and a latency metric random-read does not pivot.
func withStrays() *bench.Result {
	r := fixture()
	r.Figures = append(r.Figures,
		figure("future-work", "aes128-ctr", bench.ImplAtrest, 0, 3, "throughput", bench.OpsPerSecond, around(4321, clean)),
		figure(bench.RandomRead, "aes128-ctr", bench.ImplAtrest, 4096, 0, "p90", bench.Nanoseconds, around(7777, clean)),
	)
	return r
}

func TestNoFigureDropped(t *testing.T) {
	r := withStrays()
	var tb, md bytes.Buffer
	if err := report.WriteTable(&tb, r); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteMarkdown(&md, r, ""); err != nil {
		t.Fatal(err)
	}
	checkFigures(t, tb.String(), r, func(s string) string { return s })
	checkFigures(t, md.String(), r, mdEscape)
	if !strings.Contains(tb.String(), "\nfuture-work\n") || !strings.Contains(md.String(), "\n## future-work\n") {
		t.Error("no section for the unknown workload")
	}
}

func TestWriteMarkdown(t *testing.T) {
	r := fixture()
	tests := []struct {
		chart    string
		wantLink string
	}{
		{"", ""},
		{"chart.png", "](chart.png)"},
		{"out dir/chart (1).svg", "](out%20dir/chart%20%281%29.svg)"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := report.WriteMarkdown(&b, r, tt.chart); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if tt.wantLink == "" {
			if strings.Contains(out, "![") {
				t.Errorf("chart %q: image link without a chart", tt.chart)
			}
			continue
		}
		if !strings.Contains(out, "![") || !strings.Contains(out, tt.wantLink) {
			t.Errorf("chart %q: no link %q", tt.chart, tt.wantLink)
		}
	}

	var b bytes.Buffer
	if err := report.WriteMarkdown(&b, r, "chart.png"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	checkFigures(t, out, r, mdEscape)
	for _, want := range []string{
		"# encbench", "Test CPU @ 3.00GHz", "AES-NI AVX2 VAES", "3.00 GHz (calibrated)",
		"aes128-ctr: kernel-aes128-ctr",
		"## What encryption costs here",
		"| workload | aes128-ctr | sm4-ctr |",
		"| file-write | 10.0% | 40.0% |",
		`| pebble-fillrandom | 13.0% | \~43.0% |`,
		`3.50× vs crypto/cipher \[3.46, 3.54\]`,
		`\~ / noisy`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	var sections []string
	for _, w := range bench.Workloads {
		sections = append(sections, "\n## "+w+"\n")
	}
	checkOrder(t, out, append([]string{"## What encryption costs here", "| pebble-readrandom | 14.0% | 44.0% |", "!["}, sections...))

	// Every table row has as many cells as its header.
	cells := -1
	for line := range strings.Lines(out) {
		if !strings.HasPrefix(line, "|") {
			cells = -1
			continue
		}
		n := strings.Count(line, "|") - strings.Count(line, `\|`)
		if cells < 0 {
			cells = n
		} else if n != cells {
			t.Errorf("row %q has %d separators, header %d", line, n, cells)
		}
	}
}

func TestMarkdownEscapesPipes(t *testing.T) {
	r := fixture()
	r.Figures[0].Method = "odd|name"
	var b bytes.Buffer
	if err := report.WriteMarkdown(&b, r, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `| odd\|name |`) {
		t.Error(`"|" in a cell not escaped`)
	}
}

func TestWriteCSV(t *testing.T) {
	r := fixture()
	var b bytes.Buffer
	if err := report.WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1+len(r.Figures) {
		t.Fatalf("%d records, want a header and %d figures", len(records), len(r.Figures))
	}
	col := map[string]int{}
	for i, name := range records[0] {
		col[name] = i
	}
	for _, name := range []string{"workload", "method", "impl", "kernel", "size", "threads", "metric", "unit",
		"n", "median", "lo", "hi", "confidence", "noisy", "cycles_per_byte",
		"versus_relation", "versus_baseline", "versus_value", "versus_lo", "versus_hi", "versus_noisy", "samples"} {
		if _, ok := col[name]; !ok {
			t.Errorf("no column %q", name)
		}
	}
	float := func(t *testing.T, rec []string, name string) float64 {
		t.Helper()
		v, err := strconv.ParseFloat(rec[col[name]], 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	for i := range r.Figures {
		f := &r.Figures[i]
		rec := records[i+1]
		t.Run(f.Key(), func(t *testing.T) {
			got := bench.Figure{
				Workload: rec[col["workload"]], Method: rec[col["method"]], Impl: rec[col["impl"]],
				Kernel: rec[col["kernel"]], Metric: rec[col["metric"]], Unit: bench.Unit(rec[col["unit"]]),
			}
			got.Size, _ = strconv.Atoi(rec[col["size"]])
			got.Threads, _ = strconv.Atoi(rec[col["threads"]])
			if got.Key() != f.Key() || got.Kernel != f.Kernel || got.Unit != f.Unit {
				t.Errorf("identity %+v, want %+v", got, f)
			}
			for name, want := range map[string]float64{
				"median": f.Summary.Median, "lo": f.Summary.Lo, "hi": f.Summary.Hi,
				"confidence": f.Summary.Confidence, "cycles_per_byte": f.CyclesPerByte,
			} {
				if v := float(t, rec, name); v != want {
					t.Errorf("%s = %v, want %v", name, v, want)
				}
			}
			if rec[col["noisy"]] != strconv.FormatBool(f.Summary.Noisy) {
				t.Errorf("noisy = %s", rec[col["noisy"]])
			}
			var samples []float64
			for s := range strings.SplitSeq(rec[col["samples"]], ";") {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					t.Fatal(err)
				}
				samples = append(samples, v)
			}
			if !slices.Equal(samples, f.Samples) {
				t.Errorf("samples %v, want %v", samples, f.Samples)
			}
			if f.Versus == nil {
				if rec[col["versus_relation"]] != "" || rec[col["versus_value"]] != "" {
					t.Errorf("comparison cells %q without a comparison", rec[col["versus_relation"]:col["samples"]])
				}
				return
			}
			lo, hi := f.Versus.Interval()
			if rec[col["versus_relation"]] != string(f.Versus.Relation) || rec[col["versus_baseline"]] != f.Versus.Baseline ||
				float(t, rec, "versus_value") != f.Versus.Value() ||
				float(t, rec, "versus_lo") != lo || float(t, rec, "versus_hi") != hi ||
				rec[col["versus_noisy"]] != strconv.FormatBool(f.Versus.Summary.Noisy) {
				t.Errorf("comparison cells %q, want %+v", rec[col["versus_relation"]:col["samples"]], f.Versus)
			}
		})
	}
}

func TestWriteChart(t *testing.T) {
	onlyFiles := fixture()
	onlyFiles.Figures = slices.DeleteFunc(onlyFiles.Figures, func(f bench.Figure) bool { return f.Workload == bench.Stream })
	onlyStream := fixture()
	onlyStream.Figures = slices.DeleteFunc(onlyStream.Figures, func(f bench.Figure) bool { return f.Workload != bench.Stream })
	oneSize := fixture()
	oneSize.Figures = slices.DeleteFunc(oneSize.Figures, func(f bench.Figure) bool { return f.Size == 65536 })
	tests := []struct {
		name   string
		r      *bench.Result
		noData int // panels drawn with "no data"
	}{
		{"fixture", fixture(), 0},
		{"strays", withStrays(), 0},
		{"no stream", onlyFiles, 1},
		{"no degradation", onlyStream, 1},
		{"one size", oneSize, 0},
		{"empty", &bench.Result{Schema: bench.SchemaVersion}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/png", func(t *testing.T) {
			var b bytes.Buffer
			if err := report.WriteChart(&b, tt.r, "png"); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&b)
			if err != nil {
				t.Fatal(err)
			}
			// 12 by 4.5 inches at vgimg's 96 dots per inch.
			if got, want := img.Bounds().Size(), (image.Point{X: 1152, Y: 432}); got != want {
				t.Errorf("size %v, want %v", got, want)
			}
			if colours(img) < 2 {
				t.Error("the image is a single colour")
			}
		})
		t.Run(tt.name+"/svg", func(t *testing.T) {
			var b bytes.Buffer
			if err := report.WriteChart(&b, tt.r, "svg"); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if !strings.HasPrefix(out, "<?xml") && !strings.HasPrefix(out, "<svg") {
				t.Errorf("not SVG: %.40q", out)
			}
			for _, title := range []string{"throughput per method and size", "cost against plaintext per workload"} {
				if !strings.Contains(out, title) {
					t.Errorf("no title %q", title)
				}
			}
			if n := strings.Count(out, "no data"); n != tt.noData {
				t.Errorf("%d panels with no data, want %d", n, tt.noData)
			}
		})
	}
}

// colours counts the distinct colours of img, up to 2.
func colours(img image.Image) int {
	b := img.Bounds()
	first := img.At(b.Min.X, b.Min.Y)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if img.At(x, y) != first {
				return 2
			}
		}
	}
	return 1
}

func TestWriteChartFormat(t *testing.T) {
	for _, format := range []string{"", "gif", "PNG", "pdf"} {
		var b bytes.Buffer
		err := report.WriteChart(&b, fixture(), format)
		if !errors.Is(err, report.ErrFormat) {
			t.Errorf("format %q: error %v, want ErrFormat", format, err)
		} else if !strings.Contains(err.Error(), "png, svg") {
			t.Errorf("format %q: error %q does not list the formats", format, err)
		}
		if b.Len() != 0 {
			t.Errorf("format %q: wrote %d bytes", format, b.Len())
		}
	}
}

func TestNilResult(t *testing.T) {
	var b bytes.Buffer
	for name, err := range map[string]error{
		"table":    report.WriteTable(&b, nil),
		"csv":      report.WriteCSV(&b, nil),
		"markdown": report.WriteMarkdown(&b, nil, ""),
		"chart":    report.WriteChart(&b, nil, "png"),
	} {
		if err == nil {
			t.Errorf("%s: no error for a nil result", name)
		}
	}
}

// failWriter fails every write.
type failWriter struct{}

var errWrite = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteErrors(t *testing.T) {
	r := fixture()
	changes := bench.CompareResults(r, r, 0.05)
	for name, err := range map[string]error{
		"table":      report.WriteTable(failWriter{}, r),
		"csv":        report.WriteCSV(failWriter{}, r),
		"markdown":   report.WriteMarkdown(failWriter{}, r, ""),
		"png":        report.WriteChart(failWriter{}, r, "png"),
		"svg":        report.WriteChart(failWriter{}, r, "svg"),
		"comparison": report.WriteComparison(failWriter{}, changes),
	} {
		if !errors.Is(err, errWrite) {
			t.Errorf("%s: error %v, want the writer's", name, err)
		}
	}
}

// TestSummaryRowsApart checks that the summary gives figures of one
// workload that differ by more than their method rows of their own, named
// by the difference, and that the chart draws them, faster than plaintext
// or not.
func TestSummaryRowsApart(t *testing.T) {
	r := &bench.Result{Schema: bench.SchemaVersion, Options: bench.Options{Methods: []string{"plaintext", "aes128-ctr"}}}
	for _, size := range []int{4096, 65536} {
		f := figure(bench.FileRead, "aes128-ctr", bench.ImplAtrest, size, 0, "throughput", bench.OpsPerSecond, around(float64(size), clean))
		// Faster than plaintext at 64 KiB: a negative degradation.
		f.Versus = versus(bench.Degradation, "plaintext", around(0.8+float64(size)/200000, clean))
		r.Figures = append(r.Figures, f)
	}
	var b bytes.Buffer
	if err := report.WriteMarkdown(&b, r, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| file-read 4 KiB | 18.0% |", "| file-read 64 KiB | -12.8% |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	for _, format := range []string{"png", "svg"} {
		if err := report.WriteChart(&bytes.Buffer{}, r, format); err != nil {
			t.Errorf("%s: %v", format, err)
		}
	}
}
