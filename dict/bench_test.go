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

	"github.com/atrest/atrest/bench/stats"
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
			m := openBenchManager(b)
			b.ResetTimer()
			b.ReportMetric(createRemove(b, m, workers, b.N, "r"), "ops/s")
		})
	}
}

// BenchmarkGroupCommitGain measures what BenchmarkCreateRemove compares,
// but as the two take turns in one process: each iteration is a round of
// 2000 operations from one goroutine and a round from 16 (which goes first
// alternates), and the figure is the median over rounds of the ratio of
// their throughputs. The disk's fsync speed drifts between runs on a VM;
// a ratio within a round does not.
func BenchmarkGroupCommitGain(b *testing.B) {
	const ops = 1000 // create+remove pairs per round
	m := openBenchManager(b)
	var gains, ones, manys []float64
	round := 0
	for b.Loop() {
		var one, many float64
		if round%2 == 0 {
			one = createRemove(b, m, 1, ops, fmt.Sprintf("a%d-", round))
			many = createRemove(b, m, 16, ops, fmt.Sprintf("b%d-", round))
		} else {
			many = createRemove(b, m, 16, ops, fmt.Sprintf("b%d-", round))
			one = createRemove(b, m, 1, ops, fmt.Sprintf("a%d-", round))
		}
		gains = append(gains, many/one)
		ones, manys = append(ones, one), append(manys, many)
		round++
	}
	b.ReportMetric(stats.Median(gains), "x16/x1")
	b.ReportMetric(stats.Median(ones), "ops/s-1")
	b.ReportMetric(stats.Median(manys), "ops/s-16")
}

func openBenchManager(b *testing.B) *Manager {
	env := newBenchEnv(b)
	m, err := Open(b.Context(), env.dir, env.config(ctr.AES128CTR))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// createRemove creates and removes n files from the given number of
// goroutines and returns the operations per second (two per file).
func createRemove(b *testing.B, m *Manager, workers, n int, prefix string) float64 {
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				name := fmt.Sprintf("%sw%d-%d", prefix, w, i)
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
		})
	}
	wg.Wait()
	return float64(2*n) / time.Since(start).Seconds()
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
