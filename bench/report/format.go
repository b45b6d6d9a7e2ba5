// How the reports write numbers: medians, quantities, spreads, cycles,
// sizes, thread counts, and comparisons.

package report

import (
	"fmt"
	"math"
	"strconv"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/bench/stats"
)

// formatMedian is a figure's median with its unit, marked when noisy.
func formatMedian(f *bench.Figure) string {
	s := formatQuantity(f.Summary.Median, f.Unit)
	if f.Summary.Noisy {
		s = noisyMark + s
	}
	return s
}

// formatQuantity writes v in unit u: latencies in ns, or µs from 10 µs up
// where ns digits stop helping; everything else as a number and the unit.
func formatQuantity(v float64, u bench.Unit) string {
	if u == bench.Nanoseconds && math.Abs(v) >= 10000 {
		return formatNumber(v/1000) + " µs"
	}
	if u == "" {
		return formatNumber(v)
	}
	return formatNumber(v) + " " + string(u)
}

// formatNumber writes v with about three significant digits, but never in
// exponent form for numbers of 1 and more, and never hiding integer
// digits: 12345, 123, 12.3, 1.23, 0.0123.
func formatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case a >= 100 || a == 0:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// formatSpread is the half-width of s's interval as a percentage of the
// median: how far the median may be off.
func formatSpread(s stats.Summary) string {
	if s.Median == 0 {
		return empty
	}
	return fmt.Sprintf("±%.1f%%", (s.Hi-s.Lo)/2/math.Abs(s.Median)*100)
}

// formatCycles writes a cost in cycles per byte (0: unknown).
func formatCycles(c float64) string {
	if c == 0 {
		return empty
	}
	return formatNumber(c)
}

// formatSize writes a byte count as bench.FormatSize does (0: no size).
func formatSize(n int) string {
	if n == 0 {
		return empty
	}
	return bench.FormatSize(n)
}

// formatThreads writes a thread count (0: not a parallel figure).
func formatThreads(n int) string {
	if n == 0 {
		return empty
	}
	return strconv.Itoa(n)
}

// formatRelation writes a comparison's value as its relation reads:
// "3.52×" for a factor, "12.3%" for a degradation, "+12.3%" for an
// overhead.
func formatRelation(rel bench.Relation, v float64) string {
	switch rel {
	case bench.Degradation:
		return strconv.FormatFloat(v, 'f', 1, 64) + "%"
	case bench.Overhead:
		return fmt.Sprintf("%+.1f%%", v)
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + "×"
}

// formatVersus writes a comparison with its baseline and interval, e.g.
// "3.52× vs crypto/cipher [3.40, 3.61]", marked when noisy.
func formatVersus(v *bench.Versus) string {
	if v == nil {
		return empty
	}
	lo, hi := v.Interval()
	prec := 2
	if v.Relation == bench.Degradation || v.Relation == bench.Overhead {
		prec = 1
	}
	s := fmt.Sprintf("%s vs %s [%s, %s]", formatRelation(v.Relation, v.Value()), v.Baseline,
		strconv.FormatFloat(lo, 'f', prec, 64), strconv.FormatFloat(hi, 'f', prec, 64))
	if v.Summary.Noisy {
		s = noisyMark + s
	}
	return s
}
