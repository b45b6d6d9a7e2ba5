package enginetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
)

// Compare runs op once per method per round, the methods in a rotated
// order from round to round (so none always runs first, on a cold cache,
// or last), and returns each method's median duration over the rounds:
// the way to measure what encryption costs an engine against plaintext
// on a noisy machine, in one process, interleaved.
func Compare(rounds int, methods []ctr.Method, op func(ctr.Method) (time.Duration, error)) ([]time.Duration, error) {
	times := make([][]time.Duration, len(methods))
	for r := range rounds {
		for j := range methods {
			i := (j + r) % len(methods)
			d, err := op(methods[i])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", methods[i], err)
			}
			times[i] = append(times[i], d)
		}
	}
	medians := make([]time.Duration, len(methods))
	for i, ts := range times {
		slices.Sort(ts)
		medians[i] = ts[len(ts)/2]
	}
	return medians, nil
}

// ReportVsPlaintext reports each method's median per item (items per op)
// and its ratio to plaintext's (methods[0] must be ctr.Plaintext) as
// benchmark metrics, and logs them with the kernel each method ran on.
func ReportVsPlaintext(b *testing.B, what string, methods []ctr.Method, medians []time.Duration, items int) {
	base := float64(medians[0]) / float64(items)
	for i, m := range methods {
		per := float64(medians[i]) / float64(items)
		b.ReportMetric(per, m.String()+"-ns/"+what)
		if i > 0 {
			b.ReportMetric(per/base, m.String()+"-x-plaintext")
		}
		b.Logf("%s %s: %.0f ns per %s, %.3f× plaintext (kernel %s)", what, m, per, what, per/base, ctr.KernelName(m))
	}
}
