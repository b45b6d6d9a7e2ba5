//go:build unix

package leveldbstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// The crash test: a child process (this test binary, re-executed) runs
// goleveldb on leveldbstore and writes with Sync: puts, deletes, batches,
// compactions and data-key rotations, saying each operation before it
// starts and after it returned. The parent kills it with SIGKILL at a
// random moment (or it dies at a dict failpoint), then reopens the
// directory, goleveldb and all, and checks every key against the
// acknowledged writes (enginetest.RunCrash). The directory is kept from
// kill to kill, and the method alternates between AES and SM4, so every
// open rotates the data key.

// crashVars name the environment variables of the crash test's child;
// ATREST_LEVELDB_CRASH_KILLS raises the count for a long run.
const crashVars enginetest.CrashVars = "ATREST_LEVELDB_CRASH"

const (
	crashKeys    = 2000
	crashHotKeys = 100
)

func crashOptions(mustExist bool) *opt.Options {
	o := testOptions()
	o.ErrorIfMissing = mustExist
	return o
}

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
	s, err := Open(ctx, e.dir, enginetest.CrashConfig(e.config(method)), nil, opts...)
	if err != nil {
		die("open storage: %v", err)
	}
	db, err := leveldb.Open(s, crashOptions(child.MustExist))
	if err != nil {
		die("open leveldb: %v", err)
	}
	say("opened")
	sync := &opt.WriteOptions{Sync: true}
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
			if err := db.Delete(key(k), sync); err != nil {
				die("delete: %v", err)
			}
		case p < 350:
			ws := enginetest.PickWrites(r, 2+r.IntN(11), 5, pickKey)
			say("begin %d%s", op, enginetest.FormatWrites(ws))
			b := new(leveldb.Batch)
			for _, w := range ws {
				if w.Gen == 0 {
					b.Delete(key(w.K))
				} else {
					b.Put(key(w.K), enginetest.Value(w.K, w.Gen))
				}
			}
			if err := db.Write(b, sync); err != nil {
				die("batch: %v", err)
			}
		case p < 365:
			say("begin %d", op)
			if err := s.Manager().RotateDataKey(ctx); err != nil {
				die("rotate: %v", err)
			}
		case p < 375:
			lo := r.IntN(crashKeys)
			say("begin %d", op)
			if err := db.CompactRange(util.Range{Start: key(lo), Limit: key(lo + 1 + r.IntN(crashKeys/4))}); err != nil {
				die("compact: %v", err)
			}
		default:
			k, gen := pickKey(), r.Uint64()|1
			say("begin %d %d=%d", op, k, gen)
			if err := db.Put(key(k), enginetest.Value(k, gen), sync); err != nil {
				die("put: %v", err)
			}
		}
		say("ack %d", op)
	}
}

// TestCrashRecovery kills a child running goleveldb on leveldbstore over
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
			s, err := Open(context.Background(), e.dir, enginetest.CrashConfig(e.config(m)), nil)
			if err != nil {
				return nil, err
			}
			defer s.Close()
			db, err := leveldb.Open(s, crashOptions(mustExist))
			if err != nil {
				return nil, fmt.Errorf("open leveldb: %w", err)
			}
			read, err := scanGens(db)
			if cerr := db.Close(); err == nil {
				err = cerr
			}
			return read, err
		},
	}
	st := enginetest.RunCrash(t, kills, seed, spec)
	t.Logf("seed %d: %s", seed, st)
}
