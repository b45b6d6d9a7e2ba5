package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/atrest/atrest/bench"
)

// csvHeader names WriteCSV's columns.
var csvHeader = []string{
	"workload", "method", "impl", "kernel", "size", "threads", "metric", "unit",
	"n", "median", "lo", "hi", "confidence", "noisy", "cycles_per_byte",
	"versus_relation", "versus_baseline", "versus_value", "versus_lo", "versus_hi", "versus_noisy",
	"samples",
}

// WriteCSV writes r's figures as CSV: a header row, then one row per
// figure in r's order, with the figure's identity, summary, comparison
// (empty cells when it has none; the value and interval as the relation
// reads, e.g. a degradation in percent) and its samples joined with ';'.
// Numbers are written in the shortest form that parses back to the same
// float64, so nothing is lost to rounding.
func WriteCSV(w io.Writer, r *bench.Result) error {
	if r == nil {
		return errNilResult
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("report: writing CSV: %w", err)
	}
	for i := range r.Figures {
		if err := cw.Write(csvRow(&r.Figures[i])); err != nil {
			return fmt.Errorf("report: writing CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: writing CSV: %w", err)
	}
	return nil
}

// csvRow is the CSV record of f, in csvHeader's order.
func csvRow(f *bench.Figure) []string {
	s := f.Summary
	row := []string{
		f.Workload, f.Method, f.Impl, f.Kernel,
		strconv.Itoa(f.Size), strconv.Itoa(f.Threads), f.Metric, string(f.Unit),
		strconv.Itoa(s.N), exact(s.Median), exact(s.Lo), exact(s.Hi), exact(s.Confidence),
		strconv.FormatBool(s.Noisy), exact(f.CyclesPerByte),
	}
	if v := f.Versus; v != nil {
		lo, hi := v.Interval()
		row = append(row, string(v.Relation), v.Baseline, exact(v.Value()), exact(lo), exact(hi),
			strconv.FormatBool(v.Summary.Noisy))
	} else {
		row = append(row, "", "", "", "", "", "")
	}
	samples := make([]string, len(f.Samples))
	for i, x := range f.Samples {
		samples[i] = exact(x)
	}
	return append(row, strings.Join(samples, ";"))
}

// exact writes v so that strconv.ParseFloat gives v back.
func exact(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
