package pebblefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/operator"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The power-cut test: Pebble on pebblefs over Pebble's crash-simulating
// MemFS (vfs.NewCrashableMem). Two writers run at once, each on its own
// keys (a lane): the test's goroutine (sets, deletes, batches, range
// deletes, ingests, flushes, compactions, data-key rotations) and a
// background goroutine (sets, deletes, batches), some writes synced, some
// not. At random moments, between operations and in the middle of them,
// the test takes a CrashClone: the file system as a power cut at that
// instant could leave it, with all synced data and a random share of the
// rest. It opens pebblefs and Pebble on the clone, as a restarted process
// would, under a method chosen at random (so every restart may switch
// plaintext, AES and SM4), and checks, lane by lane, that what it reads is
// the state after some prefix of that lane's operations, no shorter than
// the last one acknowledged durable: every acknowledged synced write is
// there with its value, an unsynced one may be missing only with all that
// followed it, and no key holds a value it was never given. Some clones
// then become the live directory (the restart goes on writing), so later
// cuts land on what a recovery left behind.
//
// What Pebble's MemFS models and what it does not, and why the test can
// rely on it anyway: a file's unsynced bytes are kept or dropped in 4 KiB
// blocks, a directory's unsynced entries one by one; it has no Truncate
// (the file dictionary then writes zeros over a torn tail), no inode numbers or link
// counts, and CrashClone turns hard links into separate files. Because
// each directory entry is kept on its own, a file renamed without a
// directory sync may survive under both names, which a real file system's
// atomic rename never shows.

// envPowerCuts raises the number of cuts for a long run (make crash).
const envPowerCuts = "ATREST_PEBBLE_POWERCUTS"

// envPowerCutSeed replays a run.
const envPowerCutSeed = "ATREST_PEBBLE_POWERCUT_SEED"

const (
	pcLaneKeys = 300 // keys per lane: small, so keys are overwritten at every level
	pcHotKeys  = 40  // written half the time
	pcDir      = "/atrest/powercut/db"
)

// pcOp is one operation of a lane, with the keys it writes (a range
// delete lists every key of its range).
type pcOp struct {
	what   string
	writes []enginetest.Write
}

// pcLane is one writer's history: the state it starts from (what the last
// recovery read, or nothing) and its operations since, in the order they
// were issued. An operation is appended before it starts, so a cut knows
// which ones may have reached the file system; durable counts those
// acknowledged durable (a synced write, a flush, an ingest, and every
// earlier operation of the lane with it).
type pcLane struct {
	name    byte
	mu      sync.Mutex
	base    map[int]uint64
	ops     []pcOp
	durable int
	acked   int // operations acknowledged, durable or not
	// folded counts the operations fold moved into base: an operation's
	// number from begin stays valid across a fold that runs while it is
	// in flight (the background writer's).
	folded int
}

func newLane(name byte) *pcLane { return &pcLane{name: name, base: map[int]uint64{}} }

func (l *pcLane) key(k int) []byte { return fmt.Appendf(nil, "%c%05d", l.name, k) }

// begin records an operation about to be issued and returns its number.
func (l *pcLane) begin(op pcOp) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, op)
	return l.folded + len(l.ops) - 1
}

// ack records that operation number i returned; durable says the lane's
// operations up to it are on stable storage.
func (l *pcLane) ack(i int, durable bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked = i - l.folded + 1
	if durable {
		l.durable = i - l.folded + 1
	}
}

// fold moves the durable operations into the base state, so the history
// stays short: no cut refers to them any more.
func (l *pcLane) fold() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, op := range l.ops[:l.durable] {
		applyWrites(l.base, op.writes)
	}
	l.ops = slices.Clone(l.ops[l.durable:])
	l.acked -= l.durable
	l.folded += l.durable
	l.durable = 0
}

// reset starts the lane again from a recovered state.
func (l *pcLane) reset(state map[int]uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.folded += len(l.ops)
	l.base, l.ops, l.durable, l.acked = state, nil, 0, 0
}

func applyWrites(state map[int]uint64, ws []enginetest.Write) {
	for _, w := range ws {
		if w.Gen == 0 {
			delete(state, w.K)
		} else {
			state[w.K] = w.Gen
		}
	}
}

