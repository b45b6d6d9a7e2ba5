//go:build linux

// Linux only: /proc tells when a SIGSTOP has taken effect, and the exact
// snapshots compare inode numbers and ctimes (syscall.Stat_t's fields
// differ between the other systems).

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/operator"
	"github.com/atrest/atrest/pebblefs"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The README promises that encctl's inspecting commands may run beside
// the engine. Before dict.WithInspection put the Manager on a read-only
// view of the file system (fsys.ReadOnly), an inspection opened the file
// dictionary as the engine does: it cut what it took for a torn tail (the
// zeros the engine's log is extended with, and any record the engine
// appended after the inspector had read the file) and removed
// "file.dict.tmp-*" files. The engine, which writes its log at offsets it
// keeps in memory, went on writing past the cut: the log got a hole or a
// half-overwritten record, and the next open, the engine's as well as
// every inspector's, found the file dictionary corrupt ("checksum
// mismatch, and data follows it"), within the first second of this test
// when the read-only view is taken away.
//
// TestInspectorsBesideEngine runs every inspecting command of encctl the
// way an operator does (the built binary, one process per command) in a
// loop beside a child process, this test binary re-executed, that writes
// and syncs without pause through a dict.Manager or through Pebble on
// pebblefs and acknowledges each step on its standard output. Then:
//
//   - with the child stopped (SIGSTOP), it runs them once more between two
//     exact snapshots of the directory (names, modes, sizes, mtimes,
//     ctimes, inodes, link counts and contents, the directories included):
//     equal snapshots mean the inspectors changed not one byte and not one
//     name, not even a temporary file made and removed again (its
//     directory's mtime would show it);
//   - it kills the child with SIGKILL and checks that the temporary files
//     planted in the directory (names the engine removes only when it
//     opens, which it did before they were planted) survived every
//     inspector, and that the lock file is the engine's, untouched;
//   - it reopens the directory as the engine and checks that every
//     acknowledged write reads back byte for byte, and that the engine's
//     open does remove the planted files (so that their survival above
//     meant something);
//   - it runs encctl verify on the recovered directory.
//
// make crash raises the number of rounds (envBesideRounds): the directory
// is kept from round to round, so each child starts from what the last
// recovery left.

const (
	envBesideChild  = "ATREST_BESIDE_CHILD"  // the engine the child runs: "manager" or "pebble"
	envBesideDir    = "ATREST_BESIDE_DIR"    // the data directory
	envBesideConfig = "ATREST_BESIDE_CONFIG" // the TOML configuration encctl reads too
	envBesideFirst  = "ATREST_BESIDE_FIRST"  // the child's first name index or batch number
	envBesideSeed   = "ATREST_BESIDE_SEED"   // the child's random choices
	envBesideRounds = "ATREST_BESIDE_ROUNDS" // rounds per row; make crash raises it
)

// besideStable is a file written before the engine starts and never
// touched by it, so that decrypt-file and export have something to read
// whose content is known at every moment.
const besideStable = "stable.bin"

// besidePlanted are temporary-file names of the dictionaries (the file
// dictionary's rewrite, the key dictionary's atomic write): the engine
// removes such files when it opens, never while it runs, and an
// inspection must leave them alone.
var besidePlanted = []string{"file.dict.tmp-beside", ".key.dict.tmp-beside"}

// besideSubdirs: the Manager child spreads its files over the data
// directory and subdirectories s1, s2, ...; renames cross them.
const besideSubdirs = 3

// besideMaxSize caps the Manager child's files; some exceed 4 KiB, the
// least verify samples to tell ciphertext.
const besideMaxSize = 48 << 10

// besidePebbleKeys is the Pebble child's key space: small, so batches keep
// overwriting and deleting acknowledged values at every level.
const besidePebbleKeys = 2000

// besideOpEvery paces the children: one operation every ~2 ms.
const besideOpEvery = 2 * time.Millisecond

// besideRoundBase separates the name indices and batch numbers of rounds:
// no child gets near a million operations in one round.
const besideRoundBase = 1_000_000

const besideAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// besideContent is the first n bytes of the content of the file created
// as seed: its name, a newline and characters of a 64-letter alphabet
// drawn from a generator seeded with the name. A longer prefix extends a
// shorter one, so appends and torn writes are checked alike, and the
// content is well below ciphertext's entropy, so verify's "looks
// encrypted" can only mean ciphertext without its entry.
func besideContent(seed string, n int) []byte {
	h := fnv.New64a()
	h.Write([]byte(seed))
	r := rand.New(rand.NewPCG(h.Sum64(), 0xbe51de))
	b := make([]byte, n)
	for i := range b {
		b[i] = besideAlphabet[r.Uint64()&63]
	}
	copy(b, seed+"\n")
	return b
}

// besideKey is Pebble key k.
func besideKey(k int) []byte { return fmt.Appendf(nil, "key-%06d", k) }

// besideValue is the value batch n gives key k: both named at its start,
// 40 to 1500 bytes in all.
func besideValue(k int, n int64) []byte {
	r := rand.New(rand.NewPCG(uint64(n), uint64(k)))
	b := fmt.Appendf(nil, "%d/%d/", k, n)
	for size := 40 + r.IntN(1460); len(b) < size; {
		b = append(b, besideAlphabet[r.Uint64()&63])
	}
	return b
}

// besideWrite is one key a Pebble batch writes (del: deletes it).
type besideWrite struct {
	k   int
	del bool
}

// besideBatch is what batch n writes: 1 to 8 distinct keys, one in eight
// deleted. The parent computes it from the number in the child's line.
func besideBatch(n int64) []besideWrite {
	r := rand.New(rand.NewPCG(uint64(n), 0xba7c4))
	seen := map[int]bool{}
	var ws []besideWrite
	for count := 1 + r.IntN(8); len(ws) < count; {
		k := r.IntN(besidePebbleKeys)
		if seen[k] {
			continue
		}
		seen[k] = true
		ws = append(ws, besideWrite{k: k, del: r.IntN(8) == 0})
	}
	return ws
}

// besideOp is one step of a child, as it says "begin OP" before it and
// "ack OP" once it returned:
//
//	create NAME SIZE         created, written in 1-3 synced pieces, closed
//	append NAME FROM SIZE    bytes FROM..SIZE written at FROM, synced
//	rename NAME TO           renamed (TO may exist: it is replaced)
//	remove NAME              removed
//	rotate                   a new current data key
//	batch N                  Pebble: batch N committed with pebble.Sync
type besideOp struct {
	kind       string
	name, to   string
	from, size int
	n          int64
}

func (o besideOp) String() string {
	switch o.kind {
	case "create":
		return fmt.Sprintf("create %s %d", o.name, o.size)
	case "append":
		return fmt.Sprintf("append %s %d %d", o.name, o.from, o.size)
	case "rename":
		return fmt.Sprintf("rename %s %s", o.name, o.to)
	case "remove":
		return "remove " + o.name
	case "batch":
		return fmt.Sprintf("batch %d", o.n)
	}
	return o.kind
}

