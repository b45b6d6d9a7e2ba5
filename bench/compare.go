package bench

import (
	"strings"

	"github.com/atrest/atrest/bench/stats"
)

// Change is how one figure, or one figure's comparison with its baseline,
// moved from an old run to a new one.
type Change struct {
	// Key identifies what is compared: Figure.Key for the figure itself,
	// or that key with "/vs-" and the baseline (spaces and slashes made
	// dashes) appended for its Versus, e.g. ".../throughput/vs-plaintext".
	Key string
	// Workload, Method, Impl, Size, Threads and Metric are the figure's.
	// For a Versus change Metric is the figure's metric, a slash and the
	// relation ("throughput/degradation"), so that a report can tell the
	// two apart without parsing Key.
	Workload, Method, Impl, Metric string
	Size, Threads                  int
	// Unit is the unit of the samples compared: the figure's unit, or
	// SpeedRatio for a Versus change.
	Unit Unit
	// Relation is "" when the figures' samples are compared, and the
	// relation of the Versus (whose Speed samples are then compared)
	// otherwise.
	Relation Relation
	// Old and New are the figures in each run. One of them is nil when
	// only one run has the figure or, for a Versus change, when only one
	// run's figure has that comparison.
	Old, New *Figure
	// Delta is stats.Compare of the old samples against the new. When a
	// side is missing it is the zero change with P = 1 (never
	// significant) and Ratio = 0.
	Delta stats.Delta
	// Better reports whether the median moved in the direction that is an
	// improvement for the unit (up for throughput and speed ratios, down
	// for latencies). It says nothing of significance: read it together
	// with Delta.Significant, since an insignificant move is noise.
	Better bool
}

// OnlyOld reports whether the change is a figure (or comparison) that only
// the old run has.
func (c *Change) OnlyOld() bool { return c.Old != nil && c.New == nil }

// OnlyNew reports whether the change is a figure (or comparison) that only
// the new run has.
func (c *Change) OnlyNew() bool { return c.Old == nil && c.New != nil }

// CompareResults matches the figures of two runs by Figure.Key and tests
// each pair for a change at significance level alpha (see stats.Compare).
// A figure with a Versus in either run gets a second Change, right after
// its own, comparing the Versus.Speed samples: a baseline moves with the
// machine, so "the degradation got smaller" can be significant when
// neither throughput alone is. Figures only in one run are listed with Old
// or New nil. The order is old's, then the figures only new has, in new's
// order.
func CompareResults(old, new *Result, alpha float64) []Change {
	// Queue new's figures per key, so that a key measured twice in a run
	// pairs up in order rather than being dropped.
	pending := map[string][]*Figure{}
	for i := range new.Figures {
		f := &new.Figures[i]
		pending[f.Key()] = append(pending[f.Key()], f)
	}
	matched := map[*Figure]bool{}

	var out []Change
	for i := range old.Figures {
		o := &old.Figures[i]
		var n *Figure
		if q := pending[o.Key()]; len(q) > 0 {
			n, pending[o.Key()] = q[0], q[1:]
			matched[n] = true
		}
		out = appendFigureChanges(out, o, n, alpha)
	}
	for i := range new.Figures {
		if n := &new.Figures[i]; !matched[n] {
			out = appendFigureChanges(out, nil, n, alpha)
		}
	}
	return out
}

// appendFigureChanges appends the change of the figure pair (either may be
// nil) and the changes of their Versus comparisons.
func appendFigureChanges(out []Change, o, n *Figure, alpha float64) []Change {
	f := o
	if f == nil {
		f = n
	}
	c := Change{
		Key:      f.Key(),
		Workload: f.Workload,
		Method:   f.Method,
		Impl:     f.Impl,
		Metric:   f.Metric,
		Size:     f.Size,
		Threads:  f.Threads,
		Unit:     f.Unit,
		Old:      o,
		New:      n,
	}
	c.Delta, c.Better = delta(o, n, func(f *Figure) []float64 { return f.Samples }, f.Unit, alpha)
	out = append(out, c)

	var ov, nv *Versus
	if o != nil {
		ov = o.Versus
	}
	if n != nil {
		nv = n.Versus
	}
	switch {
	case ov == nil && nv == nil:
		return out
	case ov != nil && nv != nil && versusKey(ov) == versusKey(nv):
		return append(out, versusChange(c, o, n, alpha))
	}
	// Different baselines (or only one side has one) are different
	// comparisons: each appears with the other side missing.
	if ov != nil {
		out = append(out, versusChange(c, o, nil, alpha))
	}
	if nv != nil {
		out = append(out, versusChange(c, nil, n, alpha))
	}
	return out
}

// versusChange is the change of the Versus of o and n (each nil or having
// a Versus), labelled after the figure's change fc.
func versusChange(fc Change, o, n *Figure, alpha float64) Change {
	v := n
	if o != nil {
		v = o
	}
	c := fc
	c.Key = fc.Key + "/" + versusKey(v.Versus)
	c.Metric = fc.Metric + "/" + string(v.Versus.Relation)
	c.Unit = SpeedRatio
	c.Relation = v.Versus.Relation
	c.Old, c.New = o, n
	c.Delta, c.Better = delta(o, n, func(f *Figure) []float64 { return f.Versus.Speed }, SpeedRatio, alpha)
	return c
}

// versusKey names a comparison by its baseline, in a form fit for a key.
func versusKey(v *Versus) string {
	return "vs-" + strings.NewReplacer(" ", "-", "/", "-").Replace(v.Baseline)
}

// delta compares the samples of o and n that pick selects, given that both
// exist, and tells whether the median moved the good way for unit u.
func delta(o, n *Figure, pick func(*Figure) []float64, u Unit, alpha float64) (stats.Delta, bool) {
	if o == nil || n == nil {
		return stats.Delta{P: 1}, false
	}
	d := stats.Compare(pick(o), pick(n), alpha)
	if d.Ratio == 0 {
		return d, false // no old median to move from
	}
	if u.HigherIsBetter() {
		return d, d.Ratio > 1
	}
	return d, d.Ratio < 1
}
