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
// or last), and returns each method's durations, round by round: the way
// to measure what encryption costs an engine against plaintext on a noisy
// machine, in one process, interleaved.
func Compare(rounds int, methods []ctr.Method, op func(ctr.Method) (time.Duration, error)) ([][]time.Duration, error) {
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
	return times, nil
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// ReportVsPlaintext reports, from Compare's durations (methods[0] must be
// ctr.Plaintext), each method's median time per item (items per op) and
// its cost against plaintext: the median over the rounds of the ratio of
// its time to plaintext's in the same round, which a drift of the
// machine's speed from round to round does not bias. It logs them with
// the kernel each method ran on.
func ReportVsPlaintext(b *testing.B, what string, methods []ctr.Method, times [][]time.Duration, items int) {
	for i, m := range methods {
		per := make([]float64, len(times[i]))
		ratios := make([]float64, len(times[i]))
		for r, d := range times[i] {
			per[r] = float64(d) / float64(items)
			ratios[r] = float64(d) / float64(times[0][r])
		}
		b.ReportMetric(median(per), m.String()+"-ns/"+what)
		if i == 0 {
			b.Logf("%s %s: %.0f ns per %s (median of %d rounds)", what, m, median(per), what, len(per))
			continue
		}
		ratio := median(ratios)
		b.ReportMetric(ratio, m.String()+"-x-plaintext")
		b.Logf("%s %s: %.0f ns per %s, %.3f× plaintext (median of %d rounds' ratios; kernel %s)", what, m, median(per), what, ratio, len(per), ctr.KernelName(m))
	}
}
