// Package report writes what an encbench run measured (a bench.Result) for
// people and for other programs: a plain-text table for the terminal, a
// Markdown report, a CSV file with every sample, a chart (PNG or SVG), and
// the comparison of two runs.
//
// The table and the Markdown report show the same cells, built once here,
// so that the terminal and the published report never disagree. Every
// figure of the result appears in both: a workload this package does not
// know is shown in generic rows rather than dropped.
package report

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/bench/stats"
)

// ErrFormat is returned (wrapped) by WriteChart for an image format it
// cannot write; the message lists the valid ones.
var ErrFormat = errors.New("unknown chart format")

// errNilResult is returned by the writers given no result, which is a
// caller's mistake best reported rather than a panic mid-output.
var errNilResult = errors.New("report: nil result")

// noisyMark prefixes a number too noisy to quote.
const noisyMark = "~"

// empty fills a cell that has no value.
const empty = "-"

// about says in a line what each known workload measures, for section
// titles; see the Workload constants of package bench.
var about = map[string]string{
	bench.Stream:     "XORKeyStreamAt over one buffer of each size, one core",
	bench.RandomRead: "decrypt 4 KiB at a random offset of a 1 GiB file, call by call",
	bench.Parallel:   "one large XORKeyStreamAt split over threads",
	bench.FileWrite:  "64 KiB writes through dict.Manager, fsync every MiB; an operation is a write",
	bench.FileRead:   "random aligned 4 KiB reads through dict.Manager, page cache; an operation is a read",
}

// section is one workload's part of a report: a title and one or more
// tables of cells, shared by WriteTable and WriteMarkdown.
type section struct {
	workload string
	about    string
	tables   []table
}

// table is a header and rows of cells, each row as long as the header.
type table struct {
	header []string
	rows   [][]string
}

// workloadOrder returns the workloads present in r: those of
// bench.Workloads in that order, then unknown ones as they first appear.
func workloadOrder(r *bench.Result) []string {
	present := map[string]bool{}
	var unknown []string
	for i := range r.Figures {
		w := r.Figures[i].Workload
		if !present[w] && !slices.Contains(bench.Workloads, w) {
			unknown = append(unknown, w)
		}
		present[w] = true
	}
	var out []string
	for _, w := range bench.Workloads {
		if present[w] {
			out = append(out, w)
		}
	}
	return append(out, unknown...)
}

// figuresOf returns pointers to r's figures of workload w, in r's order.
func figuresOf(r *bench.Result, w string) []*bench.Figure {
	var out []*bench.Figure
	for i := range r.Figures {
		if r.Figures[i].Workload == w {
			out = append(out, &r.Figures[i])
		}
	}
	return out
}

// sections builds the per-workload tables of r.
func sections(r *bench.Result) []section {
	var out []section
	for _, w := range workloadOrder(r) {
		figs := figuresOf(r, w)
		s := section{workload: w, about: about[w]}
		if s.about == "" {
			s.about = bench.DescribeWorkload(w)
		}
		if w == bench.RandomRead {
			s.tables = latencyTables(figs)
		} else {
			s.tables = []table{figureTable(figs)}
		}
		out = append(out, s)
	}
	return out
}

