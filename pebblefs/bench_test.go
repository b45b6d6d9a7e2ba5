package pebblefs_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/atrest/atrest/bench/pebblework"
	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/testenv"
)

// BenchmarkPebble runs Pebble's workloads on every method; compare the
// methods with plaintext by `benchstat -col /method` (make bench-pebble).
// Fills include flushing and compacting what they wrote. Give a fixed
// -benchtime (200000x, say): ReadRandom loads its DB once per round.
func BenchmarkPebble(b *testing.B) {
	for _, w := range pebblework.Workloads {
		b.Run("workload="+string(w), func(b *testing.B) {
			for _, method := range ctr.Methods {
				b.Run("method="+method.String(), func(b *testing.B) {
					benchWorkload(b, w, method)
				})
			}
		})
	}
}

func benchWorkload(b *testing.B, w pebblework.Workload, method ctr.Method) {
	root := b.TempDir()
	mk := testenv.FileMasterKey(b, root, "master.key", 0x3e)
	cfg := pebblework.DefaultConfig(filepath.Join(root, "db"), method, mk)
	db, err := pebblework.Open(context.Background(), w, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.SetBytes(int64(16 + cfg.ValueSize))
	b.ResetTimer()
	if w == pebblework.ReadRandom {
		for range b.N {
			if err := db.Read(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	for range b.N {
		if err := db.Fill(w); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Settle(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPebbleVsPlaintext measures each method's cost to Pebble against
// plaintext within one process: every round runs plaintext and each
// method in turn (fills on fresh DBs, reads on DBs loaded once), and the
// degradation is the ratio of medians. Run it once (-benchtime 1x); it
// reports "ns/op" per method and "%-slower" against plaintext.
func BenchmarkPebbleVsPlaintext(b *testing.B) {
	for _, w := range pebblework.Workloads {
		b.Run("workload="+string(w), func(b *testing.B) {
			root := b.TempDir()
			mk := testenv.FileMasterKey(b, root, "master.key", 0x3e)
			var cfgs []pebblework.Config
			for _, m := range ctr.Methods {
				cfgs = append(cfgs, pebblework.DefaultConfig(filepath.Join(root, m.String()), m, mk))
			}
			rounds, ops := 9, 100_000
			if w == pebblework.ReadRandom {
				rounds, ops = 31, 5_000
			}
			for range b.N {
				res, err := pebblework.Compare(context.Background(), w, cfgs, rounds, ops)
				if err != nil {
					b.Fatal(err)
				}
				base := res[0].Median()
				for _, r := range res {
					b.ReportMetric(r.Median(), r.Config.Method.String()+"-ns/op")
					if r.Config.Method != ctr.Plaintext {
						b.ReportMetric((r.Median()/base-1)*100, r.Config.Method.String()+"-%slower")
					}
				}
			}
		})
	}
}