// pcValue is the value of lane l's key k at generation gen: derived from
// all three, so every byte is checked, and naming them, so a wrong value
// can be told. One in eight is large (past the value-separation threshold
// and over a 4 KiB block, so a torn tail cuts through values). Text, not
// random bytes: Verify takes a high-entropy unrecorded file for an
// encrypted one.
func pcValue(l byte, k int, gen uint64) []byte {
	r := rand.New(rand.NewPCG(gen, uint64(k)<<8|uint64(l)))
	n := 8 + r.IntN(200)
	if r.IntN(8) == 0 {
		n = 1500 + r.IntN(5000)
	}
	b := fmt.Appendf(make([]byte, 0, n+40), "%c/%d/%d/", l, k, gen)
	x := r.Uint32()
	for len(b) < cap(b) {
		x = x*1664525 + 1013904223 // cheap: values are made again for every key a check reads
		b = append(b, 'a'+byte(x>>24)%26)
	}
	return b
}

// pcParse names the (lane, key, generation) a value read back claims to
// be, and whether its bytes are exactly that value.
func pcParse(v []byte) (l byte, k int, gen uint64, intact bool) {
	parts := bytes.SplitN(v, []byte("/"), 4)
	if len(parts) != 4 || len(parts[0]) != 1 {
		return 0, -1, 0, false
	}
	k, err1 := strconv.Atoi(string(parts[1]))
	gen, err2 := strconv.ParseUint(string(parts[2]), 10, 64)
	if err1 != nil || err2 != nil || gen == 0 {
		return 0, -1, 0, false
	}
	l = parts[0][0]
	return l, k, gen, bytes.Equal(v, pcValue(l, k, gen))
}

// pcReporter collects what Pebble reports (errors logged, background
// errors): each is a finding.
type pcReporter struct {
	mu   sync.Mutex
	msgs []string
}

func (r *pcReporter) report(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
}

func (r *pcReporter) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs
	r.msgs = nil
	return m
}

// pcCut is a crash clone and what the lanes had done when it was taken:
// s[i] operations of lane i were acknowledged durable before it (read
// before the clone), n[i] had been issued (read after it: any operation
// that could have touched the file system before the clone is counted).
type pcCut struct {
	fs     *vfs.MemFS
	pct    int
	s, n   [2]int
	acked  [2]int
	during string // the test's operation in flight, if the cut was taken during one
	ops    [2][]pcOp
	base   [2]map[int]uint64
}

// pcStats are the totals the summary reports.
type pcStats struct {
	cuts, zeroPct, during, restarts int
	ackedChecked                    int // acknowledged durable key writes a cut had to keep
	keyChecks                       int
	lost                            int // keys that lost an acknowledged durable value or hold one never given
	inFlight, inFlightLanded        int // operations issued but not durable at a cut, and those found applied
	ops                             [2]int
	methods                         map[string]int
}

// pcRun is the state of one power-cut run.
type pcRun struct {
	t      *testing.T
	e      *testEnv
	seed   uint64
	r      *rand.Rand
	lanes  [2]*pcLane
	st     pcStats
	rep    *pcReporter
	mem    *vfs.MemFS
	efs    *FS
	db     *pebble.DB
	method ctr.Method
	// The background writer.
	stop    chan struct{}
	done    chan struct{}
	bgErr   atomic.Pointer[string]
	ingests int
}

func (p *pcRun) config(method ctr.Method) keyenv.Config {
	c := p.e.config(method)
	// Dead records trigger a rewrite of file.dict often, so cuts land in
	// rewrites too.
	c.FileDictionaryRewriteThreshold = 32
	return c
}

func (p *pcRun) fatalf(format string, args ...any) {
	p.t.Helper()
	p.t.Fatalf("seed %d (%s=%d replays it), live method %s: %s", p.seed, envPowerCutSeed, p.seed, p.method, fmt.Sprintf(format, args...))
}

// checkReports fails on anything Pebble reported on the live DB.
func (p *pcRun) checkReports() {
	p.t.Helper()
	if msgs := p.rep.take(); len(msgs) > 0 {
		p.fatalf("the live DB reported:\n%s", strings.Join(msgs, "\n"))
	}
	if msg := p.bgErr.Load(); msg != nil {
		p.fatalf("background writer: %s", *msg)
	}
}