// figureTable is one row per figure. Columns that would be empty for every
// figure (no sizes, no threads, no metric but "throughput", no cycles, no
// comparison) are left out, which gives each known workload the columns
// it needs and an unknown one all it has.
func figureTable(figs []*bench.Figure) table {
	var hasSize, hasThreads, hasMetric, hasCycles, hasVersus bool
	for _, f := range figs {
		hasSize = hasSize || f.Size != 0
		hasThreads = hasThreads || f.Threads != 0
		hasMetric = hasMetric || f.Metric != "throughput"
		hasCycles = hasCycles || f.CyclesPerByte != 0
		hasVersus = hasVersus || f.Versus != nil
	}
	t := table{header: []string{"method", "impl"}}
	add := func(on bool, name string) {
		if on {
			t.header = append(t.header, name)
		}
	}
	add(hasSize, "size")
	add(hasThreads, "threads")
	add(hasMetric, "metric")
	add(true, "median")
	add(true, "±")
	add(hasCycles, "cycles/B")
	add(hasVersus, versusHeader(figs))
	add(true, "note")
	for _, f := range figs {
		row := []string{f.Method, f.Impl}
		if hasSize {
			row = append(row, formatSize(f.Size))
		}
		if hasThreads {
			row = append(row, formatThreads(f.Threads))
		}
		if hasMetric {
			row = append(row, f.Metric)
		}
		row = append(row, formatMedian(f), formatSpread(f.Summary))
		if hasCycles {
			row = append(row, formatCycles(f.CyclesPerByte))
		}
		if hasVersus {
			row = append(row, formatVersus(f.Versus))
		}
		row = append(row, note(f))
		t.rows = append(t.rows, row)
	}
	return t
}

// versusHeader names the comparison column after the relation its figures
// share ("speed-up", "scaling", "degradation"), or "versus" if they mix.
func versusHeader(figs []*bench.Figure) string {
	var rel bench.Relation
	for _, f := range figs {
		if f.Versus == nil {
			continue
		}
		if rel != "" && f.Versus.Relation != rel {
			return "versus"
		}
		rel = f.Versus.Relation
	}
	switch rel {
	case bench.SpeedUp:
		return "speed-up"
	case bench.Scaling:
		return "scaling"
	case bench.Degradation:
		return "degradation"
	case bench.Overhead:
		return "overhead"
	}
	return "versus"
}

// latencyTables puts the p50 and p99 of each method and impl side by side;
// figures of other metrics follow in a generic table so none is lost.
func latencyTables(figs []*bench.Figure) []table {
	type rowKey struct {
		method, impl  string
		size, threads int
	}
	var keys []rowKey
	byKey := map[rowKey]map[string]*bench.Figure{}
	var rest []*bench.Figure
	hasSize, hasThreads := false, false
	for _, f := range figs {
		if f.Metric != "p50" && f.Metric != "p99" {
			rest = append(rest, f)
			continue
		}
		k := rowKey{f.Method, f.Impl, f.Size, f.Threads}
		m := byKey[k]
		if m == nil {
			m = map[string]*bench.Figure{}
			byKey[k] = m
			keys = append(keys, k)
		}
		if m[f.Metric] != nil {
			// Two figures of one metric for one row (threads
			// differ, or a repeat): keep the first in the row and
			// show the other in full below.
			rest = append(rest, f)
			continue
		}
		m[f.Metric] = f
		hasSize = hasSize || f.Size != 0
		hasThreads = hasThreads || f.Threads != 0
	}
	var out []table
	if len(keys) > 0 {
		t := table{header: []string{"method", "impl"}}
		if hasSize {
			t.header = append(t.header, "size")
		}
		if hasThreads {
			t.header = append(t.header, "threads")
		}
		t.header = append(t.header, "p50", "±", "p99", "±", "p50 speed-up", "p99 speed-up", "note")
		for _, k := range keys {
			row := []string{k.method, k.impl}
			if hasSize {
				row = append(row, formatSize(k.size))
			}
			if hasThreads {
				row = append(row, formatThreads(k.threads))
			}
			p50, p99 := byKey[k]["p50"], byKey[k]["p99"]
			noisy := false
			for _, f := range []*bench.Figure{p50, p99} {
				if f == nil {
					row = append(row, empty, empty)
					continue
				}
				row = append(row, formatMedian(f), formatSpread(f.Summary))
				noisy = noisy || f.Noisy()
			}
			for _, f := range []*bench.Figure{p50, p99} {
				if f == nil {
					row = append(row, empty)
					continue
				}
				row = append(row, formatVersus(f.Versus))
			}
			n := ""
			if noisy {
				n = "noisy"
			}
			t.rows = append(t.rows, append(row, n))
		}
		out = append(out, t)
	}
	if len(rest) > 0 {
		out = append(out, figureTable(rest))
	}
	return out
}