func parseBesideOp(f []string) (besideOp, error) {
	bad := fmt.Errorf("bad operation %q", strings.Join(f, " "))
	if len(f) == 0 {
		return besideOp{}, bad
	}
	o := besideOp{kind: f[0]}
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			o.kind = ""
		}
		return n
	}
	switch {
	case o.kind == "create" && len(f) == 3:
		o.name, o.size = f[1], num(f[2])
	case o.kind == "append" && len(f) == 4:
		o.name, o.from, o.size = f[1], num(f[2]), num(f[3])
	case o.kind == "rename" && len(f) == 3:
		o.name, o.to = f[1], f[2]
	case o.kind == "remove" && len(f) == 2:
		o.name = f[1]
	case o.kind == "rotate" && len(f) == 1:
	case o.kind == "batch" && len(f) == 2:
		o.n = int64(num(f[1]))
	default:
		return besideOp{}, bad
	}
	if o.kind == "" {
		return besideOp{}, bad
	}
	return o, nil
}

// besideFile is a Manager child's file: the name it was created as (its
// content's seed) and its acknowledged size.
type besideFile struct {
	seed string
	size int
}

// besideModel is what the acknowledgements say: the Manager child's files
// or the Pebble child's keys (the batch that last set each present key).
type besideModel struct {
	files map[string]besideFile
	vals  map[int]int64
}

func newBesideModel() *besideModel {
	return &besideModel{files: map[string]besideFile{}, vals: map[int]int64{}}
}

func (m *besideModel) apply(o besideOp) {
	switch o.kind {
	case "create":
		m.files[o.name] = besideFile{seed: o.name, size: o.size}
	case "append":
		f := m.files[o.name]
		f.size = o.size
		m.files[o.name] = f
	case "rename":
		m.files[o.to] = m.files[o.name]
		delete(m.files, o.name)
	case "remove":
		delete(m.files, o.name)
	case "batch":
		for _, w := range besideBatch(o.n) {
			if w.del {
				delete(m.vals, w.k)
			} else {
				m.vals[w.k] = o.n
			}
		}
	}
}

// names are the file names an operation touches.
func (o besideOp) names() []string {
	switch o.kind {
	case "rename":
		return []string{o.name, o.to}
	case "create", "append", "remove":
		return []string{o.name}
	}
	return nil
}

// TestBesideEngineChild is the engine of TestInspectorsBesideEngine; it
// does nothing unless re-executed by it, and then runs until killed.
func TestBesideEngineChild(t *testing.T) {
	kind := os.Getenv(envBesideChild)
	if kind == "" {
		t.Skip("the engine of TestInspectorsBesideEngine, which runs it")
	}
	// Every ack the parent reads was written after its operation returned.
	say, die := crashtest.Say, crashtest.Die
	cfg, err := keyenv.LoadConfig(os.Getenv(envBesideConfig))
	if err != nil {
		die("%v", err)
	}
	// The file dictionary is compacted (rewritten through a temporary
	// file and renamed over) every few dozen dead records, so the
	// inspectors also read it while it is being replaced.
	cfg.FileDictionaryRewriteThreshold = 48
	first, _ := strconv.ParseInt(os.Getenv(envBesideFirst), 10, 64)
	seed, _ := strconv.ParseUint(os.Getenv(envBesideSeed), 10, 64)
	r := rand.New(rand.NewPCG(seed, 0xc41d))
	dir := os.Getenv(envBesideDir)
	// pace keeps one operation every besideOpEvery (or as fast as the
	// syncs allow).
	next := time.Now()
	pace := func() {
		next = next.Add(besideOpEvery)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		} else {
			next = time.Now()
		}
	}
	switch kind {
	case "manager":
		besideManagerChild(dir, cfg, first, r, say, die, pace)
	case "pebble":
		besidePebbleChild(dir, cfg, first, say, die, pace)
	default:
		die("unknown engine %q", kind)
	}
}

// besideManagerChild creates, appends to, renames and removes files
// through a dict.Manager, syncing each, and rotates the data key now and
// then. It only touches files it created: those of earlier rounds stay as
// they were, for every round's recovery to check again.
func besideManagerChild(dir string, cfg keyenv.Config, first int64, r *rand.Rand, say, die func(string, ...any), pace func()) {
	ctx := context.Background()
	m, err := dict.Open(ctx, dir, cfg)
	if err != nil {
		die("open: %v", err)
	}
	say("ready")
	model := newBesideModel()
	var alive []string
	pick := func() string { return alive[r.IntN(len(alive))] }
	idx := first
	newName := func(prefix string) string {
		idx++
		if s := idx % (besideSubdirs + 1); s > 0 {
			return fmt.Sprintf("s%d/%s%d", s, prefix, idx)
		}
		return fmt.Sprintf("%s%d", prefix, idx)
	}
	for op := 1; ; op++ {
		var o besideOp
		p := r.IntN(100)
		switch {
		case op%250 == 0:
			o = besideOp{kind: "rotate"}
		case len(alive) < 2 || p < 45 || (p < 60 && len(alive) < 100):
			o = besideOp{kind: "create", name: newName("f"), size: r.IntN(12000)}
		case p < 65:
			name := pick()
			old := model.files[name].size
			if old >= besideMaxSize {
				o = besideOp{kind: "remove", name: name}
				break
			}
			o = besideOp{kind: "append", name: name, from: old, size: min(besideMaxSize, old+1+r.IntN(4000))}
		case p < 80:
			o = besideOp{kind: "rename", name: pick()}
			if o.to = pick(); o.to == o.name || r.IntN(3) > 0 {
				o.to = newName("r")
			}
		default:
			o = besideOp{kind: "remove", name: pick()}
		}
		say("begin %s", o)
		switch o.kind {
		case "create":
			content := besideContent(o.name, o.size)
			f, err := m.Create(o.name)
			if err != nil {
				die("%s: %v", o, err)
			}
			// Up to three pieces, each synced: a log's way.
			cuts := []int{0, r.IntN(o.size + 1), r.IntN(o.size + 1), o.size}
			slices.Sort(cuts)
			for i := 1; i < len(cuts); i++ {
				if _, err := f.Write(content[cuts[i-1]:cuts[i]]); err != nil {
					die("%s: write: %v", o, err)
				}
				if err := f.Sync(); err != nil {
					die("%s: sync: %v", o, err)
				}
			}
			if err := f.Close(); err != nil {
				die("%s: close: %v", o, err)
			}
		case "append":
			content := besideContent(model.files[o.name].seed, o.size)
			f, err := m.OpenReadWrite(o.name)
			if err != nil {
				die("%s: %v", o, err)
			}
			if _, err := f.WriteAt(content[o.from:], int64(o.from)); err != nil {
				die("%s: write: %v", o, err)
			}
			if err := f.Sync(); err != nil {
				die("%s: sync: %v", o, err)
			}
			if err := f.Close(); err != nil {
				die("%s: close: %v", o, err)
			}
		case "rename":
			if err := m.Rename(o.name, o.to); err != nil {
				die("%s: %v", o, err)
			}
		case "remove":
			if err := m.Remove(o.name); err != nil {
				die("%s: %v", o, err)
			}
		case "rotate":
			if err := m.RotateDataKey(ctx); err != nil {
				die("%s: %v", o, err)
			}
		}
		_, existed := model.files[o.to]
		model.apply(o)
		switch o.kind {
		case "create":
			alive = append(alive, o.name)
		case "rename":
			alive = slices.DeleteFunc(alive, func(n string) bool { return n == o.name })
			if !existed {
				alive = append(alive, o.to)
			}
		case "remove":
			alive = slices.DeleteFunc(alive, func(n string) bool { return n == o.name })
		}
		say("ack %s", o)
		pace()
	}
}

