// Package pebblework runs storage-engine workloads on Pebble over an
// encrypted file system (package pebblefs), to measure what each
// encryption method costs a real engine: sequential and random fills, and
// random point reads with a block cache small enough that reads go to the
// files (and so through decryption).
//
// A DB is opened once per method and workload; the caller times the
// operations (a Go benchmark's loop, or encbench's clock) and compares
// methods within one run.
package pebblework

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/pebblefs"
	"github.com/cockroachdb/pebble/v2"
)

// Workload names a workload.
type Workload string

// The workloads.
const (
	// FillSeq writes keys in ascending order.
	FillSeq Workload = "fillseq"
	// FillRandom writes keys in random order.
	FillRandom Workload = "fillrandom"
	// ReadRandom reads random keys of a compacted DB through a small block
	// cache.
	ReadRandom Workload = "readrandom"
)

// Workloads lists every workload.
var Workloads = []Workload{FillSeq, FillRandom, ReadRandom}

// ErrUnknownWorkload is returned (wrapped) by ParseWorkload.
var ErrUnknownWorkload = errors.New("unknown Pebble workload")

// ParseWorkload returns the workload of a name.
func ParseWorkload(name string) (Workload, error) {
	for _, w := range Workloads {
		if string(w) == name {
			return w, nil
		}
	}
	return "", fmt.Errorf("%w %q (valid: fillseq, fillrandom, readrandom)", ErrUnknownWorkload, name)
}

// Config sizes a workload.
type Config struct {
	// Dir is an empty directory for the DB (it is created if missing).
	Dir string
	// Method is the data encryption method; plaintext is the baseline.
	Method ctr.Method
	// MasterKey is the master key's backend configuration. Its type must
	// be secure (a key file, say) unless Method is plaintext.
	MasterKey keyenv.MasterKeyConfig
	// Keys is how many distinct keys a fill writes and ReadRandom loads.
	Keys int
	// ValueSize is the size of each value in bytes.
	ValueSize int
	// CacheSize is the block cache's size in bytes (small for ReadRandom).
	CacheSize int64
	// Seed makes random orders repeatable.
	Seed uint64
}

// DefaultConfig is the size used by the benchmarks: 200k keys of 16 bytes
// with 256-byte values (about 54 MB of data) and an 8 MiB block cache:
// room for the index blocks, while most data blocks are read from the
// files (see memTableSize for how the cache is sized).
func DefaultConfig(dir string, method ctr.Method, mk keyenv.MasterKeyConfig) Config {
	return Config{Dir: dir, Method: method, MasterKey: mk, Keys: 200_000, ValueSize: 256, CacheSize: 8 << 20, Seed: 1}
}

// DB is a Pebble DB on an encrypted FS, ready for a workload's operations.
type DB struct {
	cfg   Config
	efs   *pebblefs.FS
	db    *pebble.DB
	cache interface{ Unref() }
	rng   *rand.Rand
	key   [16]byte
	pool  []byte // random bytes values are cut from
	next  int
}

// memTableSize is Pebble's default memtable size, set explicitly because
// the cache is sized from it: Pebble charges its memtables to the block
// cache (Cache.Reserve), the one in use and one kept for reuse, each
// memTableSize once grown. A cache of only CacheSize bytes held no blocks
// at all here (8 MiB: cache size 0, every Get reading its index blocks
// from the files as well), so Open makes the cache memTableReserve larger
// and CacheSize is what the blocks get.
const (
	memTableSize    = 4 << 20
	memTableReserve = 2 * memTableSize
)

// valuePool is the size of the random bytes values are cut from: each key
// gets its own window, so values do not compress (one value repeated would
// shrink every block to a tenth, and with it the bytes read and
// decrypted).
const valuePool = 1 << 20

// valueOf is key i's value: a window of the pool that depends on i.
func (d *DB) valueOf(i int) []byte {
	off := (i * 4099) % valuePool
	return d.pool[off : off+d.cfg.ValueSize]
}