// note is the last cell of a figure's row: whether it may be quoted.
func note(f *bench.Figure) string {
	if f.Noisy() {
		return "noisy"
	}
	return ""
}

// methodOrder returns the methods of r: Options.Methods first, in that
// order, then any other a figure names, as it first appears. Charts and
// the summary use it so that a method keeps its place and colour.
func methodOrder(r *bench.Result) []string {
	out := slices.Clone(r.Options.Methods)
	for i := range r.Figures {
		if m := r.Figures[i].Method; !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// kernelList writes Host.Kernels as "method: kernel" pairs in method
// order, then any remaining method sorted, so the output is stable.
func kernelList(r *bench.Result) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range methodOrder(r) {
		if k, ok := r.Host.Kernels[m]; ok && !seen[m] {
			out = append(out, m+": "+k)
			seen[m] = true
		}
	}
	var rest []string
	for m := range r.Host.Kernels {
		if !seen[m] {
			rest = append(rest, m)
		}
	}
	slices.Sort(rest)
	for _, m := range rest {
		out = append(out, m+": "+r.Host.Kernels[m])
	}
	return out
}

// formatClock writes the calibrated clock (0: not calibrated).
func formatClock(hz float64) string {
	if hz == 0 {
		return "not calibrated"
	}
	return fmt.Sprintf("%.2f GHz (calibrated)", hz/1e9)
}

// formatRounds describes how each figure was measured.
func formatRounds(o bench.Options) string {
	s := fmt.Sprintf("%d rounds of %s per figure", o.Rounds, o.Duration)
	if o.Preset != "" {
		s += ", preset " + o.Preset
	}
	if o.SliceRounds > 0 {
		s += fmt.Sprintf("; file and engine workloads: %d rounds of %s slices", o.SliceRounds, o.Slice)
		if o.SliceRoundsMax > o.SliceRounds {
			s += fmt.Sprintf(", up to %d for the figures still noisy", o.SliceRoundsMax)
			if o.SliceBudget > 0 {
				s += fmt.Sprintf(" within %s in all", o.SliceBudget)
			}
		}
	}
	return s
}

// thresholds are the confidence and the largest spread the run's figures
// were summarised with; a result that does not record them (written
// before they were options) used stats' defaults.
func thresholds(o bench.Options) (conf, spread float64) {
	conf, spread = o.Confidence, o.MaxSpread
	if conf == 0 {
		conf = stats.DefaultConfidence
	}
	if spread == 0 {
		spread = stats.DefaultMaxSpread
	}
	return conf, spread
}

// noisyLegend explains the noisy mark with the run's own thresholds.
func noisyLegend(o bench.Options) string {
	conf, spread := thresholds(o)
	return fmt.Sprintf("%s / noisy: the %s%% interval of the median (or of the comparison) is wider than %s%% of it "+
		"(± above %s%%; for an overhead, ± above %s points), or there were too few rounds to reach %s%% confidence; do not quote it. "+
		"A cost per operation (ns/op) is quoted by its overhead: its row is noisy when the overhead is, while a %s on its median "+
		"says the machine's speed moved over the run, which pairing each slice with a plaintext slice cancels out of the overhead.",
		noisyMark, formatPercent(conf*100), formatPercent(spread*100), formatPercent(spread*50), formatPercent(spread*50),
		formatPercent(conf*100), noisyMark)
}

// formatPercent writes a percentage without trailing zeros.
func formatPercent(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// formatStarted writes when the run began and how long it took.
func formatStarted(r *bench.Result) string {
	if r.Started.IsZero() {
		return "took " + r.Elapsed.String()
	}
	return r.Started.UTC().Format(time.DateTime) + " UTC, took " + r.Elapsed.String()
}

// degradationRow is one row of the "what encryption costs" summary: a
// workload (and what else sets its figures apart) and each method's
// figure with a Degradation comparison.
type degradationRow struct {
	label    string
	byMethod map[string]*bench.Figure
}

// degradationKey is what, besides the method, tells a workload's figures
// apart.
type degradationKey struct {
	workload, impl, metric string
	size, threads          int
}

// degradations groups the figures of r compared with plaintext into rows
// by workload, in workload order, and returns the methods that have any:
// degradations, and of the overheads only the lead metric's (see
// leadMetric). Figures of a workload that differ other than by method
// (size, threads, metric, impl) get rows of their own, labelled with the
// difference, so no cell holds two figures. atrestOnly leaves out the
// control and the peers (the chart's bars).
func degradations(r *bench.Result, atrestOnly bool) ([]degradationRow, []string) {
	var rows []degradationRow
	usedMethod := map[string]bool{}
	for _, w := range workloadOrder(r) {
		var figs []*bench.Figure
		var keys []degradationKey
		lead := leadMetric(figuresOf(r, w))
		for _, f := range figuresOf(r, w) {
			if atrestOnly && f.Impl != bench.ImplAtrest {
				continue
			}
			if f.Versus != nil && (f.Versus.Relation == bench.Degradation || f.Versus.Relation == bench.Overhead && f.Metric == lead) {
				figs = append(figs, f)
				keys = append(keys, degradationKey{w, f.Impl, f.Metric, f.Size, f.Threads})
			}
		}
		index := map[degradationKey]int{}
		for i, f := range figs {
			ri, ok := index[keys[i]]
			if !ok || rows[ri].byMethod[f.Method] != nil {
				// A new row, or a repeat of a figure already in
				// the row: a row of its own rather than a lost
				// cell.
				ri = len(rows)
				index[keys[i]] = ri
				rows = append(rows, degradationRow{label: rowLabel(keys[i], keys), byMethod: map[string]*bench.Figure{}})
			}
			rows[ri].byMethod[f.Method] = f
			usedMethod[f.Method] = true
		}
	}
	var methods []string
	for _, m := range methodOrder(r) {
		if usedMethod[m] {
			methods = append(methods, m)
		}
	}
	return rows, methods
}

// rowLabel names a summary row by its workload, adding each of impl,
// size, threads and metric that differs among the workload's keys (impl
// also when it is not atrest, which would surprise a reader otherwise).
func rowLabel(k degradationKey, keys []degradationKey) string {
	impls, metrics, sizes, threads := map[string]bool{}, map[string]bool{}, map[int]bool{}, map[int]bool{}
	for _, o := range keys {
		impls[o.impl], metrics[o.metric], sizes[o.size], threads[o.threads] = true, true, true, true
	}
	parts := []string{k.workload}
	if metrics[bench.MetricCPU] || metrics[bench.MetricWall] {
		delete(metrics, bench.MetricWall) // one of them is shown: the lead
		delete(metrics, bench.MetricCPU)
	}
	if len(impls) > 1 || k.impl != bench.ImplAtrest {
		parts = append(parts, "("+k.impl+")")
	}
	if len(sizes) > 1 {
		parts = append(parts, formatSize(k.size))
	}
	if len(threads) > 1 {
		parts = append(parts, formatThreads(k.threads)+" threads")
	}
	if len(metrics) > 1 {
		parts = append(parts, k.metric)
	}
	return strings.Join(parts, " ")
}

// leadMetric is the metric a workload's costs per operation are quoted
// by: CPU time where it was measured, else wall time. CPU time leads
// because it is what encryption adds (the cipher is CPU work), because it
// does not count the time the process waits for a busy machine's other
// work or for the disk, and because the engine's background work
// (flushes, compactions: where a fill's data is encrypted) is in it
// whichever thread did it.
func leadMetric(figs []*bench.Figure) string {
	for _, f := range figs {
		if f.Metric == bench.MetricCPU {
			return bench.MetricCPU
		}
	}
	return bench.MetricWall
}
