package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/atrest/atrest/bench"
)

// WriteComparison writes the changes between two runs (from
// bench.CompareResults) as a table in the manner of benchstat: for each
// figure, and each figure's comparison with its baseline, the old and the
// new median, the change and the p-value of the rank test. A change that
// is not significant shows as "~" instead of a percentage, since quoting
// it would be quoting noise. A figure that only one run has is listed as
// such.
func WriteComparison(w io.Writer, changes []bench.Change) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\told\tnew\tchange\tp")
	for i := range changes {
		c := &changes[i]
		old, new := changeSide(c, c.Old), changeSide(c, c.New)
		var change, p string
		switch {
		case c.Old == nil:
			change, p = "only in new", empty
		case c.New == nil:
			change, p = "only in old", empty
		default:
			change = formatChange(c)
			p = fmt.Sprintf("p=%.3f n=%d+%d", c.Delta.P, len(changeSamples(c, c.Old)), len(changeSamples(c, c.New)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", changeLabel(c), old, new, change, p)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: writing comparison: %w", err)
	}
	b.WriteString("\n~: no significant change (Mann-Whitney U test); " +
		"a degradation's change is in percentage points of plaintext's speed.\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report: writing comparison: %w", err)
	}
	return nil
}

// changeLabel names what c compares: the figure's workload, method, impl,
// size, threads and metric, and for a comparison with a baseline, the
// relation and the baseline.
func changeLabel(c *bench.Change) string {
	parts := []string{c.Workload, c.Method, c.Impl}
	if c.Size != 0 {
		parts = append(parts, formatSize(c.Size))
	}
	if c.Threads != 0 {
		parts = append(parts, strconv.Itoa(c.Threads)+" threads")
	}
	if c.Relation == "" {
		return strings.Join(append(parts, c.Metric), " ")
	}
	parts = append(parts, strings.TrimSuffix(c.Metric, "/"+string(c.Relation)), string(c.Relation))
	if v := changeVersus(c); v != nil {
		parts = append(parts, "vs "+v.Baseline)
	}
	return strings.Join(parts, " ")
}

// changeVersus returns the comparison c is about, from either side.
func changeVersus(c *bench.Change) *bench.Versus {
	for _, f := range []*bench.Figure{c.Old, c.New} {
		if f != nil && f.Versus != nil {
			return f.Versus
		}
	}
	return nil
}

// changeSamples returns the samples of f that c compares.
func changeSamples(c *bench.Change, f *bench.Figure) []float64 {
	if c.Relation != "" {
		return f.Versus.Speed
	}
	return f.Samples
}

// changeSide writes one side of c: the figure's median and its spread, or
// the comparison's value as its relation reads.
func changeSide(c *bench.Change, f *bench.Figure) string {
	if f == nil {
		return empty
	}
	if c.Relation != "" {
		return formatRelation(f.Versus.Relation, f.Versus.Value())
	}
	return formatQuantity(f.Summary.Median, f.Unit) + " " + formatSpread(f.Summary)
}

// formatChange writes a change of c (both sides present): "~" when it is
// not significant, else the change in percent of the old median (in
// percentage points for a degradation, whose value is already a
// percentage) and whether that is better or worse.
func formatChange(c *bench.Change) string {
	if !c.Delta.Significant {
		return "~"
	}
	var s string
	switch {
	case c.Relation == bench.Degradation:
		d := c.New.Versus.Value() - c.Old.Versus.Value()
		s = fmt.Sprintf("%+.1f pts", d)
	case c.Delta.Ratio == 0 || math.IsInf(c.Delta.Ratio, 0) || math.IsNaN(c.Delta.Ratio):
		return "? (old median 0)"
	default:
		s = fmt.Sprintf("%+.1f%%", (c.Delta.Ratio-1)*100)
	}
	if c.Better {
		return s + " (better)"
	}
	return s + " (worse)"
}
