package pebblev1fs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// The power-cut test: Pebble v1 on pebblev1fs over Pebble's strict MemFS
// (vfs.NewStrictMem), which keeps a file's synced contents and a
// directory's synced entries apart from the rest. One writer sets,
// deletes and writes batches (some synced, some not), flushes, compacts
// and rotates the data key. At a random moment, between operations or in
// the middle of one (a flush, a compaction, a rotation, a dictionary
// write), the power goes: from then on syncs are ignored, the DB and FS
// are closed, and ResetToSyncedState drops everything not synced. The
// test reopens pebblev1fs and Pebble, as a restarted process would, under
// a method chosen at random (so restarts switch plaintext, AES and SM4),
// and checks every key: it holds its last acknowledged durable value (a
// synced write, or any write before an acknowledged flush) or a value
// written after it, never an older one, never bytes it was not given.
// The restarted DB goes on writing, so later cuts land on what a recovery
// left behind.

// envPowerCuts raises the number of cuts for a long run.
const envPowerCuts = "ATREST_PEBBLEV1_POWERCUTS"

const (
	pcKeys    = 300
	pcHotKeys = 40
	pcDir     = "/atrest/powercut/db"
)

// pcRun is the state of one power-cut test.
type pcRun struct {
	t      *testing.T
	e      *testEnv
	r      *rand.Rand
	mem    *vfs.MemFS
	method ctr.Method
	efs    *FS
	db     *pebble.DB
	h      *enginetest.History

	mu  sync.Mutex // orders acknowledgements against the cut
	cut *enginetest.Cut

	reportMu sync.Mutex
	reports  []string
}

func (p *pcRun) report(msg string) {
	p.reportMu.Lock()
	defer p.reportMu.Unlock()
	p.reports = append(p.reports, msg)
}

// powerOff ignores every sync from now on and takes the history as it
// stands: nothing acknowledged after this is durable.
func (p *pcRun) powerOff() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut != nil {
		return
	}
	p.mem.SetIgnoreSyncs(true)
	c := p.h.Cut()
	p.cut = &c
}

// isOff reports whether the power went.
func (p *pcRun) isOff() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut != nil
}

func (p *pcRun) ack(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.h.Ack(i)
}

func (p *pcRun) open(mustExist bool) {
	p.t.Helper()
	var err error
	p.method = allMethods[p.r.IntN(len(allMethods))]
	if p.efs, err = Open(context.Background(), pcDir, p.e.config(p.method), p.mem); err != nil {
		p.t.Fatalf("open pebblev1fs with %s: %v", p.method, err)
	}
	if p.db, err = pebble.Open(pcDir, crashOptions(p.efs, mustExist, p.report)); err != nil {
		p.t.Fatalf("open pebble with %s: %v", p.method, err)
	}
}

func TestPowerCut(t *testing.T) {
	normal, short := 150, 40
	if raceEnabled {
		normal, short = 40, 12
	}
	cuts := crashtest.Count(t, envPowerCuts, normal, short)
	seed := uint64(time.Now().UnixNano())
	p := &pcRun{t: t, e: newEnv(t), r: rand.New(rand.NewPCG(seed, 0x9c)), mem: vfs.NewStrictMem(), h: enginetest.NewHistory(nil)}
	p.open(false)
	var durable, keyChecks, during, ops int
	methods := map[string]int{}
	for range cuts {
		methods[p.method.String()]++
		n := 20 + p.r.IntN(150)
		var timer *time.Timer
		for i := 0; i < n && !p.isOff(); i++ {
			if timer == nil && p.r.IntN(n) == 0 {
				// The power goes a moment into this operation.
				timer = time.AfterFunc(time.Duration(p.r.IntN(2000))*time.Microsecond, p.powerOff)
				during++
			}
			if err := p.step(); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			ops++
		}
		if timer != nil {
			timer.Stop()
		}
		p.powerOff()
		p.db.Close() // errors after the cut are no finding
		p.efs.Close()
		p.mem.ResetToSyncedState()
		p.mem.SetIgnoreSyncs(false)
		p.reports = nil

		p.open(true)
		read, err := scanGens(p.db)
		if err != nil {
			t.Fatalf("seed %d: scan after the cut: %v", seed, err)
		}
		res := p.cut.Check(read, pcKeys)
		if len(res.Problems) > 0 {
			t.Fatalf("seed %d: after a cut, reopened with %s:\n%s", seed, p.method, strings.Join(res.Problems, "\n"))
		}
		if len(p.reports) > 0 {
			t.Fatalf("seed %d: Pebble reported while recovering:\n%s", seed, strings.Join(p.reports, "\n"))
		}
		durable += res.Durable
		keyChecks += pcKeys
		p.h.Reset(read)
		p.mu.Lock()
		p.cut = nil
		p.mu.Unlock()
	}
	p.db.Close()
	p.efs.Close()
	t.Logf("seed %d: %d power cuts (%d armed inside an operation), %d operations, %d acknowledged durable key values checked, %d key checks, lost: 0; methods opened %v",
		seed, cuts, during, ops, durable, keyChecks, methods)
}

// pickWrites picks n distinct keys, half of them hot, deleting one in
// delEvery, sorted.
func pickWrites(r *rand.Rand, n, delEvery int) []enginetest.Write {
	return enginetest.PickWrites(r, n, delEvery, func() int {
		k := r.IntN(pcKeys)
		if r.IntN(2) == 0 {
			k = r.IntN(pcHotKeys)
		}
		return k
	})
}

// step runs one operation and acknowledges it.
func (p *pcRun) step() error {
	synced := p.r.IntN(2) == 0
	wo := pebble.NoSync
	if synced {
		wo = pebble.Sync
	}
	switch n := p.r.IntN(100); {
	case n < 55:
		ws := pickWrites(p.r, 1, 6)
		i := p.h.Begin(ws, synced, false)
		var err error
		if ws[0].Gen == 0 {
			err = p.db.Delete(key(ws[0].K), wo)
		} else {
			err = p.db.Set(key(ws[0].K), enginetest.Value(ws[0].K, ws[0].Gen), wo)
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		p.ack(i)
	case n < 80:
		ws := pickWrites(p.r, 2+p.r.IntN(10), 5)
		i := p.h.Begin(ws, synced, false)
		b := p.db.NewBatch()
		for _, w := range ws {
			if w.Gen == 0 {
				b.Delete(key(w.K), nil)
			} else {
				b.Set(key(w.K), enginetest.Value(w.K, w.Gen), nil)
			}
		}
		if err := b.Commit(wo); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
		b.Close()
		p.ack(i)
	case n < 88:
		i := p.h.Begin(nil, true, true)
		if err := p.db.Flush(); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		p.ack(i)
	case n < 94:
		lo := p.r.IntN(pcKeys)
		if err := p.db.Compact(key(lo), key(lo+1+p.r.IntN(pcKeys/2)), false); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
	default:
		if p.method == ctr.Plaintext {
			return nil
		}
		if err := p.efs.Manager().RotateDataKey(context.Background()); err != nil {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	return nil
}