// besidePebbleChild commits batches with pebble.Sync on Pebble over
// pebblefs, with small memtables and levels so that flushes and
// compactions keep creating, renaming and removing files, and rotates the
// data key now and then.
func besidePebbleChild(dir string, cfg keyenv.Config, first int64, say, die func(string, ...any), pace func()) {
	ctx := context.Background()
	efs, err := pebblefs.Open(ctx, dir, cfg, nil)
	if err != nil {
		die("open pebblefs: %v", err)
	}
	db, err := pebble.Open(dir, besidePebbleOptions(efs, false, func(msg string) { die("%s", msg) }))
	if err != nil {
		die("open pebble: %v", err)
	}
	say("ready")
	for n := first + 1; ; n++ {
		if (n-first)%400 == 0 {
			say("begin rotate")
			if err := efs.Manager().RotateDataKey(ctx); err != nil {
				die("rotate: %v", err)
			}
			say("ack rotate")
		}
		o := besideOp{kind: "batch", n: n}
		say("begin %s", o)
		b := db.NewBatch()
		for _, w := range besideBatch(n) {
			if w.del {
				err = b.Delete(besideKey(w.k), nil)
			} else {
				err = b.Set(besideKey(w.k), besideValue(w.k, n), nil)
			}
			if err != nil {
				die("%s: %v", o, err)
			}
		}
		if err := b.Commit(pebble.Sync); err != nil {
			die("%s: commit: %v", o, err)
		}
		b.Close()
		say("ack %s", o)
		pace()
	}
}

// besidePebbleOptions are the child's and the recovery's: 64 KiB
// memtables, two L0 files to a compaction, a 256 KiB base level and a
// small MANIFEST, so flushes, compactions and MANIFEST rotations happen
// every few hundred batches. Every error Pebble reports goes to report.
func besidePebbleOptions(efs vfs.FS, mustExist bool, report func(string)) *pebble.Options {
	o := &pebble.Options{
		FS:                    efs,
		MemTableSize:          64 << 10,
		L0CompactionThreshold: 2,
		LBaseMaxBytes:         256 << 10,
		MaxManifestFileSize:   64 << 10,
		ErrorIfNotExists:      mustExist,
		Logger:                crashtest.PebbleLogger{Report: report},
	}
	o.EventListener = &pebble.EventListener{
		BackgroundError: func(err error) {
			// Close cancels running compactions; that is no failure.
			if !errors.Is(err, pebble.ErrCancelledCompaction) {
				report(fmt.Sprintf("background error: %v", err))
			}
		},
		DataCorruption: func(info pebble.DataCorruptionInfo) { report(fmt.Sprintf("data corruption: %s", info)) },
	}
	return o
}

// besideRow is one engine and method.
type besideRow struct {
	name   string
	engine string // "manager" or "pebble"
	method string
}

// besideDir is one row's data directory and what the test knows of it.
type besideDir struct {
	t                       *testing.T
	row                     besideRow
	dir, out, tmp           string
	keyFile, config         string
	cfg                     keyenv.Config
	stable                  []byte
	model                   *besideModel
	runs                    map[string]int // inspector runs by command
	codes                   map[string]int // "command exit N" counts
	verifyFindings          map[string]int // verify's problems beside the writing engine, by kind
	outputs                 int            // names for decrypt-file's and export's outputs
	acked, kills, inspected int
}

// TestInspectorsBesideEngine: see the comment at the top of the file.
func TestInspectorsBesideEngine(t *testing.T) {
	if os.Getenv(envBesideChild) != "" {
		t.Skip("inside the child")
	}
	rounds := crashtest.Count(t, envBesideRounds, 1, 1)
	// How long the inspectors run beside the writing engine in a round:
	// with three rows, about 12 s in all (and the build of encctl).
	stress := 3 * time.Second
	if testing.Short() {
		stress = 1500 * time.Millisecond
	}
	encctlBin(t) // built before the clock starts
	for _, row := range []besideRow{
		{"manager-aes128-ctr", "manager", "aes128-ctr"},
		{"manager-sm4-ctr", "manager", "sm4-ctr"},
		{"pebble-aes128-ctr", "pebble", "aes128-ctr"},
	} {
		t.Run(row.name, func(t *testing.T) {
			d := newBesideDir(t, row)
			d.quietCheck()
			for round := range rounds {
				d.round(round, stress)
			}
			t.Logf("%d kills: %d operations acknowledged and checked after them; %d inspector runs beside the writing engine %v; exit codes %v; verify's findings beside it %v",
				d.kills, d.acked, d.inspected, d.runs, d.codes, d.verifyFindings)
		})
	}
}

