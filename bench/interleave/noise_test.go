package interleave

import (
	"crypto/aes"
	"crypto/cipher"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkMachineNoise measures how the machine's speed for one fixed
// piece of work changes from one half-millisecond to the next: the work
// is timed in chunks of 0.5 ms for b.N seconds' worth of chunks, and the
// benchmark reports the ratio of the slowest tenth's bound to the fastest
// tenth's (p90/p10), the chunks' coefficient of variation and their
// autocorrelation at lags of one chunk and of ten. Noise that is nearly
// independent from chunk to chunk cannot be cancelled by pairing slices,
// only averaged out by measuring longer (docs/benchmarks.md). Run it with
//
//	go test -run '^$' -bench MachineNoise -benchtime 3x ./bench/interleave
func BenchmarkMachineNoise(b *testing.B) {
	path := filepath.Join(b.TempDir(), "file")
	if err := os.WriteFile(path, make([]byte, 32<<20), 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	block, _ := aes.NewCipher(make([]byte, 16))
	stream := cipher.NewCTR(block, make([]byte, 16))
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 4096)
	for _, w := range []struct {
		name string
		op   func()
	}{
		{"page-cache-read-4KiB", func() { f.ReadAt(buf, rng.Int64N(8192)*4096) }},
		{"aes-ctr-4KiB", func() { stream.XORKeyStream(buf, buf) }},
	} {
		b.Run(w.name, func(b *testing.B) {
			const chunk = 500 * time.Microsecond
			var per []float64
			for range b.N {
				start := time.Now()
				for time.Since(start) < time.Second {
					t0 := time.Now()
					n := 0
					for time.Since(t0) < chunk {
						w.op()
						n++
					}
					per = append(per, float64(time.Since(t0))/float64(n))
				}
			}
			mean, sd := meanSD(per)
			sorted := slices.Sorted(slices.Values(per))
			b.ReportMetric(sorted[len(sorted)*9/10]/sorted[len(sorted)/10], "p90/p10")
			b.ReportMetric(sd/mean, "cv/chunk")
			b.ReportMetric(autocorrelation(per, 1), "autocorr@1")
			b.ReportMetric(autocorrelation(per, 10), "autocorr@10")
			b.ReportMetric(mean, "ns/op-mean")
		})
	}
}

func meanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)))
}

func autocorrelation(xs []float64, lag int) float64 {
	mean, _ := meanSD(xs)
	var num, den float64
	for i, x := range xs {
		den += (x - mean) * (x - mean)
		if i+lag < len(xs) {
			num += (x - mean) * (xs[i+lag] - mean)
		}
	}
	return num / den
}

// TestAutocorrelation checks the statistic the noise benchmark reports:
// an alternating series is perfectly anti-correlated at lag 1 and
// correlated at lag 2; a slow ramp is correlated at lag 1.
func TestAutocorrelation(t *testing.T) {
	alt := []float64{1, -1, 1, -1, 1, -1, 1, -1, 1, -1}
	if got := autocorrelation(alt, 1); math.Abs(got+0.9) > 1e-9 {
		t.Errorf("alternating, lag 1: %v, want -0.9 (9 of 10 products)", got)
	}
	if got := autocorrelation(alt, 2); math.Abs(got-0.8) > 1e-9 {
		t.Errorf("alternating, lag 2: %v, want 0.8", got)
	}
	ramp := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if got := autocorrelation(ramp, 1); got < 0.5 {
		t.Errorf("ramp, lag 1: %v, want strongly positive", got)
	}
	if m, sd := meanSD([]float64{2, 4, 4, 4, 5, 5, 7, 9}); m != 5 || sd != 2 {
		t.Errorf("meanSD = %v, %v; want 5, 2", m, sd)
	}
}