// Open opens a DB for workload w: for ReadRandom it loads cfg.Keys keys
// and compacts them first (untimed), so every read finds its key in an
// SSTable.
func Open(ctx context.Context, w Workload, cfg Config) (*DB, error) {
	kcfg := keyenv.DefaultConfig()
	kcfg.DataEncryptionMethod = cfg.Method
	kcfg.MasterKey = cfg.MasterKey
	efs, err := pebblefs.Open(ctx, cfg.Dir, kcfg, nil)
	if err != nil {
		return nil, err
	}
	cache := pebble.NewCache(cfg.CacheSize + memTableReserve)
	opts := &pebble.Options{FS: efs, Cache: cache, Logger: quiet{}, MemTableSize: memTableSize}
	db, err := pebble.Open(cfg.Dir, opts)
	if err != nil {
		cache.Unref()
		efs.Close()
		return nil, err
	}
	d := &DB{cfg: cfg, efs: efs, db: db, cache: cache, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Method))), pool: make([]byte, valuePool+cfg.ValueSize)}
	for i := range d.pool {
		d.pool[i] = byte(d.rng.Uint32())
	}
	if w == ReadRandom {
		if err := d.load(ctx); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

func (d *DB) load(ctx context.Context) error {
	b := d.db.NewBatch()
	for i := range d.cfg.Keys {
		b.Set(d.keyOf(i), d.valueOf(i), nil)
		if b.Len() > 1<<20 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return err
			}
			b = d.db.NewBatch()
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return err
	}
	if err := d.db.Flush(); err != nil {
		return err
	}
	start := append([]byte(nil), d.keyOf(0)...) // keyOf reuses one buffer
	return d.db.Compact(ctx, start, d.keyOf(d.cfg.Keys), true)
}

// keyOf is key i: 16 bytes, big-endian after a fixed prefix, so the
// ascending order of i is the key order. It returns the DB's one key
// buffer, which Pebble copies.
func (d *DB) keyOf(i int) []byte {
	copy(d.key[:8], "pbwkey:\x00")
	binary.BigEndian.PutUint64(d.key[8:], uint64(i))
	return d.key[:]
}

// Fill writes one key: the next in order for FillSeq, a random one for
// FillRandom. Writes do not sync: the cost measured is the engine's
// (WAL, memtable, flushes, compactions), not the disk's flush latency.
func (d *DB) Fill(w Workload) error {
	i := d.next
	d.next++
	if w == FillRandom {
		i = d.rng.IntN(d.cfg.Keys)
	}
	return d.db.Set(d.keyOf(i), d.valueOf(i), pebble.NoSync)
}

// Read reads one random key and checks its value.
func (d *DB) Read() error {
	i := d.rng.IntN(d.cfg.Keys)
	v, closer, err := d.db.Get(d.keyOf(i))
	if err != nil {
		return err
	}
	ok := bytes.Equal(v, d.valueOf(i))
	closer.Close()
	if !ok {
		return fmt.Errorf("pebblework: key %d reads a wrong value", i)
	}
	return nil
}

// Settle flushes the memtable and waits for compactions to finish, so a
// fill's time includes the writing out of what it filled.
func (d *DB) Settle() error {
	if err := d.db.Flush(); err != nil {
		return err
	}
	for idle := 0; idle < 3; {
		if d.db.Metrics().Compact.NumInProgress == 0 {
			idle++
		} else {
			idle = 0
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// Close closes the DB and the encrypted FS.
func (d *DB) Close() error {
	err := errors.Join(d.db.Close(), d.efs.Close())
	d.cache.Unref()
	return err
}

// quiet drops Pebble's informational logging.
type quiet struct{}

func (quiet) Infof(string, ...any)           {}
func (quiet) Errorf(string, ...any)          {}
func (quiet) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