// newBesideDir makes the data directory, its key and configuration, and
// the stable file, written through a Manager as the engine would.
func newBesideDir(t *testing.T, row besideRow) *besideDir {
	root := t.TempDir()
	d := &besideDir{
		t: t, row: row,
		dir: filepath.Join(root, "data"), out: filepath.Join(root, "out"), tmp: filepath.Join(root, "tmp"),
		keyFile: filepath.Join(root, "master.key"), config: filepath.Join(root, "config.toml"),
		model: newBesideModel(), runs: map[string]int{}, codes: map[string]int{}, verifyFindings: map[string]int{},
	}
	for _, p := range []string{d.dir, d.out, d.tmp} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if row.engine == "manager" {
		for s := 1; s <= besideSubdirs; s++ {
			if err := os.Mkdir(filepath.Join(d.dir, fmt.Sprintf("s%d", s)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeKeyFile(t, d.keyFile)
	d.cfg = writeConfig(t, d.config, row.method, d.keyFile, "")
	d.stable = besideContent(besideStable, 6000)
	m, err := dict.Open(context.Background(), d.dir, d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeThrough(t, m, besideStable, d.stable)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return d
}

// commands are every inspecting command of encctl (main.go lists them):
// dump-file (all, as JSON, one path), dump-key, verify, decrypt-file and
// export, the last two on the stable file into fresh outputs outside the
// data directory.
func (d *besideDir) commands() [][]string {
	d.outputs++
	out := filepath.Join(d.out, strconv.Itoa(d.outputs))
	return [][]string{
		{"dump-file"},
		{"dump-file", "--json"},
		{"dump-file", "--path", besideStable},
		{"dump-key", "--i-consent", "--json"},
		{"verify"},
		{"decrypt-file", "--file", besideStable, "--out", out + ".dec"},
		{"export", "--out", out + ".atex", "--transfer-key-file", out + ".key", besideStable},
	}
}

// inspect runs one inspecting command and checks what it did: exit 0,
// except verify's exit 1 for the problems allowed; never a word of
// corruption, never a crash; decrypt-file's copy is the stable file's
// content and export wrote its document. It reports at most one error
// per run, and returns the result and whether it was good.
func (d *besideDir) inspect(phase string, allowed []string, args []string) (result, bool) {
	t := d.t
	t.Helper()
	r := encctl(t, nil, "", append([]string{"--config", d.config, "--data-dir", d.dir}, args...)...)
	var bad []string
	all := r.stdout + r.stderr
	if strings.Contains(strings.ToLower(all), "corrupt") {
		bad = append(bad, "reports corruption")
	}
	if strings.Contains(all, "panic:") || strings.Contains(all, "goroutine ") {
		bad = append(bad, "crashed")
	}
	switch {
	case r.code == 0:
	case args[0] == "verify" && r.code == exitFailure:
		for _, kind := range verifyProblems(r) {
			if !slices.Contains(allowed, kind) {
				bad = append(bad, fmt.Sprintf("finds %q, not allowed %s", kind, phase))
			}
		}
	default:
		bad = append(bad, "failed")
	}
	if r.code == 0 {
		switch args[0] {
		case "decrypt-file":
			out := args[len(args)-1]
			if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, d.stable) {
				bad = append(bad, fmt.Sprintf("made a copy that is not the stable file's content (%d bytes, %v)", len(b), err))
			}
			os.Remove(out)
		case "export":
			doc, key := args[2], args[4]
			if st, err := os.Stat(doc); err != nil || st.Size() == 0 {
				bad = append(bad, fmt.Sprintf("wrote no export document (%v)", err))
			}
			if _, err := os.Stat(key); err != nil {
				bad = append(bad, fmt.Sprintf("wrote no transfer key (%v)", err))
			}
			os.Remove(doc)
			os.Remove(key)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: encctl %s %s: %v", phase, strings.Join(args, " "), strings.Join(bad, ", "), r)
	}
	return r, len(bad) == 0
}

// The kinds of problem verify's one error line names.
const (
	problemMissingFiles = "entries without their file"
	problemMissingKeys  = "files without their data key"
	problemLooksEnc     = "unrecorded files that look encrypted"
)

// verifyProblems returns the kinds of problem verify's error line names;
// a line of another form is returned whole, so that it is not allowed.
func verifyProblems(r result) []string {
	line := strings.TrimSuffix(r.stderr, "\n")
	rest, ok := strings.CutPrefix(line, "encctl: verify: problems found: ")
	if !ok || strings.Contains(line, "\n") {
		return []string{line}
	}
	var kinds []string
	for p := range strings.SplitSeq(rest, ", ") {
		switch {
		case strings.HasSuffix(p, " without their file"):
			kinds = append(kinds, problemMissingFiles)
		case strings.HasSuffix(p, " without their data key"):
			kinds = append(kinds, problemMissingKeys)
		case strings.HasSuffix(p, " that look encrypted"):
			kinds = append(kinds, problemLooksEnc)
		default:
			kinds = append(kinds, p)
		}
	}
	return kinds
}

// quietCheck runs every inspector once on the directory as prepared, with
// no engine, after removing the lock file: they must all succeed (verify
// finding nothing), change nothing, and leave the lock file uncreated.
func (d *besideDir) quietCheck() {
	t := d.t
	lock := filepath.Join(d.dir, dict.LockName)
	if err := os.Remove(lock); err != nil {
		t.Fatalf("the preparing Manager left no lock file: %v", err)
	}
	before := besideSnapshot(t, d.dir)
	for _, args := range d.commands() {
		d.inspect("with no engine", nil, args)
	}
	besideCompare(t, "inspectors with no engine", before, besideSnapshot(t, d.dir))
	if _, err := os.Lstat(lock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the inspectors created %s (%v)", dict.LockName, err)
	}
}

// besideChild is a running child and what its lines said.
type besideChild struct {
	proc  *crashtest.Child
	ready chan struct{}
	eof   chan struct{}

	mu       sync.Mutex
	model    *besideModel // shared with the besideDir: acks apply to it
	inFlight *besideOp
	acks     int
	failure  string // a bad line, or the child's error
}

// line handles one line of the child's output.
func (c *besideChild) line(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := strings.Fields(s)
	if len(f) == 0 {
		return
	}
	switch f[0] {
	case "ready":
		close(c.ready)
	case "begin":
		o, err := parseBesideOp(f[1:])
		if err != nil || c.inFlight != nil {
			c.fail(fmt.Sprintf("line %q: %v (in flight: %v)", s, err, c.inFlight))
			return
		}
		c.inFlight = &o
	case "ack":
		o, err := parseBesideOp(f[1:])
		if err != nil || c.inFlight == nil || o != *c.inFlight {
			c.fail(fmt.Sprintf("acknowledgement %q of no operation in flight (%v, %v)", s, c.inFlight, err))
			return
		}
		c.model.apply(o)
		c.inFlight = nil
		c.acks++
	case "error":
		c.fail(s)
	}
}

func (c *besideChild) fail(msg string) {
	if c.failure == "" {
		c.failure = msg
	}
}

// state returns the acks so far, the failure if any and the last lines.
func (c *besideChild) state() (acks int, failure, last string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acks, c.failure, c.proc.Last()
}

// round starts a child, runs the inspectors beside it for stress, stops
// it and runs them between two exact snapshots, kills it, and checks the
// directory as the engine's next start finds it.
func (d *besideDir) round(round int, stress time.Duration) {
	t := d.t
	c := &besideChild{ready: make(chan struct{}), eof: make(chan struct{}), model: d.model}
	c.proc = crashtest.Start(t, "TestBesideEngineChild", []string{
		envBesideChild + "=" + d.row.engine, envBesideDir + "=" + d.dir, envBesideConfig + "=" + d.config,
		envBesideFirst + "=" + strconv.Itoa(round*besideRoundBase), envBesideSeed + "=" + strconv.FormatUint(rand.Uint64(), 10),
		// The child's TestMain makes a temporary directory it cannot
		// remove when killed: in here, t.TempDir's cleanup does.
		"TMPDIR=" + d.tmp,
	}, "-test.timeout=10m")
	var waited atomic.Bool
	wait := func() (killed bool, err error) {
		<-c.eof
		waited.Store(true)
		return c.proc.Wait()
	}
	// Whatever happens, the child does not outlive the round, nor hang it.
	c.proc.Watchdog(3 * time.Minute)
	defer func() {
		if !waited.Load() {
			c.proc.Kill()
			wait()
		}
	}()
	go func() {
		for line := range c.proc.Lines() {
			c.line(line)
		}
		close(c.eof)
	}()
	fatal := func(format string, args ...any) {
		t.Helper()
		if !waited.Load() {
			c.proc.Kill()
			wait()
		}
		_, failure, last := c.state()
		t.Fatalf("round %d: %s\nthe child's failure: %s\nits last lines:\n%s\nits standard error:\n%s",
			round, fmt.Sprintf(format, args...), failure, last, c.proc.Stderr())
	}
	select {
	case <-c.ready:
	case <-c.eof:
		fatal("the child ended before it opened the directory")
	case <-time.After(time.Minute):
		fatal("the child did not open the directory in a minute")
	}

	// Planted now, after the engine's open removed the temporaries there
	// were: it would not remove these before its next open.
	planted := map[string]besideFacts{}
	for _, name := range besidePlanted {
		p := filepath.Join(d.dir, name)
		if err := os.WriteFile(p, []byte("planted by TestInspectorsBesideEngine: only the engine's next open may remove this\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		planted[name] = besideStat(t, p, true)
	}
	lock := besideStat(t, filepath.Join(d.dir, dict.LockName), false)

	// (b) The stress: the inspectors in a loop while the engine writes.
	// Beside it, verify may find what a moment of its writing looks like
	// from outside: an entry whose file is not created yet or whose
	// removal is not written yet; a file whose entry was recorded after
	// verify read the file dictionary, sampled as ciphertext; an entry
	// naming a data key the engine made after verify read the key
	// dictionary. Every other command must succeed.
	allowed := []string{problemMissingFiles, problemLooksEnc, problemMissingKeys}
	acks0, _, _ := c.state()
	stressFailed, childEnded := false, false
	// For stress, and on until the engine acknowledged enough beside them
	// (a loaded machine slows it; a minute at the most).
	tooFew := func() bool { acks, _, _ := c.state(); return acks-acks0 < 20 }
	for deadline := time.Now().Add(stress); (time.Now().Before(deadline) || (tooFew() && time.Now().Before(deadline.Add(time.Minute)))) && !stressFailed && !childEnded; {
		for _, args := range d.commands() {
			r, ok := d.inspect("beside the writing engine", allowed, args)
			stressFailed = stressFailed || !ok
			d.inspected++
			d.runs[args[0]]++
			d.codes[fmt.Sprintf("%s:%d", args[0], r.code)]++
			if args[0] == "verify" && r.code != 0 {
				for _, k := range verifyProblems(r) {
					d.verifyFindings[k]++
				}
			}
		}
		select {
		case <-c.eof:
			childEnded = true
		default:
		}
	}
	// An inspector that failed, or a child that died, does not end the
	// round here: what the inspectors did to the engine's directory is
	// what the checks below are for.
	var dumped result
	var before map[string]besideFacts
	decrypted := map[string]result{}
	if childEnded {
		wait()
		t.Errorf("round %d: the child ended while the inspectors ran", round)
	} else {
		if acks1, failure, _ := c.state(); failure == "" && !stressFailed && acks1-acks0 < 20 {
			fatal("the engine acknowledged only %d operations while the inspectors ran: they ran beside no writing", acks1-acks0)
		}

		// (a) Exact: the child stopped, the inspectors once more between
		// two snapshots of the directory.
		if err := c.proc.Signal(syscall.SIGSTOP); err != nil {
			fatal("SIGSTOP: %v", err)
		}
		besideWaitStopped(t, c.proc.Pid())
		c.mu.Lock()
		var sample []string // files to decrypt, as known so far
		for name := range d.model.files {
			if c.inFlight == nil || !slices.Contains(c.inFlight.names(), name) {
				sample = append(sample, name)
			}
		}
		c.mu.Unlock()
		rand.Shuffle(len(sample), func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
		sample = sample[:min(4, len(sample))]
		// While the engine is stopped its dictionaries hold still:
		// verify may find entries whose file is not created yet or
		// already removed, not more.
		stoppedAllowed := []string{problemMissingFiles}
		before = besideSnapshot(t, d.dir)
		for _, args := range d.commands() {
			r, _ := d.inspect("beside the stopped engine", stoppedAllowed, args)
			if args[0] == "dump-file" && len(args) == 2 {
				dumped = r
			}
		}
		for i, name := range sample {
			out := filepath.Join(d.out, fmt.Sprintf("sample-%d-%d", round, i))
			r := encctl(t, nil, "", "--config", d.config, "--data-dir", d.dir, "decrypt-file", "--file", name, "--out", out)
			if b, err := os.ReadFile(out); err == nil {
				r.stdout = string(b) // the copy, for the check below
				os.Remove(out)
			}
			decrypted[name] = r
		}
		besideCompare(t, fmt.Sprintf("round %d: inspectors beside the stopped engine", round), before, besideSnapshot(t, d.dir))

		// SIGKILL, and every line the child wrote before it stopped.
		if err := c.proc.Signal(syscall.SIGKILL); err != nil {
			fatal("SIGKILL: %v", err)
		}
		if killed, err := wait(); !killed {
			t.Errorf("round %d: the child ended otherwise than by SIGKILL: %v", round, err)
		}
	}
	acks, failure, last := c.state()
	if failure != "" {
		t.Errorf("round %d: the child failed: %s\nits last lines:\n%s\nits standard error:\n%s", round, failure, last, c.proc.Stderr())
	}
	d.acked += acks
	d.kills++
	inFlight := c.inFlight // the child is gone: no more lines

	if !childEnded {
		// What the stopped engine's acknowledgements say the inspectors
		// saw: an entry for every file on disk (an entry is durable
		// before its file exists) and every acknowledged file, under the
		// row's method; and the sampled files' content.
		d.checkDumped(round, dumped, before, inFlight)
		for name, r := range decrypted {
			f, ok := d.model.files[name]
			if !ok || (inFlight != nil && slices.Contains(inFlight.names(), name)) {
				continue // changed by an operation acknowledged after the sample was taken
			}
			if want := besideContent(f.seed, f.size); r.code != 0 || r.stdout != string(want) {
				t.Errorf("round %d: decrypt-file of %s beside the stopped engine: want its %d acknowledged bytes; exit %d, %d bytes, stderr %q",
					round, name, f.size, r.code, len(r.stdout), r.stderr)
			}
		}
	}

	// The inspectors left the engine's lock file and the planted
	// temporary files as they were.
	if got := besideStat(t, filepath.Join(d.dir, dict.LockName), false); got != lock {
		t.Errorf("round %d: %s changed under the engine: %+v, was %+v", round, dict.LockName, got, lock)
	}
	for name, was := range planted {
		if got := besideStat(t, filepath.Join(d.dir, name), false); got != was {
			t.Errorf("round %d: the planted temporary file %s was removed or changed while the inspectors ran beside the engine: %+v, was %+v", round, name, got, was)
		}
	}

	// The engine's next start.
	if d.row.engine == "manager" {
		d.recoverManager(round, inFlight)
	} else {
		d.recoverPebble(round, inFlight)
	}
	for name := range planted {
		if _, err := os.Lstat(filepath.Join(d.dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("round %d: the engine's open left the planted %s (%v): its survival beside the engine proved nothing", round, name, err)
		}
	}

	// verify on the recovered directory: entries whose file went with the
	// kill (a removal whose entry was not written yet) may remain; no
	// entry may name a missing key, no encrypted file may lack its entry.
	r, _ := d.inspect(fmt.Sprintf("round %d: after recovery", round), []string{problemMissingFiles}, []string{"verify", "--json"})
	var v struct {
		OK           bool     `json:"ok"`
		Entries      int      `json:"entries"`
		MissingFiles []string `json:"missing_files"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Errorf("round %d: verify --json after recovery: %v\n%v", round, err, r)
	}
	t.Logf("round %d: %d operations acknowledged before SIGKILL, in flight: %v; verify after recovery: exit %d, ok %v, %d entries, %d without their file",
		round, acks, inFlight, r.code, v.OK, v.Entries, len(v.MissingFiles))
}

// checkDumped checks dump-file --json as run beside the stopped engine
// against the snapshot taken then and the acknowledgements.
func (d *besideDir) checkDumped(round int, r result, snap map[string]besideFacts, inFlight *besideOp) {
	t := d.t
	var rows []dumpedFile
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Errorf("round %d: dump-file --json beside the stopped engine: %v\n%v", round, err, r)
		return
	}
	entries := map[string]bool{}
	for _, row := range rows {
		entries[row.Path] = true
		if !row.Recorded || row.Method != d.row.method {
			t.Errorf("round %d: dump-file beside the stopped engine: %+v, want an entry with method %s", round, row, d.row.method)
		}
	}
	for name, f := range snap {
		if !f.mode.IsRegular() || name == "LOCK" || dict.IsDictionaryFile(name) {
			continue // Pebble's lock file is not encrypted: it holds no data
		}
		if !entries[name] {
			t.Errorf("round %d: dump-file beside the stopped engine lists no entry for %s, on disk", round, name)
		}
	}
	for name := range d.model.files {
		if !entries[name] && (inFlight == nil || !slices.Contains(inFlight.names(), name)) {
			t.Errorf("round %d: dump-file beside the stopped engine lists no entry for the acknowledged %s", round, name)
		}
	}
}

// recoverManager opens the directory as the engine does after the kill and
// checks every acknowledged file byte for byte; the operation in flight
// may have happened or not (a create or append in part), and the model
// takes what the disk shows. No other file may be there.
func (d *besideDir) recoverManager(round int, inFlight *besideOp) {
	t := d.t
	m, err := dict.Open(context.Background(), d.dir, d.cfg)
	if err != nil {
		t.Fatalf("round %d: the engine's open after SIGKILL: %v", round, err)
	}
	defer m.Close()
	read := func(name string) ([]byte, bool) {
		f, err := m.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false
		}
		if err != nil {
			t.Fatalf("round %d: open %s: %v", round, name, err)
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			t.Fatalf("round %d: read %s: %v", round, name, err)
		}
		return b, true
	}
	describe := func(b []byte, ok bool) string {
		if !ok {
			return "absent"
		}
		head, _, _ := bytes.Cut(b[:min(len(b), 40)], []byte("\n"))
		return fmt.Sprintf("%d bytes starting %q", len(b), head)
	}
	want := func(f besideFile) []byte { return besideContent(f.seed, f.size) }
	var skip []string
	if inFlight != nil {
		skip = inFlight.names()
	}
	lost := 0
	for name, f := range d.model.files {
		if slices.Contains(skip, name) {
			continue
		}
		if b, ok := read(name); !ok || !bytes.Equal(b, want(f)) {
			if lost++; lost <= 10 {
				t.Errorf("round %d: acknowledged %s (%d bytes of %s) reads back as %s", round, name, f.size, f.seed, describe(b, ok))
			}
		}
	}
	if lost > 10 {
		t.Errorf("round %d: %d of %d acknowledged files do not read back as written", round, lost, len(d.model.files))
	}
	if got, ok := read(besideStable); !ok || !bytes.Equal(got, d.stable) {
		t.Errorf("round %d: %s reads back as %s", round, besideStable, describe(got, ok))
	}
	// The operation in flight: all or nothing (a rename, a removal), or
	// any prefix of what it was writing (a create, an append).
	if o := inFlight; o != nil {
		prefix := func(name, seed string, from, to int) {
			b, ok := read(name)
			if !ok || len(b) < from || len(b) > to || !bytes.Equal(b, besideContent(seed, len(b))) {
				t.Errorf("round %d: %s in flight: %s reads back as %s, want %d to %d bytes of %s", round, o, name, describe(b, ok), from, to, seed)
				return
			}
			d.model.files[name] = besideFile{seed: seed, size: len(b)}
		}
		switch o.kind {
		case "create":
			if _, ok := read(o.name); ok {
				prefix(o.name, o.name, 0, o.size)
			}
		case "append":
			prefix(o.name, d.model.files[o.name].seed, o.from, o.size)
		case "remove":
			b, ok := read(o.name)
			switch {
			case !ok:
				delete(d.model.files, o.name)
			case !bytes.Equal(b, want(d.model.files[o.name])):
				t.Errorf("round %d: %s in flight: the file reads back as %s", round, o, describe(b, ok))
			}
		case "rename":
			src := d.model.files[o.name]
			dst, hadDst := d.model.files[o.to]
			bs, srcOK := read(o.name)
			bd, dstOK := read(o.to)
			switch {
			case srcOK && bytes.Equal(bs, want(src)) && (hadDst && dstOK && bytes.Equal(bd, want(dst)) || !hadDst && !dstOK):
				// not renamed
			case !srcOK && dstOK && bytes.Equal(bd, want(src)):
				d.model.apply(*o)
			default:
				t.Errorf("round %d: %s in flight: the source reads back as %s, the target as %s", round, o, describe(bs, srcOK), describe(bd, dstOK))
			}
		}
	}
	// Nothing else: a file of the child's that the acknowledgements do not
	// account for was lost from them or left by a step that failed.
	err = filepath.WalkDir(d.dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(d.dir, path)
		rel = filepath.ToSlash(rel)
		if _, ok := d.model.files[rel]; !ok && rel != besideStable && !dict.IsDictionaryFile(rel) {
			t.Errorf("round %d: %s is on disk but in no acknowledgement (in flight: %v)", round, rel, inFlight)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("round %d: close: %v", round, err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// recoverPebble reopens Pebble on pebblefs as the engine does after the
// kill and checks every key: its acknowledged value, or absent; the
// batch in flight has landed whole or not at all, and the model takes
// what the disk shows.
func (d *besideDir) recoverPebble(round int, inFlight *besideOp) {
	t := d.t
	var mu sync.Mutex
	var reported []string
	report := func(msg string) {
		mu.Lock()
		reported = append(reported, msg)
		mu.Unlock()
	}
	efs, err := pebblefs.Open(context.Background(), d.dir, d.cfg, nil)
	if err != nil {
		t.Fatalf("round %d: the engine's open after SIGKILL: %v", round, err)
	}
	defer efs.Close()
	db, err := pebble.Open(d.dir, besidePebbleOptions(efs, true, report))
	if err != nil {
		t.Fatalf("round %d: reopen Pebble after SIGKILL: %v", round, err)
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	seen := map[int][]byte{}
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	for valid := it.First(); valid; valid = it.Next() {
		k, err := strconv.Atoi(strings.TrimPrefix(string(it.Key()), "key-"))
		if err != nil || !bytes.Equal(it.Key(), besideKey(k)) || k >= besidePebbleKeys {
			t.Errorf("round %d: stray key %q", round, it.Key())
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			t.Errorf("round %d: value of key %d: %v", round, k, err)
			continue
		}
		seen[k] = bytes.Clone(v)
	}
	if err := it.Close(); err != nil {
		t.Errorf("round %d: iterator: %v", round, err)
	}
	// The in-flight batch's keys, with what it would have made of them.
	var batch map[int]besideWrite
	if inFlight != nil && inFlight.kind == "batch" {
		batch = map[int]besideWrite{}
		for _, w := range besideBatch(inFlight.n) {
			batch[w.k] = w
		}
	}
	is := func(k int, n int64, present bool) bool {
		v, ok := seen[k]
		if !present {
			return !ok
		}
		return ok && bytes.Equal(v, besideValue(k, n))
	}
	landed, notLanded := 0, 0
	for k := range besidePebbleKeys {
		n, present := d.model.vals[k]
		old := is(k, n, present)
		if w, ok := batch[k]; ok {
			neu := is(k, inFlight.n, !w.del)
			switch {
			case old && neu: // the batch changes nothing here
			case old:
				notLanded++
			case neu:
				landed++
			default:
				t.Errorf("round %d: key %d (in flight in %s) reads %d bytes, present %v; acknowledged: batch %d, present %v", round, k, inFlight, len(seen[k]), seen[k] != nil, n, present)
			}
			continue
		}
		if !old {
			v, ok := seen[k]
			head := v[:min(len(v), 24)]
			t.Errorf("round %d: key %d reads %q (present %v); acknowledged: batch %d, present %v", round, k, head, ok, n, present)
		}
	}
	if landed > 0 && notLanded > 0 {
		t.Errorf("round %d: %s in flight landed in part: %d keys did, %d did not", round, inFlight, landed, notLanded)
	}
	if landed > 0 {
		d.model.apply(*inFlight)
	}
	err = db.Close()
	db = nil
	if err != nil {
		t.Errorf("round %d: close Pebble: %v", round, err)
	}
	mu.Lock()
	if len(reported) > 0 {
		t.Errorf("round %d: Pebble reported, reopening and reading:\n%s", round, strings.Join(reported, "\n"))
	}
	mu.Unlock()
	if err := efs.Close(); err != nil {
		t.Errorf("round %d: close pebblefs: %v", round, err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// besideFacts are what an exact snapshot records of one file or
// directory: any change to its bytes, its name, its metadata or (for a
// directory) its entries shows in them.
type besideFacts struct {
	mode         fs.FileMode
	size         int64
	mtime, ctime int64
	ino, nlink   uint64
	sum          [32]byte
}

// besideStat describes path; a missing one is the zero value unless
// mustExist.
func besideStat(t *testing.T, path string, mustExist bool) besideFacts {
	t.Helper()
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) && !mustExist {
		return besideFacts{}
	}
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	f := besideFacts{
		mode: info.Mode(), size: info.Size(), mtime: info.ModTime().UnixNano(),
		ctime: time.Unix(st.Ctim.Unix()).UnixNano(), ino: st.Ino, nlink: uint64(st.Nlink),
	}
	if info.Mode().IsRegular() {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f.sum = sha256.Sum256(b)
	}
	return f
}

// besideSnapshot describes every file and directory under root, root
// included, by its path relative to root (with forward slashes). Only
// meaningful while nothing writes there.
func besideSnapshot(t *testing.T, root string) map[string]besideFacts {
	t.Helper()
	s := map[string]besideFacts{}
	err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		s[filepath.ToSlash(rel)] = besideStat(t, path, true)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// besideCompare reports every difference between two snapshots.
func besideCompare(t *testing.T, what string, before, after map[string]besideFacts) {
	t.Helper()
	var diffs []string
	for name, a := range after {
		if b, ok := before[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s appeared", name))
		} else if a != b {
			diffs = append(diffs, fmt.Sprintf("%s changed: %+v, was %+v", name, a, b))
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s disappeared", name))
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		t.Errorf("%s changed the directory:\n%s", what, strings.Join(diffs, "\n"))
	}
}

// besideWaitStopped returns once every thread of process pid is stopped
// (state T in /proc), so that nothing the engine does can land in a
// snapshot.
func besideWaitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			t.Fatal(err)
		}
		stopped := len(tasks) > 0
		for _, task := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
			if errors.Is(err, fs.ErrNotExist) {
				continue // a thread that ended
			}
			if err != nil {
				t.Fatal(err)
			}
			// "pid (comm) state ...": comm may hold anything but ends at
			// the last parenthesis.
			i := bytes.LastIndexByte(b, ')')
			if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not stop in 10 s", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestInspectionBesideManager is the in-process counterpart, under the
// race detector when it runs: inspections (dict.Open WithInspection, as
// encctl's read-only commands open) in two goroutines, over and over,
// while the engine's Manager in this process writes. Every inspection must
// open, list, verify and read the stable file, and every change asked of
// it must fail with fsys.ErrReadOnly and leave the disk alone. With the
// writer paused, one more inspection between two exact snapshots must
// change nothing. After the engine closes, the planted temporary files and
// the lock file are as they were, and the directory reopens with every
// file the writer finished reading back.
func TestInspectionBesideManager(t *testing.T) {
	dur := time.Second
	if testing.Short() {
		dur = 400 * time.Millisecond
	}
	stable := besideContent(besideStable, 6000)
	d := newDataDir(t, "aes128-ctr", map[string][]byte{besideStable: stable})
	cfg := d.cfg
	cfg.FileDictionaryRewriteThreshold = 32 // compactions under the inspectors
	ctx := context.Background()
	engine, err := dict.Open(ctx, d.dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	planted := map[string]besideFacts{}
	for _, name := range besidePlanted {
		p := filepath.Join(d.dir, name)
		if err := os.WriteFile(p, []byte("planted"), 0o600); err != nil {
			t.Fatal(err)
		}
		planted[name] = besideStat(t, p, true)
	}
	lock := besideStat(t, filepath.Join(d.dir, dict.LockName), true)

	// inspectOnce is one inspection; it returns what went wrong.
	inspectOnce := func() []string {
		var bad []string
		m, err := dict.Open(ctx, d.dir, d.cfg, dict.WithInspection(), dict.WithExistingDictionaries())
		if err != nil {
			return []string{fmt.Sprintf("open: %v", err)}
		}
		defer m.Close()
		for name, e := range m.Maintenance().Entries() {
			if e.Method != ctr.AES128CTR {
				bad = append(bad, fmt.Sprintf("entry %s: method %s", name, e.Method))
			}
		}
		if _, err := operator.Verify(ctx, m); err != nil {
			bad = append(bad, fmt.Sprintf("verify: %v", err))
		}
		if f, err := m.Open(besideStable); err != nil {
			bad = append(bad, fmt.Sprintf("open %s: %v", besideStable, err))
		} else {
			b, err := io.ReadAll(f)
			f.Close()
			if err != nil || !bytes.Equal(b, stable) {
				bad = append(bad, fmt.Sprintf("read %s: %d bytes, %v", besideStable, len(b), err))
			}
		}
		for what, err := range map[string]error{
			"create": func() error {
				f, err := m.Create("inspector-was-here")
				if err == nil {
					f.Close()
				}
				return err
			}(),
			"remove":          m.Remove(besideStable),
			"rename":          m.Rename(besideStable, "renamed-by-inspector"),
			"rotate data key": m.RotateDataKey(ctx),
		} {
			if !errors.Is(err, fsys.ErrReadOnly) {
				bad = append(bad, fmt.Sprintf("%s through the inspection: %v, want fsys.ErrReadOnly", what, err))
			}
		}
		return bad
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	inspections := 0
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				bad := inspectOnce()
				mu.Lock()
				inspections++
				problems = append(problems, bad...)
				mu.Unlock()
			}
		})
	}
	// The writer: the Manager child's operations, done here; the model
	// holds what returned.
	model := newBesideModel()
	var writeErr error
	var ops atomic.Int64
	var writerDone atomic.Bool
	wg.Go(func() {
		defer writerDone.Store(true)
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		var alive []string
		for i := 0; !stop.Load(); i++ {
			var o besideOp
			switch p := r.IntN(10); {
			case len(alive) < 2 || p < 6:
				o = besideOp{kind: "create", name: fmt.Sprintf("f%d", i), size: r.IntN(10000)}
				f, err := engine.Create(o.name)
				if err == nil {
					_, err = f.Write(besideContent(o.name, o.size))
					if err == nil {
						err = f.Sync()
					}
					if cerr := f.Close(); err == nil {
						err = cerr
					}
				}
				writeErr = err
				alive = append(alive, o.name)
			case p < 8:
				j := r.IntN(len(alive))
				o = besideOp{kind: "rename", name: alive[j], to: fmt.Sprintf("r%d", i)}
				writeErr = engine.Rename(o.name, o.to)
				alive[j] = o.to
			default:
				j := r.IntN(len(alive))
				o = besideOp{kind: "remove", name: alive[j]}
				writeErr = engine.Remove(o.name)
				alive = slices.Delete(alive, j, j+1)
			}
			if writeErr != nil {
				writeErr = fmt.Errorf("%s: %w", o, writeErr)
				return
			}
			model.apply(o)
			ops.Add(1)
		}
	})
	// For dur, and on until both sides did enough to tell something: a
	// loaded machine or the race detector may need longer (never more
	// than a minute).
	start := time.Now()
	for {
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		n := inspections
		mu.Unlock()
		enough := n >= 4 && ops.Load() >= 20
		if (enough && time.Since(start) >= dur) || writerDone.Load() || time.Since(start) > time.Minute {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	// A failure here does not end the test: what the inspections did to
	// the engine's directory is what the checks below are for.
	if writeErr != nil {
		t.Errorf("the engine beside the inspections: %v", writeErr)
	}
	if len(problems) > 0 {
		t.Errorf("%d inspections beside the engine (%d operations); %d problems, the first:\n%s", inspections, ops.Load(), len(problems), strings.Join(problems[:min(10, len(problems))], "\n"))
	}
	if !t.Failed() && (inspections < 4 || ops.Load() < 20) {
		t.Fatalf("%d inspections beside %d operations in a minute: too few to tell anything", inspections, ops.Load())
	}

	// Exact: the engine idle (its queued entry removals written), one
	// more inspection between two snapshots.
	engine.DataKeys()
	before := besideSnapshot(t, d.dir)
	if bad := inspectOnce(); len(bad) > 0 {
		t.Errorf("inspection beside the idle engine: %s", strings.Join(bad, "; "))
	}
	besideCompare(t, "an inspection beside the idle engine", before, besideSnapshot(t, d.dir))

	if err := engine.Close(); err != nil {
		t.Errorf("close the engine: %v", err)
	}
	for name, was := range planted {
		if got := besideStat(t, filepath.Join(d.dir, name), false); got != was {
			t.Errorf("planted %s changed or went: %+v, was %+v", name, got, was)
		}
	}
	if got := besideStat(t, filepath.Join(d.dir, dict.LockName), true); got != lock {
		t.Errorf("%s changed: %+v, was %+v", dict.LockName, got, lock)
	}
	m, err := dict.Open(ctx, d.dir, cfg)
	if err != nil {
		t.Fatalf("reopen once the engine closed: %v", err)
	}
	defer m.Close()
	model.files[besideStable] = besideFile{seed: besideStable, size: len(stable)}
	lost := 0
	for name, f := range model.files {
		if got := readThrough(t, m, name); !bytes.Equal(got, besideContent(f.seed, f.size)) {
			if lost++; lost <= 10 {
				t.Errorf("%s reads back as %d bytes, want %d of %s", name, len(got), f.size, f.seed)
			}
		}
	}
	if lost > 10 {
		t.Errorf("%d of %d files do not read back as written", lost, len(model.files))
	}
	for name := range m.Maintenance().Entries() {
		if _, ok := model.files[name]; !ok {
			t.Errorf("entry for %s, which is not the writer's", name)
		}
	}
	t.Logf("%d inspections beside %d operations of the engine", inspections, ops.Load())
}
