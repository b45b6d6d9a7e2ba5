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
// and the same workload's two bounds, as they take turns in one process.
// Each iteration is a round of 1000 create+remove pairs from each of four
// arms, the first arm rotating between rounds:
//
//   - "1": one goroutine through the Manager;
//   - "16": 16 goroutines through the Manager, sharing fsyncs;
//   - "per-op-fsync": 16 goroutines making the Manager's file system calls
//     with one fsync per operation instead (see perOpFsync);
//   - "no-fsync": 16 goroutines making the file system calls alone, no
//     fsync and no dictionary: the file system's own ceiling.
//
// The figures are medians over rounds of the per-round ratios and rates.
// The disk's fsync speed drifts between runs on a VM; a ratio within a
// round does not.
func BenchmarkGroupCommitGain(b *testing.B) {
	const ops = 1000 // create+remove pairs per round
	m := openBenchManager(b)
	plain := filepath.Join(b.TempDir(), "plain")
	if err := os.Mkdir(plain, 0o755); err != nil {
		b.Fatal(err)
	}
	log, err := os.OpenFile(filepath.Join(plain, "log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	perOp := &perOpFsync{dir: plain, log: log}
	arms := []func(round int) float64{
		func(r int) float64 { return createRemove(b, m, 1, ops, fmt.Sprintf("a%d-", r)) },
		func(r int) float64 { return createRemove(b, m, 16, ops, fmt.Sprintf("b%d-", r)) },
		func(r int) float64 { return runPairs(b, 16, ops, fmt.Sprintf("c%d-", r), perOp.pair) },
		func(r int) float64 {
			return runPairs(b, 16, ops, fmt.Sprintf("d%d-", r), func(name string) error { return plainPair(plain, name, noRecord) })
		},
	}
	rates := make([][]float64, len(arms))
	var vsOne, vsPerOp, ofCeiling []float64
	round := 0
	for b.Loop() {
		got := make([]float64, len(arms))
		for i := range arms {
			a := (round + i) % len(arms)
			got[a] = arms[a](round)
			rates[a] = append(rates[a], got[a])
		}
		vsOne = append(vsOne, got[1]/got[0])
		vsPerOp = append(vsPerOp, got[1]/got[2])
		ofCeiling = append(ofCeiling, got[1]/got[3])
		round++
	}
	b.ReportMetric(stats.Median(vsOne), "x16/x1")
	b.ReportMetric(stats.Median(vsPerOp), "x16/per-op-fsync")
	b.ReportMetric(stats.Median(ofCeiling), "x16/no-fsync")
	for i, unit := range []string{"ops/s-1", "ops/s-16", "ops/s-per-op-fsync", "ops/s-no-fsync"} {
		b.ReportMetric(stats.Median(rates[i]), unit)
	}
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

// createRemove creates and removes n files through m from the given number
// of goroutines and returns the operations per second (two per file).
func createRemove(b *testing.B, m *Manager, workers, n int, prefix string) float64 {
	return runPairs(b, workers, n, prefix, func(name string) error {
		f, err := m.Create(name)
		if err != nil {
			return err
		}
		f.Close()
		return m.Remove(name)
	})
}

// runPairs calls pair for n distinct names from the given number of
// goroutines and returns the operations per second, two per call.
func runPairs(b *testing.B, workers, n int, prefix string, pair func(name string) error) float64 {
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if err := pair(fmt.Sprintf("%sw%d-%d", prefix, w, i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(2*n) / time.Since(start).Seconds()
}

// perOpFsync is the baseline group commit is measured against: exactly
// one fsync per operation. Each pair makes the file system calls the
// Manager makes (an lstat before the create and before the remove, the
// create, the unlink), and each create and each remove appends a record
// the size of the file dictionary's to a log and fsyncs it, under the
// log's lock, as a log whose records must never interleave or tear does.
// It leaves out the directory fsync a crash-safe remove needs before its
// record and the Manager's own work (keys, IVs, maps, name locks): both
// flatter the baseline.
type perOpFsync struct {
	dir string
	mu  sync.Mutex
	log *os.File
}

func (p *perOpFsync) append() error {
	var rec [64]byte
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.log.Write(rec[:]); err != nil {
		return err
	}
	return p.log.Sync()
}

func (p *perOpFsync) pair(name string) error {
	return plainPair(p.dir, name, p.append)
}

// plainPair creates and removes dir/name with the Manager's file system
// calls, and calls record before the create and after the remove (where
// the Manager records them).
func plainPair(dir, name string, record func() error) error {
	path := filepath.Join(dir, name)
	os.Lstat(path)
	if err := record(); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	f.Close()
	os.Lstat(path)
	if err := os.Remove(path); err != nil {
		return err
	}
	return record()
}

// noRecord is plainPair's record for the file system alone.
func noRecord() error { return nil }

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
	data := append(filedict.Header{Version: 3}.Encode(), s.Encode()...)
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
		if st := m.files.Stats(); st.Entries != 1_000_000 {
			b.Fatalf("%d entries", st.Entries)
		}
		m.Close()
		runtime.KeepAlive(m)
		b.StartTimer()
	}
	b.ReportMetric(perFile, "B/file")
}
