package filedict

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
)

var (
	bigOnce sync.Once
	bigFile []byte
)

// bigDictFile returns a version-3 file of 1,000,000 entries, half
// "000123.sst" and half "db/wal/000123.log".
func bigDictFile() []byte {
	bigOnce.Do(func() {
		s := &Snapshot{Entries: make(map[string]Entry, 1_000_000)}
		for i := range 1_000_000 {
			name := fmt.Sprintf("%06d.sst", i)
			if i%2 == 1 {
				name = fmt.Sprintf("db/wal/%06d.log", i)
			}
			s.Entries[name] = entry(i)
		}
		bigFile = append(Header{Version: logVersion}.Encode(), s.Encode()...)
	})
	return bigFile
}

// BenchmarkOpen1M times Open of a 1,000,000-entry dictionary and reports
// the heap it keeps per file.
func BenchmarkOpen1M(b *testing.B) {
	data := bigDictFile()
	path := dictPath(b)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	var perFile float64
	var ms runtime.MemStats
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		b.StartTimer()
		d, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		perFile = float64(ms.HeapAlloc-before) / 1e6
		if d.Len() != 1_000_000 {
			b.Fatalf("%d entries", d.Len())
		}
		d.Close()
		runtime.KeepAlive(d)
		b.StartTimer()
	}
	b.ReportMetric(perFile, "B/file")
}

// BenchmarkGroupCommit runs Insert+Remove pairs, each fsynced, from one
// goroutine and from 16; ops/s shows what group commit buys.
func BenchmarkGroupCommit(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			ffs := &faultFS{}
			d := mustCreate(b, dictPath(b), Options{FS: ffs})
			defer d.Close()
			syncs0 := ffs.syncs.Load()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := w; i < b.N; i += workers {
						n := fmt.Sprintf("db/%02d/%09d.sst", w, i)
						if err := d.Insert(n, entry(i)); err != nil {
							b.Error(err)
							return
						}
						if err := d.Remove(n); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			ops := float64(2 * b.N)
			b.ReportMetric(ops/b.Elapsed().Seconds(), "ops/s")
			b.ReportMetric(ops/float64(ffs.syncs.Load()-syncs0), "ops/fsync")
		})
	}
}
