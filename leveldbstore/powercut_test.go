package leveldbstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/crashfs"
	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// The power-cut test: goleveldb on leveldbstore over atrest's
// crash-simulating file system (internal/crashfs), which keeps a file's
// synced contents and a directory's synced entries apart from the rest,
// and at a crash keeps a random share of the rest (4 KiB blocks of a
// file, a prefix of a directory's changes) or none of it. The storage is
// built on the Manager's fsys.FS, so crashfs holds everything: tables,
// journals, manifests, CURRENT, LOG, the dictionaries and their lock. One
// writer puts, deletes and writes batches (some synced, some not),
// compacts and rotates the data key. At random moments, between
// operations and in the middle of one, the test takes a crash image and
// opens leveldbstore and goleveldb on it as a restarted process would,
// under a method chosen at random, and checks every key: it holds its
// last acknowledged synced value or a value written after it, never an
// older one, never bytes it was not given. Some images become the live
// directory, so later cuts land on what a recovery left behind.
//
// Goleveldb's memtable switch closes the old journal without a sync, so
// an acknowledged synced write makes only itself durable, not the
// unsynced writes before it: the check holds each key to its own last
// synced write.

// envPowerCuts raises the number of cuts for a long run.
const envPowerCuts = "ATREST_LEVELDB_POWERCUTS"

// envPowerCutSeed sets the seed a failure printed.
const envPowerCutSeed = "ATREST_LEVELDB_POWERCUT_SEED"

const (
	pcKeys    = 300
	pcHotKeys = 40
	pcDir     = "/atrest/powercut/db"
)

type pcRun struct {
	t      *testing.T
	e      *testEnv
	r      *rand.Rand
	mem    *crashfs.FS
	method ctr.Method
	s      *Storage
	db     *leveldb.DB
	h      *enginetest.History
	mu     sync.Mutex // orders acknowledgements against the cuts
}

// pcCut is a crash image and the history as it stood when it was taken.
type pcCut struct {
	fs     *crashfs.FS
	c      enginetest.Cut
	during bool
}

func (p *pcRun) cut(cfg crashfs.CrashConfig, during bool) *pcCut {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &pcCut{fs: p.mem.Crash(cfg), c: p.h.Cut(), during: during}
}

func (p *pcRun) ack(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.h.Ack(i)
}

func (p *pcRun) crashConfig() crashfs.CrashConfig {
	if p.r.IntN(4) == 0 {
		return crashfs.KeepNothingUnsynced()
	}
	return crashfs.RandomCrash(p.r.Uint64())
}

func pcOptions(mustExist bool) *opt.Options {
	o := testOptions()
	o.ErrorIfMissing = mustExist
	return o
}

// open opens leveldbstore and goleveldb on fs under a random method.
func (p *pcRun) open(fs *crashfs.FS, mustExist bool) (ctr.Method, *Storage, *leveldb.DB, error) {
	method := allMethods[p.r.IntN(len(allMethods))]
	s, err := Open(context.Background(), pcDir, p.e.config(method), fs)
	if err != nil {
		return method, nil, nil, fmt.Errorf("open leveldbstore with %s: %w", method, err)
	}
	db, err := leveldb.Open(s, pcOptions(mustExist))
	if err != nil {
		s.Close()
		return method, nil, nil, fmt.Errorf("open leveldb with %s: %w", method, err)
	}
	return method, s, db, nil
}

