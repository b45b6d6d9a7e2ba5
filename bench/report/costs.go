// The file and engine workloads' comparisons in words: the control (the
// run's noise floor), atrest against the typical Go way, and the cost
// expected from the cipher work against the cost measured.

package report

import (
	"fmt"
	"strings"

	"github.com/atrest/atrest/bench"
)

// peerLeavesOut says what the peer does not do, for every report that
// shows it.
const peerLeavesOut = bench.ImplPeer + " is encryption at rest written the common Go way: a crypto/cipher (AES) or gmsm (SM4) " +
	"CTR stream made at the offset for every read and write, each file's random IV kept in memory. It keeps no durable " +
	"dictionary (a restart loses every file, a crash any file's IV) and attempts no crash safety of creates, renames and " +
	"removals: it is the cheapest encrypting FS, not a usable one."

// costSection is one workload's lines.
type costSection struct {
	workload string
	lines    []string
}

// costSections are the lines of every workload with arms (figures
// compared by Overhead), in workload order, from the lead metric's
// figures.
func costSections(r *bench.Result) []costSection {
	var out []costSection
	for _, w := range workloadOrder(r) {
		figs := figuresOf(r, w)
		lead := leadMetric(figs)
		var arms []*bench.Figure
		for _, f := range figs {
			if f.Metric == lead && f.Versus != nil && f.Versus.Relation == bench.Overhead {
				arms = append(arms, f)
			}
		}
		if len(arms) == 0 {
			continue
		}
		s := costSection{workload: w}
		_, spread := thresholds(r.Options)
		formatOverhead := func(f *bench.Figure) string { return formatOverhead(f, spread) }
		find := func(method, impl string) *bench.Figure {
			for _, f := range arms {
				if f.Method == method && f.Impl == impl {
					return f
				}
			}
			return nil
		}
		if c := find("plaintext", bench.ImplControl); c != nil {
			s.lines = append(s.lines, fmt.Sprintf("control, plaintext against plaintext (%s time): %s", lead, formatOverhead(c)))
		}
		for _, m := range methodOrder(r) {
			own, peer := find(m, bench.ImplAtrest), find(m, bench.ImplPeer)
			if own == nil {
				continue
			}
			if peer != nil {
				s.lines = append(s.lines, m+": "+versusPeer(own, peer, spread))
			} else {
				s.lines = append(s.lines, fmt.Sprintf("%s: atrest %s", m, formatOverhead(own)))
			}
			for _, f := range []*bench.Figure{own, peer} {
				if f != nil && f.Expected != nil {
					s.lines = append(s.lines, fmt.Sprintf("%s %s: %s", m, f.Impl, formatExpected(f.Expected)))
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// formatOverhead writes an overhead with its interval, marked when noisy
// and then followed by the rounds that would settle it on this machine:
// "+4.9% [1.3, 9.5]", "~+12.0% [2.0, 22.0] (30 rounds; about 120 would
// settle it)". spread is the run's MaxSpread.
func formatOverhead(f *bench.Figure, spread float64) string {
	lo, hi := f.Versus.Interval()
	s := fmt.Sprintf("%+.1f%% [%.1f, %.1f]", f.Versus.Value(), lo, hi)
	if f.Noisy() {
		s = noisyMark + s
		if n, ok := f.Versus.RoundsToSettle(spread); ok {
			s += fmt.Sprintf(" (%d rounds; about %d would settle it)", f.Versus.Summary.N, n)
		}
	}
	return s
}

// versusPeer is the buyer's sentence: "atrest +X%, typical Go +Y%:
// atrest costs Z of it". The share is given only when both overheads are
// told from nothing, their intervals above 0: a share of a peer overhead
// that may be 0 could be any number.
func versusPeer(own, peer *bench.Figure, spread float64) string {
	s := fmt.Sprintf("atrest %s, %s %s", formatOverhead(own, spread), bench.ImplPeer, formatOverhead(peer, spread))
	ownLo, _ := own.Versus.Interval()
	peerLo, _ := peer.Versus.Interval()
	switch {
	case peerLo <= 0:
		return s + ": the typical way costs nothing measurable here"
	case ownLo <= 0:
		return s + ": atrest costs nothing measurable of it"
	}
	return s + fmt.Sprintf(": atrest costs %s of it", shareOf(own.Versus.Value(), peer.Versus.Value()))
}

// shareOf writes x/y, the share of the peer's overhead y that atrest's
// overhead x is, with two significant digits: "0.53".
func shareOf(x, y float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.2g", x/y), ".")
}

// formatExpected writes where the cost goes: the I/O per operation, the
// cipher time it should take, and the time measured.
func formatExpected(x *bench.Expected) string {
	return fmt.Sprintf("%s read in %.2f calls + %s written in %.2f calls per op; cipher %s ns/op expected, %s ns/op measured beyond plaintext (%+.0f ns/op)",
		formatBytes(x.ReadBytes), x.ReadCalls, formatBytes(x.WriteBytes), x.WriteCalls,
		formatNumber(x.CipherNs), formatNumber(x.MeasuredNs), x.Gap())
}

// formatBytes writes a byte count per operation.
func formatBytes(b float64) string { return formatNumber(b) + " B" }
