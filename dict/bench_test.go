package dict

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/filedict"
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

// BenchmarkOpen1M opens a data directory whose file dictionary records
// 1,000,000 files (the dictionary alone is filedict's BenchmarkOpen1M;
// this adds the key dictionary and counting files per data key), and
// reports the heap kept per file.
func BenchmarkOpen1M(b *testing.B) {
	env := newBenchEnv(b)
	cfg := env.config(ctr.AES128CTR)
	m, err := Open(b.Context(), env.dir, cfg)
	if err != nil {
		b.Fatal(err)
	}
	_, key := m.DataKeys()
	m.Close()
	s := &filedict.Snapshot{Entries: make(map[string]Entry, 1_000_000)}
	for i := range 1_000_000 {
		name := fmt.Sprintf("%06d.sst", i)
		if i%2 == 1 {
			name = fmt.Sprintf("db/wal/%06d.log", i)
		}
		s.Entries[name] = Entry{KeyID: key, Method: ctr.AES128CTR, IV: [16]byte{byte(i), byte(i >> 8), byte(i >> 16)}}
	}
	data := append(filedict.Header{Version: 2}.Encode(), s.Encode()...)
	s = nil
	if err := os.WriteFile(filepath.Join(env.dir, FileDictName), data, 0o600); err != nil {
		b.Fatal(err)
	}
	var ms runtime.MemStats
	var perFile float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		b.StartTimer()
		m, err := Open(b.Context(), env.dir, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		perFile = float64(ms.HeapAlloc-before) / 1e6
		if st, _ := m.FileDictionaryStats(); st.Entries != 1_000_000 {
			b.Fatalf("%d entries", st.Entries)
		}
		m.Close()
		runtime.KeepAlive(m)
		b.StartTimer()
	}
	b.ReportMetric(perFile, "B/file")
}