// TestPowerCut runs the power-cut test; see the comment at the top of this
// file.
func TestPowerCut(t *testing.T) {
	normal, short := 300, 60
	if raceEnabled {
		normal, short = 60, 12
	}
	cuts := crashtest.Count(t, envPowerCuts, normal, short)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envPowerCutSeed); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", envPowerCutSeed, s, err)
		}
	}
	p := &pcRun{
		t: t, e: newEnv(t), seed: seed, r: rand.New(rand.NewPCG(seed, 0x9c)),
		lanes: [2]*pcLane{newLane('a'), newLane('b')},
		rep:   &pcReporter{},
		st:    pcStats{methods: map[string]int{}},
	}
	p.mem = vfs.NewCrashableMem()
	p.method = allMethods[p.r.IntN(len(allMethods))]
	var err error
	if p.efs, err = Open(context.Background(), pcDir, p.config(p.method), p.mem); err != nil {
		p.fatalf("open pebblefs: %v", err)
	}
	o := crashOptions(p.efs, true, p.rep.report)
	o.ErrorIfNotExists = false // the first open makes the DB
	if p.db, err = pebble.Open(pcDir, o); err != nil {
		p.fatalf("open pebble: %v", err)
	}
	p.startLive()
	defer p.closeLive()

	for p.st.cuts < cuts {
		p.step()
		p.checkReports()
	}
	p.stopBackground()
	p.checkReports()
	st := &p.st
	t.Logf("seed %d: %d power cuts (%d keeping only synced data, %d taken during a flush, compaction or rotation), %d restarts continued on a clone; "+
		"%d acknowledged durable key writes checked, %d key checks, lost: %d; %d operations in flight at cuts, %d of them found applied; "+
		"%d+%d operations; methods opened %v",
		seed, st.cuts, st.zeroPct, st.during, st.restarts, st.ackedChecked, st.keyChecks, st.lost,
		st.inFlight, st.inFlightLanded, st.ops[0], st.ops[1], st.methods)
	if st.lost != 0 {
		t.Fatalf("%d keys lost an acknowledged durable write", st.lost)
	}
}

// startLive makes the ingest directory and starts the background writer on
// the live DB.
func (p *pcRun) startLive() {
	if err := p.efs.MkdirAll(path.Join(pcDir, "ingest"), 0o755); err != nil {
		p.fatalf("mkdir ingest: %v", err)
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go p.background(p.db, p.lanes[1], rand.New(rand.NewPCG(p.r.Uint64(), 0xb)))
}

func (p *pcRun) stopBackground() {
	if p.stop != nil {
		close(p.stop)
		<-p.done
		p.stop = nil
	}
}

// closeLive stops the writer and closes the live DB and FS.
func (p *pcRun) closeLive() {
	p.stopBackground()
	if p.db != nil {
		if err := p.db.Close(); err != nil {
			p.t.Errorf("close the live DB: %v", err)
		}
		p.db = nil
	}
	if p.efs != nil {
		if err := p.efs.Close(); err != nil {
			p.t.Errorf("close the live FS: %v", err)
		}
		p.efs = nil
	}
}

// pickWrites picks n distinct keys of a lane, deleting one in delEvery,
// sorted (an SSTable needs them sorted).
func pickWrites(r *rand.Rand, n, delEvery int) []enginetest.Write {
	return enginetest.PickWrites(r, n, delEvery, func() int {
		k := r.IntN(pcLaneKeys)
		if r.IntN(2) == 0 {
			k = r.IntN(pcHotKeys)
		}
		return k
	})
}

// write issues one write operation of lane l, a set, a delete or a batch,
// synced one time in three, and records it in the lane's history.
func write(db *pebble.DB, l *pcLane, r *rand.Rand) error {
	opt := pebble.NoSync
	synced := r.IntN(3) == 0
	if synced {
		opt = pebble.Sync
	}
	var ws []enginetest.Write
	switch n := r.IntN(10); {
	case n < 5:
		ws = pickWrites(r, 1, 1000)
	case n < 7:
		ws = pickWrites(r, 1, 1)
	default:
		ws = pickWrites(r, 2+r.IntN(8), 4)
	}
	what := "write"
	if synced {
		what = "write synced"
	}
	i := l.begin(pcOp{what: what, writes: ws})
	b := db.NewBatch()
	for _, w := range ws {
		var err error
		if w.Gen == 0 {
			err = b.Delete(l.key(w.K), nil)
		} else {
			err = b.Set(l.key(w.K), pcValue(l.name, w.K, w.Gen), nil)
		}
		if err != nil {
			return err
		}
	}
	if err := b.Commit(opt); err != nil {
		return err
	}
	b.Close()
	l.ack(i, synced)
	return nil
}

// background is the second writer: writes to lane b until stopped, with
// short pauses so the test's goroutine and Pebble's get their turns.
func (p *pcRun) background(db *pebble.DB, l *pcLane, r *rand.Rand) {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		if err := write(db, l, r); err != nil {
			msg := err.Error()
			p.bgErr.Store(&msg)
			return
		}
		p.st.ops[1]++ // only this goroutine writes it until stopped
		time.Sleep(time.Duration(r.IntN(400)) * time.Microsecond)
	}
}

