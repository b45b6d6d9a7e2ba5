package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrUnknownWorkload is returned (wrapped) by ParseWorkload.
var ErrUnknownWorkload = errors.New("unknown engine workload")

// Workload names a workload.
type Workload string

// The workloads.
const (
	// FillSeq writes keys in ascending order.
	FillSeq Workload = "fillseq"
	// FillRandom writes keys in random order.
	FillRandom Workload = "fillrandom"
	// ReadRandom reads random keys of a compacted DB through a small
	// block cache.
	ReadRandom Workload = "readrandom"
)

// Workloads lists every workload.
var Workloads = []Workload{FillSeq, FillRandom, ReadRandom}

// About says in a few words what a workload does.
func (w Workload) About() string {
	switch w {
	case FillSeq:
		return "sequential fill"
	case FillRandom:
		return "random fill"
	case ReadRandom:
		return "random reads"
	}
	return string(w)
}

// ParseWorkload returns the workload of a name.
func ParseWorkload(name string) (Workload, error) {
	for _, w := range Workloads {
		if string(w) == name {
			return w, nil
		}
	}
	return "", fmt.Errorf("%w %q (valid: fillseq, fillrandom, readrandom)", ErrUnknownWorkload, name)
}

// Config sizes a workload's arms.
type Config struct {
	// Keys is the key space of the fills and the keys ReadRandom loads.
	Keys int
	// ValueSize is the size of each value in bytes.
	ValueSize int
	// CacheSize is the block cache's size (small: reads go to the files).
	CacheSize int64
	// Slice is how long a slice writes or reads for. A fill's slice then
	// waits, timed, for the flushes and compactions its writes started:
	// writing out what was filled is part of a fill's cost.
	Slice time.Duration
	// SliceOps, if not 0, makes a slice do exactly that many operations
	// instead of running for Slice: two DBs filled alike then stay alike.
	SliceOps int
	// Seed makes the random orders repeatable; every arm of a workload
	// gets the same, so they do the same operations.
	Seed uint64
}

// DefaultConfig is 100,000 keys of 16 bytes with 256-byte values and an
// 8 MiB block cache, in 50 ms slices.
func DefaultConfig() Config {
	return Config{Keys: 100_000, ValueSize: 256, CacheSize: 8 << 20, Slice: 50 * time.Millisecond, Seed: 1}
}

// valuePool is the size of the random bytes values are cut from: each key
// gets its own window, so values do not compress.
const valuePool = 1 << 20

// Arm is one DB running one workload, an interleave.Arm.
type Arm struct {
	w    Workload
	cfg  Config
	db   DB
	st   Storage
	rng  *rand.Rand
	key  [16]byte
	pool []byte
	next int
	// flush ends every fill slice with a Flush (Engine.FlushEachSlice).
	flush bool
	// IO is what the slices read and wrote (Storage.Counts), and Ops
	// the operations they did: IO over Ops is the I/O per operation.
	IO  IO
	Ops int64
}

// NewArm opens a DB of e in dir on st for workload w; for ReadRandom it
// loads cfg.Keys keys and compacts them first, untimed.
func NewArm(ctx context.Context, e Engine, w Workload, dir string, st Storage, cfg Config) (*Arm, error) {
	db, err := e.Open(ctx, dir, st, Options{CacheSize: cfg.CacheSize})
	if err != nil {
		return nil, err
	}
	a := &Arm{w: w, cfg: cfg, db: db, st: st, flush: e.FlushEachSlice, rng: rand.New(rand.NewPCG(cfg.Seed, 0)), pool: make([]byte, valuePool+cfg.ValueSize)}
	pr := rand.New(rand.NewPCG(cfg.Seed, 1))
	for i := range a.pool {
		a.pool[i] = byte(pr.Uint32())
	}
	if w == ReadRandom {
		if err := a.load(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return a, nil
}

// Close closes the arm's DB.
func (a *Arm) Close() error { return a.db.Close() }

// keyOf is key i: 16 bytes, big-endian after a fixed prefix, so the
// ascending order of i is the key order. It returns the arm's one key
// buffer, which engines copy.
func (a *Arm) keyOf(i int) []byte {
	copy(a.key[:8], "benchkey")
	binary.BigEndian.PutUint64(a.key[8:], uint64(i))
	return a.key[:]
}

// valueOf is key i's value: a window of the pool that depends on i.
func (a *Arm) valueOf(i int) []byte {
	off := (i * 4099) % valuePool
	return a.pool[off : off+a.cfg.ValueSize]
}

func (a *Arm) load(ctx context.Context) error {
	for i := range a.cfg.Keys {
		if err := a.db.Set(a.keyOf(i), a.valueOf(i)); err != nil {
			return err
		}
	}
	if err := a.db.Flush(); err != nil {
		return err
	}
	lo := append([]byte(nil), a.keyOf(0)...)
	if err := a.db.Compact(ctx, lo, a.keyOf(a.cfg.Keys)); err != nil {
		return err
	}
	return a.db.Quiesce()
}

// checkEvery is how many operations a slice does between readings of the
// clock.
const checkEvery = 32

// Slice writes or reads for cfg.Slice, or cfg.SliceOps operations; a
// fill then waits for the flushes and compactions it started. It returns
// the operations done.
func (a *Arm) Slice(ctx context.Context) (int, error) {
	var io0 IO
	if a.st.Counts != nil {
		io0 = a.st.Counts.Snapshot()
	}
	deadline := time.Now().Add(a.cfg.Slice)
	ops := 0
	for {
		for range checkEvery {
			if err := a.op(); err != nil {
				return ops, err
			}
			ops++
			if ops == a.cfg.SliceOps {
				break
			}
		}
		if a.cfg.SliceOps > 0 {
			if ops >= a.cfg.SliceOps {
				break
			}
		} else if !time.Now().Before(deadline) {
			break
		}
	}
	if a.w != ReadRandom {
		// The flushes and compactions this slice's writes started are
		// part of its cost: wait for them, timed; where the engine's
		// flushes would otherwise race its compactions, flush first
		// (Engine.FlushEachSlice).
		if a.flush {
			if err := a.db.Flush(); err != nil {
				return ops, err
			}
		}
		if err := a.db.Quiesce(); err != nil {
			return ops, err
		}
	}
	if a.st.Counts != nil {
		a.IO = a.IO.Add(a.st.Counts.Snapshot().Sub(io0))
	}
	a.Ops += int64(ops)
	return ops, nil
}

// op is one operation of the workload.
func (a *Arm) op() error {
	switch a.w {
	case FillSeq:
		i := a.next
		a.next++
		return a.db.Set(a.keyOf(i), a.valueOf(i))
	case FillRandom:
		i := a.rng.IntN(a.cfg.Keys)
		return a.db.Set(a.keyOf(i), a.valueOf(i))
	}
	i := a.rng.IntN(a.cfg.Keys)
	v, release, err := a.db.Get(a.keyOf(i))
	if err != nil {
		return fmt.Errorf("key %d: %w", i, err)
	}
	ok := bytes.Equal(v, a.valueOf(i))
	release()
	if !ok {
		return fmt.Errorf("engine: key %d reads a wrong value", i)
	}
	return nil
}

// Quiesce waits for the DB's background work (interleave.Arm).
func (a *Arm) Quiesce() error { return a.db.Quiesce() }
