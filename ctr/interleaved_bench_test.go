package ctr

import (
	"crypto/cipher"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/atrest/atrest/internal/cpuclock"
)

// BenchmarkInterleaved puts every kernel of a method and its baseline
// (crypto/cipher or gmsm, a stream reused across calls) in one loop that
// gives each a short sample in turn, in rotating order, and reports the
// median cycles per byte of each as a metric named after it. On a shared
// machine whose speed changes from minute to minute, arms that take turns
// within milliseconds see the same machine, and the medians leave out the
// samples a preemption hit, where BenchmarkXOR's runs of 200 ms each
// catch different moments. ns/op is a whole round of every arm and means
// nothing by itself. The clock is calibrated every 16 rounds; where there
// is no calibration loop (cpuclock.Hz is 0) the metrics are ns/B instead.
func BenchmarkInterleaved(b *testing.B) {
	defer SetParallelThreshold(SetParallelThreshold(0))
	type arm struct {
		name string
		run  func(buf []byte, off uint64)
	}
	for _, m := range cipherMethods {
		key, iv := randomBytes(b, m.KeySize()), randomBytes(b, IVSize)
		for _, n := range []int{4 << 10, 16 << 10, 1 << 20} {
			b.Run(fmt.Sprintf("method=%v/size=%s", m, sizeName(n)), func(b *testing.B) {
				base := cipher.NewCTR(referenceBlock(b, m, key), iv)
				arms := []arm{{baselineName(m), func(buf []byte, _ uint64) { base.XORKeyStream(buf, buf) }}}
				for _, kernel := range Kernels(m) {
					s := newWithKernel(b, m, kernel, key, iv)
					arms = append(arms, arm{kernel, func(buf []byte, off uint64) { s.XORKeyStreamAt(buf, buf, off) }})
				}
				buf := make([]byte, n)
				reps := max(1, (256<<10)/n) // about 256 KiB a sample
				samples := make([][]float64, len(arms))
				hz := cpuclock.Hz()
				round := 0
				for b.Loop() {
					if round%16 == 15 {
						hz = cpuclock.Hz()
					}
					for k := range arms {
						i := (k + round) % len(arms)
						start := time.Now()
						for r := range reps {
							arms[i].run(buf, uint64(r*n))
						}
						el := time.Since(start)
						if hz == 0 {
							samples[i] = append(samples[i], float64(el.Nanoseconds())/float64(n*reps))
						} else {
							samples[i] = append(samples[i], cpuclock.CyclesPerByte(el, n*reps, hz))
						}
					}
					round++
				}
				unit := "-cycles/B"
				if hz == 0 {
					unit = "-ns/B"
				}
				for i, a := range arms {
					slices.Sort(samples[i])
					b.ReportMetric(samples[i][len(samples[i])/2], a.name+unit)
				}
			})
		}
	}
}