// cut takes a crash clone of the live file system. The RNG is the cut's
// own: cuts are taken from timer goroutines too.
func (p *pcRun) cut(pct int, rng *rand.Rand, during string) *pcCut {
	c := &pcCut{pct: pct, during: during}
	for i, l := range p.lanes {
		l.mu.Lock()
		c.s[i], c.acked[i] = l.durable, l.acked
		l.mu.Unlock()
	}
	c.fs = p.mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rng})
	for i, l := range p.lanes {
		l.mu.Lock()
		c.n[i] = len(l.ops)
		c.ops[i] = l.ops[:c.n[i]:c.n[i]] // append-only until the next fold, which waits for this cut
		c.base[i] = l.base
		l.mu.Unlock()
	}
	return c
}

// step runs one operation of lane a, perhaps with a cut during it, and
// perhaps a cut after it.
func (p *pcRun) step() {
	p.t.Helper()
	ctx := context.Background()
	l := p.lanes[0]
	var pending chan *pcCut
	// cutDuring arms a cut a random moment into the operation about to run.
	cutDuring := func(what string) {
		if p.r.IntN(3) != 0 {
			return
		}
		pct, rng := p.cutParams()
		pending = make(chan *pcCut, 1)
		time.AfterFunc(time.Duration(p.r.IntN(3000))*time.Microsecond, func() { pending <- p.cut(pct, rng, what) })
	}
	var err error
	switch n := p.r.IntN(100); {
	case n < 70:
		err = write(p.db, l, p.r)
	case n < 76:
		// A range delete, synced or not.
		lo := p.r.IntN(pcLaneKeys)
		hi := min(pcLaneKeys, lo+1+p.r.IntN(40))
		var ws []enginetest.Write
		for k := lo; k < hi; k++ {
			ws = append(ws, enginetest.Write{K: k})
		}
		synced := p.r.IntN(2) == 0
		opt := pebble.NoSync
		if synced {
			opt = pebble.Sync
		}
		i := l.begin(pcOp{what: "delete range", writes: ws})
		if err = p.db.DeleteRange(l.key(lo), l.key(hi), opt); err == nil {
			l.ack(i, synced)
		}
	case n < 82:
		cutDuring("flush")
		i := l.begin(pcOp{what: "flush"})
		if err = p.db.Flush(); err == nil {
			l.ack(i, true) // the memtables holding every earlier write of the lane are in tables
		}
	case n < 86:
		cutDuring("compaction")
		lo := p.r.IntN(pcLaneKeys)
		hi := min(pcLaneKeys, lo+1+p.r.IntN(pcLaneKeys/2))
		i := l.begin(pcOp{what: "compact"})
		if err = p.db.Compact(ctx, l.key(lo), l.key(hi), p.r.IntN(2) == 0); err == nil {
			l.ack(i, false)
		}
	case n < 89:
		if p.method == ctr.Plaintext {
			return // no data key to rotate
		}
		cutDuring("data-key rotation")
		i := l.begin(pcOp{what: "rotate"})
		if err = p.efs.Manager().RotateDataKey(ctx); err == nil {
			l.ack(i, false)
		}
	default:
		err = p.ingest()
	}
	if err != nil {
		p.fatalf("lane a: %v", err)
	}
	p.st.ops[0]++
	if pending != nil {
		p.check(<-pending)
	}
	if p.r.IntN(25) == 0 {
		pct, rng := p.cutParams()
		p.check(p.cut(pct, rng, ""))
	}
}

