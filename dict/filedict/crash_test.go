//go:build unix

package filedict

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atrest/atrest/internal/crashtest"
)

// crashEnv, when set, makes the test binary a crash-test child:
// "path,version,threshold,killAt,seed".
const crashEnv = "ATREST_FILEDICT_CRASH_CHILD"

const crashWorkers = 4

func TestMain(m *testing.M) {
	if spec := os.Getenv(crashEnv); spec != "" {
		os.Exit(crashChild(spec))
	}
	os.Exit(m.Run())
}

// crashChild opens the dictionary and runs crashWorkers goroutines of
// random mutations, each in its own namespace "w<g>/", until it is killed:
// at the killAt-th failpoint hit when killAt > 0, or by the parent. Before
// each mutation it prints "op <g> <record hex>", after its durable return
// "ack <g>".
func crashChild(spec string) int {
	f := strings.Split(spec, ",")
	if len(f) != 5 {
		fmt.Fprintln(os.Stderr, "bad spec", spec)
		return 2
	}
	path := f[0]
	version, _ := strconv.Atoi(f[1])
	threshold, _ := strconv.Atoi(f[2])
	killAt, _ := strconv.ParseInt(f[3], 10, 64)
	seed, _ := strconv.ParseUint(f[4], 10, 64)
	var hits sync.Mutex
	var n int64
	fp := func(string) {
		hits.Lock()
		n++
		hit := n
		hits.Unlock()
		if killAt > 0 && hit == killAt {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Hour)
		}
	}
	d, err := Open(path, Options{Version: version, RewriteThreshold: threshold, Failpoint: fp})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 3
	}
	crashtest.Say("ready")
	var wg sync.WaitGroup
	deadline := time.Now().Add(3 * time.Second)
	failed := make(chan error, crashWorkers)
	for g := range crashWorkers {
		rng := rand.New(rand.NewPCG(seed, uint64(g)))
		wg.Go(func() {
			for time.Now().Before(deadline) {
				rec := randomOp(d, rng, g)
				crashtest.Say("op %d %s", g, hex.EncodeToString(rec.Encode()))
				if err := doRecord(d, rec); err != nil {
					failed <- fmt.Errorf("worker %d: %s %q %q: %w", g, rec.Type, rec.Name, rec.Dst, err)
					return
				}
				crashtest.Say("ack %d", g)
			}
		})
	}
	wg.Wait()
	close(failed)
	for err := range failed {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	return 0
}

// randomOp picks a mutation that is valid in worker g's namespace.
func randomOp(d *Dict, rng *rand.Rand, g int) Record {
	ns := fmt.Sprintf("w%d/", g)
	name := func() string {
		if rng.IntN(4) == 0 {
			return fmt.Sprintf("%ssub/f%d", ns, rng.IntN(4))
		}
		return fmt.Sprintf("%sf%d", ns, rng.IntN(8))
	}
	var mine []Rename
	for _, r := range d.PendingRenames() {
		if strings.HasPrefix(r.Dst, ns) {
			mine = append(mine, r)
		}
	}
	switch k := rng.IntN(20); {
	case k < 8:
		return Record{Type: RecordInsert, Name: name(), Entry: entry(rng.IntN(1000)), HasEntry: true}
	case k < 12:
		return Record{Type: RecordRemove, Name: name()}
	case k < 13:
		return Record{Type: RecordRemovePrefix, Name: ns + "sub"}
	case k < 16 || len(mine) == 0:
		src, dst := name(), name()
		taken := map[string]bool{src: true}
		for _, r := range mine {
			taken[r.Dst] = true
		}
		for taken[dst] {
			dst += "x"
		}
		r := Record{Type: RecordRenameBegin, Name: src, Dst: dst}
		if rng.IntN(2) == 0 {
			r.Entry, r.HasEntry = entry(rng.IntN(1000)), true
		}
		return r
	default:
		p := mine[rng.IntN(len(mine))]
		t := RecordRenameCommit
		if rng.IntN(3) == 0 {
			t = RecordRenameAbort
		}
		return Record{Type: t, Name: p.Src, Dst: p.Dst}
	}
}

