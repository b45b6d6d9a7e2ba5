//go:build unix

package enginetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/keyenv"
)

// CrashFailpoints are the dict failpoints a crash test's child may die
// at: every step of the Manager's multi-step operations.
var CrashFailpoints = []string{
	"create.after-entry", "truncate.after-sync", "remove.after-unlink",
	"link.after-entry", "rename.after-intent", "rename.after-rename", "rename.after-sync",
	"rotate.before-save", "rotate.after-save",
	"append.after-extend", "append.before-write", "append.after-write", "append.after-sync",
	"rewrite.after-temp-sync", "rewrite.after-rename",
}

// CrashSpec is what RunCrash needs of an engine's crash test.
//
// The child (the test binary re-executed, running Test) opens the engine
// on the directory, says "opening" before and "opened" after, then for
// each operation says "begin N" and the writes (FormatWrites) before it
// starts and "ack N" after it returned; every write is synced, so every
// acknowledged write must survive. "error ..." is a failure. It learns
// what to do from the environment Env gives it.
type CrashSpec struct {
	// Test is the child's test function.
	Test string
	// Env is the child's environment for one run: the method to open
	// with, a failpoint "name:hit" to die at (or ""), whether the DB must
	// exist already, and a seed for its choices.
	Env func(method string, failpoint string, mustExist bool, seed uint64) []string
	// Methods alternate from run to run.
	Methods []string
	// Keys is the key space, [0, Keys).
	Keys int
	// Recover opens the directory as a restarted process would, under
	// method, and reads every key back (key → generation).
	Recover func(method string, mustExist bool) (map[int]uint64, error)
}

// CrashStats are what a crash test reports.
type CrashStats struct {
	Kills, FailpointKills, EarlyKills int
	Acked                             int // acknowledged operations
	Durable                           int // acknowledged key values checked, summed over the kills
	KeyChecks                         int
}

func (s CrashStats) String() string {
	return fmt.Sprintf("%d SIGKILLs (%d at dict failpoints, %d within 30 ms of starting to open), %d acknowledged operations, %d acknowledged key values checked over the recoveries, %d key checks, lost: 0",
		s.Kills, s.FailpointKills, s.EarlyKills, s.Acked, s.Durable, s.KeyChecks)
}

// RunCrash kills a child running the engine kills times on one directory
// and checks after every kill that every acknowledged write is there
// (Cut.Check) and that the operation in flight went all one way
// (Cut.CheckAtomic), continuing from what each recovery read.
func RunCrash(t *testing.T, kills int, seed uint64, spec CrashSpec) CrashStats {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	h := NewHistory(nil)
	var st CrashStats
	mustExist := false
	for run := range kills {
		method := spec.Methods[run%len(spec.Methods)]
		var at string
		early := false
		switch n := r.IntN(6); {
		case n < 2:
			at = fmt.Sprintf("%s:%d", CrashFailpoints[r.IntN(len(CrashFailpoints))], 1+r.IntN(8))
		case n == 2:
			early = true
		}
		c := crashtest.Start(t, spec.Test, spec.Env(method, at, mustExist, r.Uint64()))
		fail := func(format string, args ...any) {
			t.Helper()
			c.Abort()
			t.Fatalf("seed %d, run %d (%s, failpoint %q, early %v): %s\nthe child's last lines:\n%s\n%s",
				seed, run, method, at, early, fmt.Sprintf(format, args...), c.Last(), c.Stderr())
		}
		c.Watchdog(time.Minute)
		inFlight := -1
		for line := range c.Lines() {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			switch f[0] {
			case "opening":
				if early {
					c.KillAfter(time.Duration(r.IntN(30_000)) * time.Microsecond)
				}
			case "opened":
				switch {
				case at != "":
					c.KillAfter(time.Duration(200+r.IntN(300)) * time.Millisecond)
				case !early:
					c.KillAfter(time.Duration(20+r.IntN(280)) * time.Millisecond)
				}
			case "begin":
				ws, err := ParseWrites(f[2:])
				if err != nil {
					fail("line %q: %v", line, err)
				}
				inFlight = h.Begin(ws, true, false)
			case "ack":
				if inFlight < 0 {
					fail("acknowledgement %q of no operation in flight", line)
				}
				h.Ack(inFlight)
				inFlight = -1
				st.Acked++
			case "failpoint":
				st.FailpointKills++
			case "error":
				fail("child failed: %s", line)
			}
		}
		killed, err := c.Wait()
		if c.Hung() {
			fail("the child hung; killed after a minute")
		}
		if !killed {
			fail("child ended without SIGKILL: %v", err)
		}
		if early {
			st.EarlyKills++
		}
		st.Kills++
		read, err := spec.Recover(method, mustExist)
		if err != nil {
			fail("recover: %v", err)
		}
		cut := h.Cut()
		res := cut.Check(read, spec.Keys)
		if len(res.Problems) > 0 {
			fail("after the kill:\n%s", strings.Join(res.Problems, "\n"))
		}
		if err := cut.CheckAtomic(read); err != nil {
			fail("after the kill: %v", err)
		}
		st.Durable += res.Durable
		st.KeyChecks += spec.Keys
		h.Reset(read)
		mustExist = true
	}
	return st
}

// CrashConfig is c as a crash test's child and parent alike open the
// engine with: dead records in the file dictionary trigger a rewrite
// often, so the rewrite's failpoints are reached.
func CrashConfig(c keyenv.Config) keyenv.Config {
	c.FileDictionaryRewriteThreshold = 32
	return c
}