// ingest writes an SSTable of lane a's keys through pebblefs and ingests
// it. Pebble gives an ingest sequence numbers after every write before it
// but syncs no WAL for them, so an unsynced write just before could be
// lost while the ingest survives: a synced write goes first, and then the
// lane's history stays a prefix.
func (p *pcRun) ingest() error {
	l := p.lanes[0]
	barrier := pickWrites(p.r, 1, 2)
	i := l.begin(pcOp{what: "write synced (before an ingest)", writes: barrier})
	b := p.db.NewBatch()
	if barrier[0].Gen == 0 {
		b.Delete(l.key(barrier[0].K), nil)
	} else {
		b.Set(l.key(barrier[0].K), pcValue(l.name, barrier[0].K, barrier[0].Gen), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	b.Close()
	l.ack(i, true)

	ws := pickWrites(p.r, 1+p.r.IntN(30), 6)
	p.ingests++
	file := path.Join(pcDir, "ingest", fmt.Sprintf("%d.sst", p.ingests))
	f, err := p.efs.Create(file, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), sstable.WriterOptions{TableFormat: p.db.TableFormat()})
	for _, cw := range ws {
		if cw.Gen == 0 {
			err = w.Delete(l.key(cw.K))
		} else {
			err = w.Set(l.key(cw.K), pcValue(l.name, cw.K, cw.Gen))
		}
		if err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	// No cut during the ingest: MemFS.Link read-locks the lock CrashClone
	// takes twice, and a CrashClone waiting between the two would
	// deadlock.
	i = l.begin(pcOp{what: "ingest", writes: ws})
	if err := p.db.Ingest(context.Background(), []string{file}); err != nil {
		return err
	}
	// The table and the MANIFEST edit (or a synced WAL record) are on
	// stable storage when Ingest returns.
	l.ack(i, true)
	return nil
}

// cutParams picks how much unsynced data a cut keeps: none half the time
// (exactly what was synced), else a random share.
func (p *pcRun) cutParams() (int, *rand.Rand) {
	pct := 0
	if p.r.IntN(2) == 0 {
		pct = 1 + p.r.IntN(100)
	}
	return pct, rand.New(rand.NewPCG(p.r.Uint64(), 0xc))
}

// check opens pebblefs and Pebble on a cut's clone under a random method
// and checks every key against the lanes' histories; then either closes
// them or makes them the live DB (a restart). Either way the lanes' durable
// operations are folded into their bases afterwards.
func (p *pcRun) check(c *pcCut) {
	p.t.Helper()
	defer func() {
		for _, l := range p.lanes {
			l.fold()
		}
	}()
	p.st.cuts++
	if c.pct == 0 {
		p.st.zeroPct++
	}
	if c.during != "" {
		p.st.during++
	}
	method := allMethods[p.r.IntN(len(allMethods))]
	where := fmt.Sprintf("cut %d (unsynced data kept: %d%%, during: %q), reopened with %s", p.st.cuts, c.pct, c.during, method)
	rep := &pcReporter{}
	fail := func(format string, args ...any) {
		p.t.Helper()
		msg := fmt.Sprintf(format, args...)
		if msgs := rep.take(); len(msgs) > 0 {
			msg += "\nPebble reported:\n" + strings.Join(msgs, "\n")
		}
		p.fatalf("%s: %s", where, msg)
	}
	efs, err := Open(context.Background(), pcDir, p.config(method), c.fs)
	if err != nil {
		fail("reopen pebblefs: %v", err)
	}
	p.st.methods[method.String()]++
	db, err := pebble.Open(pcDir, crashOptions(efs, true, rep.report))
	if err != nil {
		efs.Close()
		fail("reopen pebble: %v", err)
	}
	// On a failure, close what is open; on success the closes below
	// check their errors.
	keep := false
	defer func() {
		if !keep {
			if db != nil {
				db.Close()
			}
			if efs != nil {
				efs.Close()
			}
		}
	}()

	got, err := pcScan(db)
	if err != nil {
		fail("scan: %v", err)
	}
	var states [2]map[int]uint64
	for i, l := range p.lanes {
		state := got[l.name]
		// Every key read by Get as by the scan.
		for k := range pcLaneKeys {
			v, closer, err := db.Get(l.key(k))
			var gen uint64
			switch {
			case errors.Is(err, pebble.ErrNotFound):
			case err != nil:
				fail("get %s: %v", l.key(k), err)
			default:
				_, _, gen, _ = pcParse(v)
				closer.Close()
			}
			if gen != state[k] {
				fail("key %s: the scan reads generation %d, Get %d", l.key(k), state[k], gen)
			}
		}
		p.st.keyChecks += pcLaneKeys
		prefix, msg, lost := pcMatch(c.base[i], c.ops[i], c.s[i], c.n[i], state)
		if msg != "" {
			p.st.lost += lost
			var inFlight []string
			for _, op := range c.ops[i][c.s[i]:c.n[i]] {
				inFlight = append(inFlight, fmt.Sprintf("%s (%d keys)", op.what, len(op.writes)))
			}
			fail("lane %c (%d operations since its base, %d acknowledged, %d durable, %d issued at the cut; not durable: %s): %s",
				l.name, len(c.ops[i]), c.acked[i], c.s[i], c.n[i], strings.Join(inFlight, ", "), msg)
		}
		for _, op := range c.ops[i][:c.s[i]] {
			p.st.ackedChecked += len(op.writes)
		}
		for _, op := range c.ops[i][c.s[i]:c.n[i]] {
			if len(op.writes) > 0 {
				p.st.inFlight++
			}
		}
		for _, op := range c.ops[i][c.s[i]:prefix] {
			if len(op.writes) > 0 {
				p.st.inFlightLanded++
			}
		}
		states[i] = state
	}
	if err := db.CheckLevels(nil); err != nil {
		fail("check levels: %v", err)
	}
	// Pebble is closed before Verify: Verify compares a snapshot of the
	// entries with the directory and the key dictionary, and Pebble's
	// background work (removing obsolete files, which drops their data
	// keys; writing new tables) would change them in between.
	err = db.Close()
	db = nil
	if err != nil {
		fail("close pebble: %v", err)
	}
	// No file whose data key is gone, no encrypted-looking file without
	// an entry. Entries without a file are allowed: a cut between a
	// file's unlink and its entry's removal leaves one.
	if efs.Manager().Encrypted() {
		// DataKeys first lets the removals under way settle: a file's
		// entry goes in a group commit after Remove returns, and then its
		// key may go too. Verify does not wait for them, and between its
		// snapshot of the entries and its look at the keys it would take
		// a just-dropped key for a missing one.
		efs.Manager().DataKeys()
		rpt, err := operator.Verify(context.Background(), efs.Manager())
		if err != nil {
			fail("verify: %v", err)
		}
		if len(rpt.MissingKeys) > 0 {
			fail("files whose data key is gone: %v", rpt.MissingKeys)
		}
		for _, u := range rpt.Unrecorded {
			if u.LooksEncrypted {
				fail("%s has no entry but looks encrypted", u.Name)
			}
		}
	}
	if msgs := rep.take(); len(msgs) > 0 {
		fail("Pebble reported errors while reopening, reading and closing:\n%s", strings.Join(msgs, "\n"))
	}
	if p.r.IntN(3) != 0 {
		err := efs.Close()
		efs = nil
		if err != nil {
			fail("close pebblefs: %v", err)
		}
		return
	}
	if db, err = pebble.Open(pcDir, crashOptions(efs, true, rep.report)); err != nil {
		fail("open pebble again: %v", err)
	}
	// The restart goes on: the clone is the live directory from now on,
	// with the reopened DB, and the lanes start from what it holds.
	keep = true
	p.closeLive()
	p.st.restarts++
	p.mem, p.efs, p.db, p.method, p.rep = c.fs, efs, db, method, rep
	// The live DB's reports go to p.rep from now on; the options kept rep.
	for i, l := range p.lanes {
		l.reset(states[i])
	}
	p.startLive()
}

// pcScan reads every key: lane → key → generation. A key or value that
// is not one the test writes is an error.
func pcScan(db *pebble.DB) (map[byte]map[int]uint64, error) {
	it, err := db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	got := map[byte]map[int]uint64{'a': {}, 'b': {}}
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		lane := byte(0)
		k := -1
		if len(key) == 6 {
			lane = key[0]
			if n, err := strconv.Atoi(string(key[1:])); err == nil {
				k = n
			}
		}
		if got[lane] == nil || k < 0 || k >= pcLaneKeys {
			it.Close()
			return nil, fmt.Errorf("stray key %q", key)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("value of %s: %w", key, err)
		}
		vl, vk, gen, intact := pcParse(v)
		if !intact || vl != lane || vk != k {
			it.Close()
			return nil, fmt.Errorf("key %s holds a value never written to it: %d bytes %q", key, len(v), v[:min(len(v), 40)])
		}
		got[lane][k] = gen
	}
	return got, it.Close()
}

// pcMatch checks a lane's recovered state against its history: it must
// equal the state after ops[:p] for some p in [s, n]. It returns the
// largest such p, or a description of what is wrong and how many keys
// lost an acknowledged durable write or hold a value never given.
//
// The state is walked forward op by op, keeping the number of keys that
// differ from what was read; a prefix matches where that number is 0.
func pcMatch(base map[int]uint64, ops []pcOp, s, n int, got map[int]uint64) (int, string, int) {
	cur := make(map[int]uint64, len(base))
	for k, g := range base {
		cur[k] = g
	}
	diff := 0
	for k := range pcLaneKeys {
		if cur[k] != got[k] {
			diff++
		}
	}
	match := -1
	for i := 0; ; i++ {
		if i >= s && diff == 0 {
			match = i
		}
		if i == n {
			break
		}
		for _, w := range ops[i].writes {
			before := cur[w.K] == got[w.K]
			if w.Gen == 0 {
				delete(cur, w.K)
			} else {
				cur[w.K] = w.Gen
			}
			after := cur[w.K] == got[w.K]
			switch {
			case before && !after:
				diff++
			case !before && after:
				diff--
			}
		}
	}
	if match >= 0 {
		return match, "", 0
	}
	// No prefix matches: name the keys no allowed state explains.
	acked := make(map[int]uint64, len(base))
	for k, g := range base {
		acked[k] = g
	}
	for _, op := range ops[:s] {
		applyWrites(acked, op.writes)
	}
	allowed := map[int][]uint64{}
	for k := range pcLaneKeys {
		allowed[k] = []uint64{acked[k]}
	}
	for _, op := range ops[s:n] {
		for _, w := range op.writes {
			allowed[w.K] = append(allowed[w.K], w.Gen)
		}
	}
	var lines []string
	lost := 0
	for k := range pcLaneKeys {
		if slices.Contains(allowed[k], got[k]) {
			continue
		}
		lost++
		if len(lines) < 20 {
			lines = append(lines, fmt.Sprintf("key %d reads %s; acknowledged durable: %s; may also be (in flight) %v",
				k, pcDescribe(got[k]), pcDescribe(acked[k]), allowed[k][1:]))
		}
	}
	if lost == 0 {
		return -1, "every key holds a value it may hold, but no prefix of the operations gives them all: a write landed without one issued before it", 0
	}
	return -1, fmt.Sprintf("%d keys lost an acknowledged durable write or hold a value never given:\n%s", lost, strings.Join(lines, "\n")), lost
}

func pcDescribe(gen uint64) string {
	if gen == 0 {
		return "absent"
	}
	return fmt.Sprintf("generation %d", gen)
}

// TestOpenMakesDirDurable: Open on a crash-simulating MemFS makes the data
// directory and its missing parents durable before it returns, so a power
// cut right after it (a clone keeping only synced data) still has the
// directory and, under encryption, both dictionaries. Pebble's Open would
// then sync only the data directory's parent, so a parent Open made and
// left unsynced took the whole directory with it.
func TestOpenMakesDirDurable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		make   string // made before Open
		dir    string
		method ctr.Method
	}{
		{"parent exists", "/p", "/p/db", ctr.AES256CTR},
		{"one level new", "", "/p/db", ctr.SM4CTR},
		{"three levels new", "/p", "/p/q/r/s/db", ctr.AES128CTR},
		{"three levels new, plaintext", "", "/p/q/r/db", ctr.Plaintext},
		{"exists", "/p/db", "/p/db", ctr.AES128CTR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			mem := vfs.NewCrashableMem()
			if tc.make != "" {
				if err := mem.MkdirAll(tc.make, 0o755); err != nil {
					t.Fatal(err)
				}
				// Durable too: only what Open makes is under test.
				for d := tc.make; ; d = path.Dir(d) {
					f, err := mem.OpenDir(path.Dir(d))
					if err != nil {
						t.Fatal(err)
					}
					if err := errors.Join(f.Sync(), f.Close()); err != nil {
						t.Fatal(err)
					}
					if d == "/" {
						break
					}
				}
			}
			efs, err := Open(context.Background(), tc.dir, e.config(tc.method), mem)
			if err != nil {
				t.Fatal(err)
			}
			defer efs.Close()
			cut := mem.CrashClone(vfs.CrashCloneCfg{})
			if _, err := cut.Stat(tc.dir); err != nil {
				t.Fatalf("after a power cut: %v", err)
			}
			for _, name := range []string{dict.KeyDictName, dict.FileDictName} {
				_, err := cut.Stat(path.Join(tc.dir, name))
				if tc.method != ctr.Plaintext && err != nil {
					t.Errorf("after a power cut: %v", err)
				}
			}
		})
	}
}