func doRecord(d *Dict, r Record) error {
	switch r.Type {
	case RecordInsert:
		return d.Insert(r.Name, r.Entry)
	case RecordRemove:
		return d.Remove(r.Name)
	case RecordRemovePrefix:
		return d.RemovePrefix(r.Name)
	case RecordRenameBegin:
		rn := Rename{Src: r.Name, Dst: r.Dst}
		if r.HasEntry {
			rn.Fresh = &r.Entry
		}
		return d.BeginRename(rn)
	case RecordRenameCommit:
		return d.CommitRename(r.Name, r.Dst)
	case RecordRenameAbort:
		return d.AbortRename(r.Name, r.Dst)
	}
	return fmt.Errorf("record type %d", r.Type)
}

// model is the test's own account of what a dictionary must hold,
// written independently of applyRecord.
type model struct {
	entries map[string]Entry
	pending map[string]Rename
}

func (m model) clone() model {
	c := model{entries: map[string]Entry{}, pending: map[string]Rename{}}
	for k, v := range m.entries {
		c.entries[k] = v
	}
	for k, v := range m.pending {
		c.pending[k] = v
	}
	return c
}

func (m model) apply(r Record) model {
	m = m.clone()
	switch r.Type {
	case RecordInsert:
		m.entries[r.Name] = r.Entry
	case RecordRemove:
		delete(m.entries, r.Name)
	case RecordRemovePrefix:
		for n := range m.entries {
			if n == r.Name || strings.HasPrefix(n, r.Name+"/") {
				delete(m.entries, n)
			}
		}
	case RecordRenameBegin:
		rn := Rename{Src: r.Name, Dst: r.Dst}
		if r.HasEntry {
			e := r.Entry
			rn.Fresh = &e
		}
		m.pending[r.Dst] = rn
	case RecordRenameCommit:
		p := m.pending[r.Dst]
		delete(m.pending, r.Dst)
		e, ok := m.entries[r.Name]
		if p.Fresh != nil {
			e, ok = *p.Fresh, true
		}
		delete(m.entries, r.Name)
		if ok {
			m.entries[r.Dst] = e
		} else {
			delete(m.entries, r.Dst)
		}
	case RecordRenameAbort:
		delete(m.pending, r.Dst)
	}
	return m
}

// restrict returns the part of s in namespace ns, as a model.
func restrict(s dictState, ns string) model {
	m := model{entries: map[string]Entry{}, pending: map[string]Rename{}}
	for n, e := range s.Entries {
		if strings.HasPrefix(n, ns) {
			m.entries[n] = e
		}
	}
	for _, r := range s.Pending {
		if strings.HasPrefix(r.Dst, ns) {
			m.pending[r.Dst] = r
		}
	}
	return m
}

func (m model) equal(o model) bool {
	if len(m.entries) != len(o.entries) || len(m.pending) != len(o.pending) {
		return false
	}
	for n, e := range m.entries {
		if oe, ok := o.entries[n]; !ok || oe != e {
			return false
		}
	}
	for dst, r := range m.pending {
		or, ok := o.pending[dst]
		if !ok || or.Src != r.Src || (or.Fresh == nil) != (r.Fresh == nil) || (r.Fresh != nil && *or.Fresh != *r.Fresh) {
			return false
		}
	}
	return true
}

func (m model) String() string {
	return dictState{Entries: m.entries, Pending: sortedPending(m.pending)}.String()
}

func sortedPending(p map[string]Rename) []Rename {
	var l []Rename
	for _, r := range p {
		l = append(l, r)
	}
	sortRenames(l)
	return l
}

