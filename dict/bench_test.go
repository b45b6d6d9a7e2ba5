package dict

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
)

// BenchmarkCreateRemove creates and removes empty files, each operation
// durable in the file dictionary (and each remove's directory synced),
// from 1 goroutine and from 16: group commit lets the 16 share fsyncs.
// ops/s is the figure to compare.
func BenchmarkCreateRemove(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			env := newBenchEnv(b)
			m, err := Open(b.Context(), env.dir, env.config(ctr.AES128CTR))
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						name := fmt.Sprintf("w%d-%d", w, i)
						f, err := m.Create(name)
						if err != nil {
							b.Error(err)
							return
						}
						f.Close()
						if err := m.Remove(name); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(2*b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}