// TestPowerCutMatch checks the power-cut test's checker on histories with
// known answers: it must find the longest prefix that explains a state,
// and refuse a state that lost an acknowledged durable write, holds a
// value never given, or has a later write without an earlier one.
func TestPowerCutMatch(t *testing.T) {
	base := map[int]uint64{1: 11, 2: 21}
	ops := []pcOp{
		{writes: []enginetest.Write{{K: 1, Gen: 13}}},                 // 0
		{writes: []enginetest.Write{{K: 2, Gen: 0}, {K: 3, Gen: 31}}}, // 1
		{what: "flush"}, // 2
		{writes: []enginetest.Write{{K: 1, Gen: 15}}}, // 3
		{writes: []enginetest.Write{{K: 4, Gen: 41}}}, // 4
	}
	for _, tc := range []struct {
		name       string
		s, n       int
		got        map[int]uint64
		want, lost int // want -1: no prefix
	}{
		{"everything landed", 2, 5, map[int]uint64{1: 15, 3: 31, 4: 41}, 5, 0},
		{"nothing past the durable ops", 2, 5, map[int]uint64{1: 13, 3: 31}, 3, 0},
		{"one in flight landed", 2, 5, map[int]uint64{1: 15, 3: 31}, 4, 0},
		{"base only, nothing durable", 0, 5, map[int]uint64{1: 11, 2: 21}, 0, 0},
		{"lost a durable delete", 2, 5, map[int]uint64{1: 13, 2: 21, 3: 31}, -1, 1},
		{"lost a durable set", 2, 2, map[int]uint64{1: 11, 3: 31}, -1, 1},
		{"a value never given", 2, 5, map[int]uint64{1: 14, 3: 31}, -1, 1},
		{"a later write without an earlier one", 2, 5, map[int]uint64{1: 13, 3: 31, 4: 41}, -1, 0},
		{"a write not yet issued", 2, 3, map[int]uint64{1: 15, 3: 31}, -1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, msg, lost := pcMatch(base, ops, tc.s, tc.n, tc.got)
			if got != tc.want || lost != tc.lost || (tc.want < 0) != (msg != "") {
				t.Errorf("pcMatch = %d, %d lost, %q; want %d, %d lost", got, lost, msg, tc.want, tc.lost)
			}
		})
	}
}