// TestCrash kills a child process that mutates the dictionary, at random
// failpoints and at random times, then checks after each kill that every
// acknowledged mutation is in the reopened dictionary and nothing else,
// except that each mutation in flight at the kill may or may not be.
func TestCrash(t *testing.T) {
	kills := crashtest.Count(t, "ATREST_CRASH_KILLS", 150, 40)
	path := dictPath(t)
	mustClose(t, mustCreate(t, path, Options{}))
	models := make([]model, crashWorkers)
	for g := range models {
		models[g] = model{entries: map[string]Entry{}, pending: map[string]Rename{}}
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	start := time.Now()
	killed, byFailpoint, acked, inflightApplied, inflightLost := 0, 0, 0, 0, 0
	for run := 0; killed < kills; run++ {
		if run > 4*kills {
			t.Fatalf("%d runs for %d kills", run, killed)
		}
		version, threshold := logVersion, 5+rng.IntN(40)
		if rng.IntN(4) == 0 {
			version = 1
		}
		var killAt int64
		if rng.IntN(2) == 0 {
			killAt = 1 + rng.Int64N(60)
		}
		// The child is TestMain's (crashChild), running no test function.
		c := crashtest.Start(t, "", []string{fmt.Sprintf("%s=%s,%d,%d,%d,%d", crashEnv, path, version, threshold, killAt, rng.Uint64())})
		inflight := make([]*Record, crashWorkers)
		for line := range c.Lines() {
			f := strings.Fields(line)
			switch {
			case len(f) == 1 && f[0] == "ready":
				if killAt == 0 {
					c.KillAfter(time.Duration(rng.IntN(30_000)) * time.Microsecond)
				}
			case len(f) == 3 && f[0] == "op":
				g, _ := strconv.Atoi(f[1])
				b, err := hex.DecodeString(f[2])
				must(t, err)
				r, _, err := DecodeRecord(b)
				must(t, err)
				inflight[g] = &r
			case len(f) == 2 && f[0] == "ack":
				g, _ := strconv.Atoi(f[1])
				models[g] = models[g].apply(*inflight[g])
				inflight[g] = nil
				acked++
			default:
				c.Abort()
				t.Fatalf("child said %q", line)
			}
		}
		switch sigkill, err := c.Wait(); {
		case sigkill:
			killed++
			if killAt > 0 {
				byFailpoint++
			}
		case err != nil:
			t.Fatalf("run %d: child: %v\n%s", run, err, c.Stderr())
		}
		// The parent reopens in the version the file has, so checking
		// changes nothing the next child would not.
		v, err := ReadVersion(path)
		if err != nil {
			t.Fatalf("run %d (v%d, kill at hit %d): %v", run, version, killAt, err)
		}
		d, err := Open(path, Options{Version: v})
		if err != nil {
			t.Fatalf("run %d (v%d, kill at hit %d): reopen: %v", run, version, killAt, err)
		}
		got := stateOf(d)
		mustClose(t, d)
		for g := range crashWorkers {
			have := restrict(got, fmt.Sprintf("w%d/", g))
			switch {
			case have.equal(models[g]):
				if inflight[g] != nil {
					inflightLost++
				}
			case inflight[g] != nil && have.equal(models[g].apply(*inflight[g])):
				models[g] = have
				inflightApplied++
			default:
				in := "none"
				if r := inflight[g]; r != nil {
					in = fmt.Sprintf("%s %q %q", r.Type, r.Name, r.Dst)
				}
				t.Fatalf("run %d (v%d, kill at hit %d), worker %d:\n got %v\nwant %v\nin flight: %s", run, version, killAt, g, have, models[g], in)
			}
		}
	}
	t.Logf("%d kills (%d at failpoints), %d acknowledged ops, in flight at a kill: %d applied, %d not, in %v",
		killed, byFailpoint, acked, inflightApplied, inflightLost, time.Since(start).Round(time.Millisecond))
	if acked == 0 || inflightApplied+inflightLost == 0 {
		t.Fatal("the crash test did not exercise anything")
	}
}
