package pebblefs

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/metamorphic"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Pebble's own metamorphic test, run on pebblefs. The package lets a
// wrapper in from outside: RandomOptions builds the options of a run
// (AlwaysStrictFS gives it a crash-simulating MemFS), GenerateOps its
// operations, New a test that Step runs one operation at a time, and
// TestOptions.CustomOpts takes options of our own whose Open gets the
// *pebble.Options before the DB is opened, at the start and at every
// restart, and may replace Options.FS. metaEncryption's Open puts pebblefs
// over the FS the test made; its Close closes it. A restart (dbRestartOp)
// closes the DB, takes vfs.Root of Options.FS, which pebblefs's Unwrap
// leads to the MemFS, makes a CrashClone of it keeping only synced data,
// calls Close, sets the clone as Options.FS and calls Open again: pebblefs
// then recovers its dictionaries from the clone, as after a power cut.
//
// Each run is made twice from the same seed, the same options and
// operations: once on the bare MemFS and once on pebblefs over it. Every
// operation's output (each read, iterator step, write, flush, ingest,
// checkpoint, restart) must be the same line in both.

const (
	envMetaRuns = "ATREST_PEBBLE_METAMORPHIC_RUNS" // seeds to run (make crash)
	envMetaOps  = "ATREST_PEBBLE_METAMORPHIC_OPS"  // operations per run
	envMetaSeed = "ATREST_PEBBLE_METAMORPHIC_SEED" // the first seed, to replay a run
)

// metaEncryption is the custom option that puts pebblefs under the
// metamorphic test's DB. Each Open takes the next method of methods in
// turn, so a run whose methods differ switches method at every restart.
type metaEncryption struct {
	e       *testEnv
	dir     string
	methods []ctr.Method
	opens   int
	efs     *FS
	last    vfs.FS // the base FS of the last Open
}

func (o *metaEncryption) Name() string { return "atrest_pebblefs" }

func (o *metaEncryption) Value() string {
	var names []string
	for _, m := range o.methods {
		names = append(names, m.String())
	}
	return strings.Join(names, ",")
}

func (o *metaEncryption) Open(opts *pebble.Options) error {
	m := o.methods[o.opens%len(o.methods)]
	o.opens++
	efs, err := Open(context.Background(), o.dir, o.e.config(m), opts.FS)
	if err != nil {
		return err
	}
	o.efs, o.last = efs, opts.FS
	opts.FS = efs
	// A WAL failover's secondary directory is inside the store: it must
	// be encrypted too.
	if opts.WALFailover != nil {
		opts.WALFailover.Secondary.FS = efs
	}
	return nil
}

func (o *metaEncryption) Close(*pebble.Options) error {
	if o.efs == nil {
		return nil
	}
	err := o.efs.Close()
	o.efs = nil
	return err
}

// metaRun runs the metamorphic test of seed with nOps operations and
// returns every operation's output; enc nil runs on the bare MemFS.
func metaRun(t *testing.T, seed uint64, nOps uint64, dir string, enc *metaEncryption) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(0, seed))
	kf := metamorphic.TestkeysKeyFormat
	// No WAL failover: it would put WAL files in a second directory
	// only when the primary looks slow, which on a MemFS it never does.
	opts := metamorphic.RandomOptions(rng, kf, metamorphic.RandomOptionsCfg{AlwaysStrictFS: true, NoWALFailover: true})
	// Restarts ten times as often as by default (two in a thousand
	// operations otherwise): each is a CrashClone and a recovery of the
	// dictionaries.
	cfg := metamorphic.DefaultOpConfig().WithOpWeight(metamorphic.OpDBRestart, 20)
	ops := metamorphic.GenerateOps(rng, nOps, kf, cfg)
	if enc != nil {
		opts.CustomOpts = append(opts.CustomOpts, enc)
	}
	test, err := metamorphic.New(ops, opts, dir, io.Discard)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	var out []string
	for {
		more, line, err := test.Step()
		if err != nil {
			t.Fatalf("seed %d, operation %d: %v (output %q)", seed, len(out), err, line)
		}
		if !more {
			break
		}
		out = append(out, line)
	}
	return out
}

