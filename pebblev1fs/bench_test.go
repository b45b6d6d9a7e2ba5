package pebblev1fs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/cockroachdb/pebble"
)

// benchMethods are plaintext and the two ciphers a deployment picks from.
var benchMethods = []ctr.Method{ctr.Plaintext, ctr.AES128CTR, ctr.SM4CTR}

const (
	benchKeys     = 50_000
	benchValue    = 100
	benchReads    = 10_000
	benchRounds   = 21
	benchMemTable = 4 << 20
	// benchCache holds 1 MiB of blocks, far less than the DB, so reads
	// fetch (and decrypt) their data blocks; Pebble v1 charges its two
	// memtables to the block cache, so they are added on top (else the
	// cache holds no blocks at all, and every read decrypts its index
	// blocks too).
	benchCache = 1<<20 + 2*benchMemTable
)

// benchOpen opens Pebble v1 on pebblev1fs in dir with a small block cache.
func benchOpen(b *testing.B, e *testEnv, dir string, m ctr.Method) *DB {
	cache := pebble.NewCache(benchCache)
	defer cache.Unref()
	db, err := OpenDB(context.Background(), dir, e.config(m), nil, &pebble.Options{Cache: cache, MemTableSize: benchMemTable, Logger: enginetest.QuietLogger{}})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

func benchFill(db *DB, value []byte) error {
	batch := db.NewBatch()
	for i := range benchKeys {
		batch.Set(key(i), value, nil)
		if batch.Count() == 1000 {
			if err := batch.Commit(pebble.NoSync); err != nil {
				return err
			}
			batch.Reset()
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return err
	}
	return db.Flush()
}

// BenchmarkVsPlaintext measures what each method costs Pebble v1 against
// plaintext in one process: a fill of benchKeys keys (batched, flushed,
// compacted) on a fresh DB, and benchReads random point reads on a DB loaded and
// compacted once, the methods interleaved round by round; it reports the
// median time per item and the median of each round's ratio to
// plaintext, and logs the kernels.
// Run it once: go test -run '^$' -bench VsPlaintext -benchtime 1x.
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
					err = db.Compact(key(0), key(benchKeys), false)
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
			if err := db.Compact(key(0), key(benchKeys), false); err != nil {
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
					v, closer, err := db.Get(key(r.IntN(benchKeys)))
					if err != nil {
						return 0, err
					}
					if len(v) != benchValue {
						return 0, fmt.Errorf("read %d bytes", len(v))
					}
					closer.Close()
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
