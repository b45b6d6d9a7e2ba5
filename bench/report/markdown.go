package report

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/atrest/atrest/bench"
)

// WriteMarkdown writes r as a Markdown report: the host and the options of
// the run, a short table of what encryption costs per workload and method
// (the degradation against plaintext at the median), then a section per
// workload with every figure, as WriteTable shows them. If chart is not
// empty it is the path, relative to the report, of the image WriteChart
// made, and the report links it under the summary.
func WriteMarkdown(w io.Writer, r *bench.Result, chart string) error {
	if r == nil {
		return errNilResult
	}
	var b strings.Builder
	b.WriteString("# encbench: what encryption at rest costs\n\n")
	b.WriteString("Run " + mdText(formatStarted(r)) + ".\n\n")

	b.WriteString("## Host\n\n")
	for _, kv := range hostLines(r) {
		if kv[0] == "Rounds" {
			continue // with the options below
		}
		fmt.Fprintf(&b, "- **%s:** %s\n", kv[0], mdText(kv[1]))
	}

	o := r.Options
	conf, spread := thresholds(o)
	b.WriteString("\n## Options\n\n")
	opts := [][2]string{
		{"Methods", strings.Join(o.Methods, ", ")},
		{"Sizes", joinSizes(o.Sizes)},
		{"Workloads", strings.Join(o.Workloads, ", ")},
		{"Rounds", formatRounds(o)},
		{"Threads", "up to " + formatThreads(o.Threads)},
		{"Confidence", formatPercent(conf*100) + "%"},
		{"Noisy beyond", formatPercent(spread*100) + "% of the median"},
	}
	for _, kv := range opts {
		fmt.Fprintf(&b, "- **%s:** %s\n", kv[0], mdText(kv[1]))
	}

	b.WriteString("\n## What encryption costs here\n\n")
	rows, methods := degradations(r, false)
	if len(rows) == 0 {
		b.WriteString("No workload of this run was compared with plaintext.\n")
	} else {
		b.WriteString("What each method costs against plaintext, at the median: for the file and engine " +
			"workloads the CPU time it adds per operation (+%), beside the typical Go way (" + bench.ImplPeer +
			") and the control (plaintext against plaintext: the run's noise floor); for the others the share " +
			"of plaintext's speed it loses. Intervals are in the sections below.\n\n")
		t := table{header: append([]string{"workload"}, methods...)}
		for _, row := range rows {
			cells := []string{row.label}
			for _, m := range methods {
				cells = append(cells, degradationCell(row.byMethod[m]))
			}
			t.rows = append(t.rows, cells)
		}
		writeMDTable(&b, t)
	}
	if chart != "" {
		fmt.Fprintf(&b, "\n![throughput per method and size; degradation per workload](%s)\n", mdLink(chart))
	}

	if cs := costSections(r); len(cs) > 0 {
		b.WriteString("\n## Against plaintext and the typical Go way\n\n")
		b.WriteString(mdText(peerLeavesOut) + " Expected cipher time: the bytes the engine read and wrote per operation " +
			"(every one decrypted or encrypted), in calls of their average size, each timed on this machine in the same run.\n")
		for _, s := range cs {
			b.WriteString("\n**" + mdText(s.workload) + "**\n\n")
			for _, l := range s.lines {
				b.WriteString("- " + mdText(l) + "\n")
			}
		}
	}

	for _, s := range sections(r) {
		b.WriteString("\n## " + mdText(s.workload) + "\n\n")
		if s.about != "" {
			b.WriteString(mdText(sentence(s.about)) + "\n\n")
		}
		for i, t := range s.tables {
			if i > 0 {
				b.WriteString("\n")
			}
			writeMDTable(&b, t)
		}
	}
	b.WriteString("\n" + mdText(noisyLegend(o)) + "\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report: writing Markdown: %w", err)
	}
	return nil
}

// degradationCell is a summary cell: f's degradation at the median, marked
// when f or its comparison is noisy.
func degradationCell(f *bench.Figure) string {
	if f == nil {
		return empty
	}
	s := formatRelation(f.Versus.Relation, f.Versus.Value())
	if f.Noisy() {
		s = noisyMark + s
	}
	return s
}

// joinSizes lists byte sizes as WriteTable writes them.
func joinSizes(sizes []int) string {
	parts := make([]string, len(sizes))
	for i, n := range sizes {
		parts[i] = formatSize(n)
	}
	return strings.Join(parts, ", ")
}

// writeMDTable writes t as a GitHub-flavoured Markdown table.
func writeMDTable(b *strings.Builder, t table) {
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + mdText(c) + " |")
		}
		b.WriteString("\n")
	}
	row(t.header)
	b.WriteString("|")
	for range t.header {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		row(r)
	}
}

// mdEscaper escapes the characters that Markdown would read as markup in
// our text: '~' in particular, which GitHub reads as strikethrough when
// two of them meet.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "~", `\~`, "[", `\[`, "]", `\]`,
	"<", `\<`, ">", `\>`, "#", `\#`, "|", `\|`,
)

// mdText escapes s for Markdown text or a table cell ('|' included) and
// collapses line breaks, which would end a paragraph or a table row.
func mdText(s string) string {
	return mdEscaper.Replace(strings.Join(strings.Fields(s), " "))
}

// mdLink makes a relative path safe inside the parentheses of a link.
func mdLink(p string) string {
	return strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29").Replace(p)
}

// sentence makes a title fragment a sentence: a capital and a full stop.
func sentence(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:] + "."
}