// TestMetamorphic runs Pebble's metamorphic test on pebblefs under AES,
// under SM4 and switching method at every restart, each against the same
// run on the bare MemFS.
func TestMetamorphic(t *testing.T) {
	// GenerateOps makes about half as many operations as asked for.
	runs, nOps := 3, uint64(4000)
	switch {
	case testing.Short() && raceEnabled:
		runs, nOps = 1, 1000
	case testing.Short() || raceEnabled:
		runs, nOps = 1, 3000
	}
	if s := os.Getenv(envMetaRuns); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive count", envMetaRuns, s)
		}
		runs = n
	}
	if s := os.Getenv(envMetaOps); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive count", envMetaOps, s)
		}
		nOps = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envMetaSeed); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", envMetaSeed, s, err)
		}
	}
	var executed, restarts int
	for run := range runs {
		seed := seed + uint64(run)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			// The path is one on the test's temporary directory too: a
			// failing run copies the MemFS there for a post-mortem.
			dir := filepath.Join(t.TempDir(), "data")
			want := metaRun(t, seed, nOps, dir, nil)
			executed += len(want)
			for _, tc := range []struct {
				name    string
				methods []ctr.Method
			}{
				{"aes256", []ctr.Method{ctr.AES256CTR}},
				{"sm4", []ctr.Method{ctr.SM4CTR}},
				{"switching", []ctr.Method{ctr.AES128CTR, ctr.SM4CTR, ctr.Plaintext, ctr.AES256CTR}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					enc := &metaEncryption{e: newEnv(t), dir: dir, methods: tc.methods}
					got := metaRun(t, seed, nOps, dir, enc)
					executed += len(got)
					restarts += enc.opens - 1
					metaCompare(t, want, got)
					metaCheckEncrypted(t, enc, tc.methods)
					if err := enc.Close(nil); err != nil {
						t.Error(err)
					}
				})
			}
		})
	}
	t.Logf("seeds %d..%d: %d metamorphic runs (each on the bare MemFS, then on pebblefs under AES-256, SM4 and switching methods), %d operations executed, %d restarts through CrashClone on pebblefs",
		seed, seed+uint64(runs)-1, runs*4, executed, restarts)
}

// metaCompare fails at the first operation whose output differs.
func metaCompare(t *testing.T, want, got []string) {
	t.Helper()
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			lo := max(0, i-5)
			t.Fatalf("operation %d of %d differs on pebblefs:\nbare MemFS: %s\npebblefs:   %s\nthe operations before it:\n%s",
				i, len(want), w, g, strings.Join(want[lo:i], "\n"))
		}
	}
}

// metaCheckEncrypted checks, after a run whose last operation closed the
// DB, that every file of the store has an entry of an encrypting method
// when the run never used plaintext: pebblefs was really under the DB.
func metaCheckEncrypted(t *testing.T, enc *metaEncryption, methods []ctr.Method) {
	t.Helper()
	if enc.efs == nil {
		t.Fatal("pebblefs was never opened: the custom option was not used")
	}
	for _, m := range methods {
		if m == ctr.Plaintext {
			return
		}
	}
	m := enc.efs.Manager()
	m.DataKeys() // let the removals under way settle
	files := 0
	var walk func(dir string)
	walk = func(dir string) {
		names, err := enc.last.List(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			p := enc.last.PathJoin(dir, n)
			st, err := enc.last.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.IsDir() {
				walk(p)
				continue
			}
			if (dir == enc.dir && (n == "LOCK" || dict.IsDictionaryFile(n))) || dict.IsReencryptTemp(n) {
				continue
			}
			files++
			e, ok, err := m.Lookup(p)
			if err != nil || !ok || e.Method == ctr.Plaintext {
				t.Errorf("%s: entry %+v, %v, %v: not encrypted", p, e, ok, err)
			}
		}
	}
	walk(enc.dir)
	if files == 0 {
		t.Error("no file in the store")
	}
}
