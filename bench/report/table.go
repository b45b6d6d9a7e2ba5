package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/atrest/atrest/bench"
)

// WriteTable writes r as plain text for a terminal: the host and the
// settings of the run, then a table per workload present, in the order of
// bench.Workloads (unknown workloads last), with a row per figure. A
// number too noisy to quote is prefixed with "~" and its row noted
// "noisy"; a legend at the end says what that means.
func WriteTable(w io.Writer, r *bench.Result) error {
	if r == nil {
		return errNilResult
	}
	var b strings.Builder
	b.WriteString("encbench: " + formatStarted(r) + "\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, kv := range hostLines(r) {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: writing table: %w", err)
	}
	for _, s := range sections(r) {
		b.WriteString("\n" + s.workload)
		if s.about != "" {
			b.WriteString(": " + s.about)
		}
		b.WriteString("\n")
		for i, t := range s.tables {
			if i > 0 {
				b.WriteString("\n")
			}
			tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
			writeTabRow(tw, t.header)
			for _, row := range t.rows {
				writeTabRow(tw, row)
			}
			if err := tw.Flush(); err != nil {
				return fmt.Errorf("report: writing table: %w", err)
			}
		}
	}
	if cs := costSections(r); len(cs) > 0 {
		b.WriteString("\nagainst plaintext and the typical Go way:\n")
		for _, s := range cs {
			b.WriteString("  " + s.workload + "\n")
			for _, l := range s.lines {
				b.WriteString("    " + l + "\n")
			}
		}
		b.WriteString("  " + peerLeavesOut + "\n")
	}
	b.WriteString("\n" + noisyLegend(r.Options) + "\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report: writing table: %w", err)
	}
	return nil
}

// writeTabRow writes cells as a tabwriter row, indented under the
// section's title. Trailing empty cells are dropped so that no line ends
// in padding.
func writeTabRow(tw *tabwriter.Writer, cells []string) {
	n := len(cells)
	for n > 0 && cells[n-1] == "" {
		n--
	}
	fmt.Fprintf(tw, "  %s\n", strings.Join(cells[:n], "\t"))
}

// hostLines are the header's key-value pairs, shared with WriteMarkdown.
func hostLines(r *bench.Result) [][2]string {
	h := r.Host
	cpu := h.CPU
	if cpu == "" {
		cpu = "unknown"
	}
	features := strings.Join(h.Features, " ")
	if features == "" {
		features = "none detected"
	}
	kernels := strings.Join(kernelList(r), ", ")
	if kernels == "" {
		kernels = empty
	}
	host := strings.TrimSpace(h.Hostname + " " + h.OS + "/" + h.Arch)
	return [][2]string{
		{"Host", host},
		{"CPU", cpu + " (" + strconv.Itoa(h.LogicalCores) + " logical cores)"},
		{"Features", features},
		{"Clock", formatClock(h.ClockHz) + formatClockRead(h.ClockReadNs)},
		{"Go", h.GoVersion},
		{"Kernels", kernels},
		{"Rounds", formatRounds(r.Options)},
	}
}

// formatClockRead says what reading the time cost, if the run measured it
// (results of older builds did not).
func formatClockRead(ns float64) string {
	if ns <= 0 {
		return ""
	}
	return fmt.Sprintf("; reading the time costs %.0f ns", ns)
}
