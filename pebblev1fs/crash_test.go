//go:build unix

package pebblev1fs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/cockroachdb/pebble"
)

// The crash test: a child process (this test binary, re-executed) runs
// Pebble v1 on pebblev1fs and writes with pebble.Sync: sets, deletes,
// batches, flushes, compactions and data-key rotations, saying each
// operation before it starts and after it returned. The parent kills it
// with SIGKILL at a random moment (or it dies at a dict failpoint), then
// reopens the directory, Pebble and all, and checks every key against
// the acknowledged writes (enginetest.RunCrash). The directory is kept
// from kill to kill, and the method alternates between AES and SM4, so
// every open rotates the data key.

// crashVars name the environment variables of the crash test's child;
// ATREST_PEBBLEV1_CRASH_KILLS raises the count for a long run.
const crashVars enginetest.CrashVars = "ATREST_PEBBLEV1_CRASH"

const (
	crashKeys    = 2000
	crashHotKeys = 100
)

// TestCrashChild is the child's body; it does nothing unless re-executed
// by TestCrashRecovery.
func TestCrashChild(t *testing.T) {
	child, ok := crashVars.Child()
	if !ok {
		t.Skip("the crash test's child process; run by TestCrashRecovery")
	}
	say, die := crashtest.Say, crashtest.Die
	r, method, opts := child.Rand, child.Method, child.Options
	e := &testEnv{dir: child.Dir, keyPath: child.KeyPath}
	say("opening")
	ctx := context.Background()
	efs, err := Open(ctx, e.dir, enginetest.CrashConfig(e.config(method)), nil, opts...)
	if err != nil {
		die("open fs: %v", err)
	}
	db, err := pebble.Open(e.dir, crashOptions(efs, child.MustExist, func(msg string) { die("%s", msg) }))
	if err != nil {
		die("open pebble: %v", err)
	}
	say("opened")
	pickKey := func() int {
		if r.IntN(2) == 0 {
			return r.IntN(crashHotKeys)
		}
		return r.IntN(crashKeys)
	}
	for op := 0; ; op++ {
		switch p := r.IntN(1000); {
		case p < 150:
			k := pickKey()
			say("begin %d %d=-", op, k)
			if err := db.Delete(key(k), pebble.Sync); err != nil {
				die("delete: %v", err)
			}
		case p < 350:
			ws := enginetest.PickWrites(r, 2+r.IntN(11), 5, pickKey)
			say("begin %d%s", op, enginetest.FormatWrites(ws))
			b := db.NewBatch()
			for _, w := range ws {
				if w.Gen == 0 {
					b.Delete(key(w.K), nil)
				} else {
					b.Set(key(w.K), enginetest.Value(w.K, w.Gen), nil)
				}
			}
			if err := b.Commit(pebble.Sync); err != nil {
				die("commit: %v", err)
			}
			b.Close()
		case p < 390:
			say("begin %d", op)
			if err := db.Flush(); err != nil {
				die("flush: %v", err)
			}
		case p < 405:
			say("begin %d", op)
			if err := efs.Manager().RotateDataKey(ctx); err != nil {
				die("rotate: %v", err)
			}
		case p < 410:
			lo := r.IntN(crashKeys)
			say("begin %d", op)
			if err := db.Compact(key(lo), key(lo+1+r.IntN(crashKeys/4)), false); err != nil {
				die("compact: %v", err)
			}
		default:
			k, gen := pickKey(), r.Uint64()|1
			say("begin %d %d=%d", op, k, gen)
			if err := db.Set(key(k), enginetest.Value(k, gen), pebble.Sync); err != nil {
				die("set: %v", err)
			}
		}
		say("ack %d", op)
	}
}

// TestCrashRecovery kills a child running Pebble v1 on pebblev1fs over
// and over on one directory and checks after every kill that no
// acknowledged write is lost.
func TestCrashRecovery(t *testing.T) {
	if crashVars.InChild() {
		t.Skip("inside the child")
	}
	kills := crashtest.Count(t, crashVars.Kills(), crashDefaultKills, 6)
	seed := uint64(time.Now().UnixNano())
	e := newEnv(t)
	spec := enginetest.CrashSpec{
		Test:    "TestCrashChild",
		Methods: []string{ctr.AES128CTR.String(), ctr.SM4CTR.String()},
		Keys:    crashKeys,
		Env:     crashVars.Env(e.dir, e.keyPath),
		Recover: func(method string, mustExist bool) (map[int]uint64, error) {
			m, err := ctr.ParseMethod(method)
			if err != nil {
				return nil, err
			}
			return recoverDB(e, m, mustExist)
		},
	}
	st := enginetest.RunCrash(t, kills, seed, spec)
	t.Logf("seed %d: %s", seed, st)
}

// recoverDB opens the directory as a restarted process would, reads
// every key, checks the LSM and closes; anything Pebble reports is an
// error.
func recoverDB(e *testEnv, method ctr.Method, mustExist bool) (map[int]uint64, error) {
	var mu sync.Mutex
	var reports []string
	report := func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, msg)
	}
	efs, err := Open(context.Background(), e.dir, enginetest.CrashConfig(e.config(method)), nil)
	if err != nil {
		return nil, err
	}
	defer efs.Close()
	o := crashOptions(efs, mustExist, report)
	// Pebble v1's CheckLevels reads the files' compaction state without
	// the lock a running compaction writes it under (the race detector
	// says so): no compaction runs while it checks.
	o.DisableAutomaticCompactions = true
	db, err := pebble.Open(e.dir, o)
	if err != nil {
		return nil, fmt.Errorf("open pebble: %w", err)
	}
	read, err := scanGens(db)
	if err == nil {
		err = db.CheckLevels(nil)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil && len(reports) > 0 {
		err = fmt.Errorf("pebble reported:\n%s", strings.Join(reports, "\n"))
	}
	return read, err
}
