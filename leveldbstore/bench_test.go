package leveldbstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// benchMethods are plaintext and the two ciphers a deployment picks from.
var benchMethods = []ctr.Method{ctr.Plaintext, ctr.AES128CTR, ctr.SM4CTR}

const (
	benchKeys   = 50_000
	benchValue  = 100
	benchReads  = 10_000
	benchRounds = 21
)

// benchOpen opens goleveldb on leveldbstore in dir with a 1 MiB block
// cache, far smaller than the DB: reads fetch (and decrypt) blocks.
func benchOpen(b *testing.B, e *testEnv, dir string, m ctr.Method) *DB {
	db, err := OpenDB(context.Background(), dir, e.config(m), nil, &opt.Options{BlockCacheCapacity: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

func benchFill(db *DB, value []byte) error {
	batch := new(leveldb.Batch)
	for i := range benchKeys {
		batch.Put(key(i), value)
		if batch.Len() == 1000 {
			if err := db.Write(batch, nil); err != nil {
				return err
			}
			batch.Reset()
		}
	}
	return db.Write(batch, &opt.WriteOptions{Sync: true})
}

// BenchmarkVsPlaintext measures what each method costs goleveldb against
// plaintext in one process: a fill of benchKeys keys (batched, the last
// batch synced, compacted) on a fresh DB, and benchReads random point
// reads on a DB loaded and compacted once, the methods interleaved round
// by round; it reports the median time per item and the median of each
// round's ratio to plaintext, and logs the kernels. Run it once:
// go test -run '^$' -bench VsPlaintext -benchtime 1x.
func BenchmarkVsPlaintext(b *testing.B) {
	e := newEnv(b)
	value := make([]byte, benchValue)
	rand.NewChaCha8([32]byte{1}).Read(value)
	b.Run("workload=fill", func(b *testing.B) {
		for range b.N {
			n := 0
			medians, err := enginetest.Compare(benchRounds, benchMethods, func(m ctr.Method) (time.Duration, error) {
				n++
				db := benchOpen(b, e, filepath.Join(e.dir, fmt.Sprintf("fill-%d", n)), m)
				defer db.Close()
				start := time.Now()
				err := benchFill(db, value)
				if err == nil {
					// Compacted within the timing: every byte the fill makes
					// the engine write is encrypted before the next method runs.
					err = db.CompactRange(util.Range{})
				}
				return time.Since(start), err
			})
			if err != nil {
				b.Fatal(err)
			}
			enginetest.ReportVsPlaintext(b, "key", benchMethods, medians, benchKeys)
		}
	})
	b.Run("workload=readrandom", func(b *testing.B) {
		dbs := map[ctr.Method]*DB{}
		for _, m := range benchMethods {
			db := benchOpen(b, e, filepath.Join(e.dir, "read-"+m.String()), m)
			defer db.Close()
			if err := benchFill(db, value); err != nil {
				b.Fatal(err)
			}
			if err := db.CompactRange(util.Range{}); err != nil {
				b.Fatal(err)
			}
			dbs[m] = db
		}
		r := rand.New(rand.NewPCG(3, 4))
		for range b.N {
			medians, err := enginetest.Compare(benchRounds, benchMethods, func(m ctr.Method) (time.Duration, error) {
				db := dbs[m]
				start := time.Now()
				for range benchReads {
					v, err := db.Get(key(r.IntN(benchKeys)), nil)
					if err != nil {
						return 0, err
					}
					if len(v) != benchValue {
						return 0, fmt.Errorf("read %d bytes", len(v))
					}
				}
				return time.Since(start), nil
			})
			if err != nil {
				b.Fatal(err)
			}
			enginetest.ReportVsPlaintext(b, "read", benchMethods, medians, benchReads)
		}
	})
}