func TestPowerCut(t *testing.T) {
	normal, short := 150, 40
	if raceEnabled {
		normal, short = 40, 12
	}
	cuts := crashtest.Count(t, envPowerCuts, normal, short)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envPowerCutSeed); s != "" { // replays a failure's random choices (cut timing still varies)
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", envPowerCutSeed, err)
		}
		seed = v
	}
	p := &pcRun{t: t, e: newEnv(t), r: rand.New(rand.NewPCG(seed, 0x1d)), mem: crashfs.New(), h: enginetest.NewHistory(nil)}
	if err := p.mem.MkdirAll(pcDir); err != nil {
		t.Fatal(err)
	}
	var err error
	if p.method, p.s, p.db, err = p.open(p.mem, false); err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.db.Close()
		p.s.Close()
	}()
	var durable, keyChecks, during, restarts, ops, done int
	methods := map[string]int{}
	for done < cuts {
		var pending chan *pcCut
		if p.r.IntN(25) == 0 {
			cfg := p.crashConfig()
			pending = make(chan *pcCut, 1)
			time.AfterFunc(time.Duration(p.r.IntN(3000))*time.Microsecond, func() { pending <- p.cut(cfg, true) })
		}
		if err := p.step(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		ops++
		var c *pcCut
		switch {
		case pending != nil:
			c = <-pending
		case p.r.IntN(25) == 0:
			c = p.cut(p.crashConfig(), false)
		default:
			continue
		}
		done++
		if c.during {
			during++
		}
		method, s, db, err := p.open(c.fs, true)
		if err != nil {
			t.Fatalf("seed %d: after a cut: %v", seed, err)
		}
		methods[method.String()]++
		read, err := scanGens(db)
		if err != nil {
			t.Fatalf("seed %d: scan after a cut (%s): %v", seed, method, err)
		}
		res := c.c.Check(read, pcKeys)
		if len(res.Problems) > 0 {
			t.Fatalf("seed %d: after a cut, reopened with %s:\n%s", seed, method, strings.Join(res.Problems, "\n"))
		}
		durable += res.Durable
		keyChecks += pcKeys
		if p.r.IntN(3) == 0 {
			// The restart goes on: the image becomes the live directory.
			p.db.Close()
			p.s.Close()
			p.mem, p.method, p.s, p.db = c.fs, method, s, db
			p.h.Reset(read)
			restarts++
			continue
		}
		if err := db.Close(); err != nil {
			t.Fatalf("seed %d: close the recovered DB: %v", seed, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("seed %d: close the recovered storage: %v", seed, err)
		}
	}
	t.Logf("seed %d: %d power cuts (%d taken inside an operation), %d restarts continued on an image, %d operations, %d acknowledged synced key values checked, %d key checks, lost: 0; methods opened %v",
		seed, cuts, during, restarts, ops, durable, keyChecks, methods)
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

// step runs one operation on the live DB and acknowledges it.
func (p *pcRun) step() error {
	synced := p.r.IntN(2) == 0
	wo := &opt.WriteOptions{Sync: synced}
	switch n := p.r.IntN(100); {
	case n < 60:
		ws := pickWrites(p.r, 1, 6)
		i := p.h.Begin(ws, synced, false)
		var err error
		if ws[0].Gen == 0 {
			err = p.db.Delete(key(ws[0].K), wo)
		} else {
			err = p.db.Put(key(ws[0].K), enginetest.Value(ws[0].K, ws[0].Gen), wo)
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		p.ack(i)
	case n < 90:
		ws := pickWrites(p.r, 2+p.r.IntN(10), 5)
		i := p.h.Begin(ws, synced, false)
		b := new(leveldb.Batch)
		for _, w := range ws {
			if w.Gen == 0 {
				b.Delete(key(w.K))
			} else {
				b.Put(key(w.K), enginetest.Value(w.K, w.Gen))
			}
		}
		if err := p.db.Write(b, wo); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
		p.ack(i)
	case n < 95:
		lo := p.r.IntN(pcKeys)
		if err := p.db.CompactRange(util.Range{Start: key(lo), Limit: key(lo + 1 + p.r.IntN(pcKeys/2))}); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
	default:
		if p.method == ctr.Plaintext {
			return nil
		}
		if err := p.s.Manager().RotateDataKey(context.Background()); err != nil {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	return nil
}

// A DB that opened is there after a power cut that keeps nothing unsynced,
// on a plaintext directory too (where the Manager's rename is a plain
// rename and the storage must sync CURRENT's directory itself).
func TestCurrentDurableAfterOpen(t *testing.T) {
	for _, method := range allMethods {
		t.Run(method.String(), func(t *testing.T) {
			e := newEnv(t)
			mem := crashfs.New()
			if err := mem.MkdirAll(pcDir); err != nil {
				t.Fatal(err)
			}
			s, err := Open(context.Background(), pcDir, e.config(method), mem)
			if err != nil {
				t.Fatal(err)
			}
			db, err := leveldb.Open(s, pcOptions(false))
			if err != nil {
				t.Fatal(err)
			}
			image := mem.Crash(crashfs.KeepNothingUnsynced())
			db.Close()
			s.Close()
			s, err = Open(context.Background(), pcDir, e.config(method), image)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			db, err = leveldb.Open(s, pcOptions(true))
			if err != nil {
				t.Fatalf("the DB that opened is gone after a power cut: %v", err)
			}
			db.Close()
		})
	}
}
