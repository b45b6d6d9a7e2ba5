//go:build unix

package dict

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/keyenv"
)

// The crash test: a child process (this test binary, re-executed) runs
// random file operations on a Manager and reports each one before it
// starts ("begin") and after it returned ("ack"). The parent kills it with
// SIGKILL at a random moment, or the child kills itself at a named
// failpoint; then the parent reopens the directory and checks that every
// acknowledged file reads back byte for byte and that no file is
// unreadable. Only the one operation in flight may have either outcome.

const (
	envCrashChild = "ATREST_DICT_CRASH_CHILD"
	envCrashDir   = "ATREST_DICT_CRASH_DIR"
	envCrashSeed  = "ATREST_DICT_CRASH_SEED"
	envCrashAt    = "ATREST_DICT_CRASH_AT"    // failpoint name:hit
	envCrashKills = "ATREST_DICT_CRASH_KILLS" // make crash raises the count
)

// crashNames is the child's namespace: few names, so operations collide.
var crashNames = []string{"a", "b", "c", "d", "e", "f", "sub/g", "sub/h"}

// crashFailpoints are the named points the child may die at.
var crashFailpoints = []string{
	"create.after-entry", "truncate.after-sync", "remove.after-unlink",
	"link.after-entry", "rename.after-intent", "rename.after-rename", "rename.after-sync",
	"rotate.before-save", "rotate.after-save",
	"append.after-extend", "append.before-write", "append.after-write", "append.after-sync",
	"rewrite.after-temp-sync", "rewrite.after-rename",
}

// fileContent is self-describing: a header naming its generation and
// length, a body derived from the generation, a checksum. A file read back
// is either exactly some generation's content or detectably not.
func fileContent(gen uint64) []byte {
	r := rand.New(rand.NewPCG(gen, gen^0x9e3779b97f4a7c15))
	n := 16 + r.IntN(20000)
	b := make([]byte, n)
	binary.BigEndian.PutUint64(b, gen)
	binary.BigEndian.PutUint32(b[8:], uint32(n))
	for i := 16; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	binary.BigEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[16:]))
	return b
}

// parseContent returns the generation of a well-formed content.
func parseContent(b []byte) (uint64, bool) {
	if len(b) < 16 || int(binary.BigEndian.Uint32(b[8:])) != len(b) {
		return 0, false
	}
	gen := binary.BigEndian.Uint64(b)
	return gen, bytes.Equal(b, fileContent(gen))
}

func crashConfig(dir string) keyenv.Config {
	c := keyenv.DefaultConfig()
	c.DataEncryptionMethod = ctr.AES128CTR
	c.FileDictionaryRewriteThreshold = 16 // compactions all the time
	c.MasterKey = keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: filepath.Join(dir, "..", "master.key")}
	return c
}

// TestCrashChild is the child's body; it does nothing unless re-executed.
func TestCrashChild(t *testing.T) {
	if os.Getenv(envCrashChild) != "1" {
		t.Skip("the crash test's child process; run by TestCrashRecovery")
	}
	dir := os.Getenv(envCrashDir)
	seed, _ := strconv.ParseUint(os.Getenv(envCrashSeed), 10, 64)
	r := rand.New(rand.NewPCG(seed, 7))
	opts := crashFailpointOptions(envCrashAt)
	m, err := Open(context.Background(), dir, crashConfig(dir), opts...)
	if err != nil {
		crashtest.Die("open: %v", err)
	}
	say := crashtest.Say
	exists := func(name string) bool {
		_, err := os.Lstat(filepath.Join(dir, name))
		return err == nil
	}
	sameFile := func(a, b string) bool {
		sa, ea := os.Lstat(filepath.Join(dir, a))
		sb, eb := os.Lstat(filepath.Join(dir, b))
		return ea == nil && eb == nil && os.SameFile(sa, sb)
	}
	pick := func() string { return crashNames[r.IntN(len(crashNames))] }
	for {
		a, b := pick(), pick()
		switch op := r.IntN(10); {
		case op < 4: // create or overwrite
			gen := r.Uint64()
			say("begin create %s %d", a, gen)
			f, err := m.Create(a)
			if err == nil {
				_, err = f.Write(fileContent(gen))
				if err == nil {
					err = f.Sync()
				}
				f.Close()
			}
			if err != nil {
				crashtest.Die("create %s: %v", a, err)
			}
			say("ack create %s %d", a, gen)
		case op == 4 && exists(a) && a != b && !sameFile(a, b):
			// (Renaming one of a file's names onto another does nothing, as
			// rename(2) does; the model does not track links, so skip it.)
			say("begin rename %s %s", a, b)
			if err := m.Rename(a, b); err != nil {
				crashtest.Die("rename: %v", err)
			}
			say("ack rename %s %s", a, b)
		case op == 5 && exists(a) && !exists(b):
			say("begin link %s %s", a, b)
			if err := m.Link(a, b); err != nil {
				crashtest.Die("link: %v", err)
			}
			say("ack link %s %s", a, b)
		case op == 6 && exists(a):
			say("begin remove %s", a)
			if err := m.Remove(a); err != nil {
				crashtest.Die("remove: %v", err)
			}
			say("ack remove %s", a)
		case op == 7 && exists(a) && a != b:
			gen := r.Uint64()
			say("begin reuse %s %s %d", a, b, gen)
			f, err := m.ReuseForWrite(a, b)
			if err == nil {
				// Overwrite the whole file, then cut it to the new length.
				c := fileContent(gen)
				_, err = f.WriteAt(c, 0)
				if err == nil {
					err = f.Truncate(int64(len(c)))
				}
				if err == nil {
					err = f.Sync()
				}
				f.Close()
			}
			if err != nil {
				crashtest.Die("reuse: %v", err)
			}
			say("ack reuse %s %s %d", a, b, gen)
		case op == 8:
			say("begin rotate")
			if err := m.RotateDataKey(context.Background()); err != nil {
				crashtest.Die("rotate: %v", err)
			}
			say("ack rotate")
		}
	}
}

// crashModel is what the parent knows: each name's acknowledged
// generation; names holding leftovers of an unacknowledged create (an
// empty or partly written file, readable but of no generation), which are
// tolerated until an acknowledged operation replaces them; and, for the
// operation in flight at the kill, what each name it touched may hold.
type crashModel struct {
	history   []string // recent operations, for failure messages
	files     map[string]uint64
	junk      map[string]bool
	uncertain map[string]*allowed
}

type allowed struct {
	absent    bool
	any       bool     // a junk name stays junk
	gens      []uint64 // whole generations
	partialOf []uint64 // prefixes of these generations' content
}

func (cm *crashModel) apply(fields []string) {
	gen := func(i int) uint64 { g, _ := strconv.ParseUint(fields[i], 10, 64); return g }
	set := func(name string, g uint64) { cm.files[name] = g; delete(cm.junk, name) }
	drop := func(name string) { delete(cm.files, name); delete(cm.junk, name) }
	copyTo := func(from, to string) {
		if g, ok := cm.files[from]; ok {
			set(to, g)
		} else if cm.junk[from] {
			delete(cm.files, to)
			cm.junk[to] = true
		}
	}
	switch fields[0] {
	case "create":
		set(fields[1], gen(2))
	case "rename":
		copyTo(fields[1], fields[2])
		drop(fields[1])
	case "link":
		copyTo(fields[1], fields[2])
	case "remove":
		drop(fields[1])
	case "reuse":
		drop(fields[1])
		set(fields[2], gen(3))
	}
}

func (cm *crashModel) note(line string) {
	if len(cm.history) >= 40 {
		cm.history = cm.history[1:]
	}
	cm.history = append(cm.history, line)
}

// state is what a name may hold now: its own state, as allowed.
func (cm *crashModel) state(name string) *allowed {
	a := &allowed{}
	if g, ok := cm.files[name]; ok {
		a.gens = []uint64{g}
	} else if cm.junk[name] {
		a.any, a.absent = true, true
	} else {
		a.absent = true
	}
	return a
}

// inFlight records what an unacknowledged operation may have left.
func (cm *crashModel) inFlight(fields []string) {
	gen := func(i int) uint64 { g, _ := strconv.ParseUint(fields[i], 10, 64); return g }
	orState := func(name string, more *allowed) {
		a := cm.state(name)
		a.absent = a.absent || more.absent
		a.any = a.any || more.any
		a.gens = append(a.gens, more.gens...)
		a.partialOf = append(a.partialOf, more.partialOf...)
		cm.uncertain[name] = a
	}
	switch fields[0] {
	case "create":
		// Absent too: a create over a name with other hard links removes
		// the name first.
		orState(fields[1], &allowed{absent: true, gens: []uint64{gen(2)}, partialOf: []uint64{gen(2)}})
	case "rename":
		orState(fields[2], cm.state(fields[1]))
		orState(fields[1], &allowed{absent: true})
	case "link":
		orState(fields[2], cm.state(fields[1]))
	case "remove":
		orState(fields[1], &allowed{absent: true})
	case "reuse":
		// The renamed file keeps the old bytes (noise under the fresh IV)
		// until the rewrite lands.
		orState(fields[2], &allowed{any: true, absent: true, gens: []uint64{gen(3)}})
		orState(fields[1], &allowed{absent: true})
	}
}

// check opens the directory and compares every name with the model, then
// adopts what the disk shows for the names the in-flight operation
// touched.
func (cm *crashModel) check(t *testing.T, dir string) {
	t.Helper()
	m, err := Open(context.Background(), dir, crashConfig(dir))
	if err != nil {
		t.Fatalf("reopen after the kill: %v", err)
	}
	defer m.Close()
	for _, name := range crashNames {
		f, err := m.Open(name)
		present := err == nil
		if !present && !os.IsNotExist(err) {
			t.Fatalf("%s: open: %v", name, err)
		}
		var data []byte
		if present {
			data, err = io.ReadAll(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: read: %v", name, err)
			}
		}
		gen, whole := parseContent(data)
		a, touched := cm.uncertain[name]
		if !touched {
			a = cm.state(name)
		}
		ok := false
		switch {
		case !present:
			ok = a.absent
		case a.any:
			ok = true
		case whole && slices.Contains(a.gens, gen):
			ok = true
		default:
			for _, g := range a.partialOf {
				ok = ok || bytes.HasPrefix(fileContent(g), data)
			}
		}
		if !ok {
			t.Logf("recent operations:\n%s", strings.Join(cm.history, "\n"))
			t.Fatalf("%s: present=%v, %d bytes, generation %d (whole=%v); model allows %+v (touched by the operation in flight: %v)",
				name, present, len(data), gen, whole, *a, touched)
		}
		if !touched {
			continue
		}
		switch {
		case !present:
			delete(cm.files, name)
			delete(cm.junk, name)
		case whole && slices.Contains(a.gens, gen):
			cm.files[name] = gen
			delete(cm.junk, name)
		default:
			delete(cm.files, name)
			cm.junk[name] = true
		}
	}
	clear(cm.uncertain)
}

func TestCrashRecovery(t *testing.T) {
	if runtime := os.Getenv(envCrashChild); runtime != "" {
		t.Skip("inside the child")
	}
	kills := crashtest.Count(t, envCrashKills, 200, 40)
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(root, "master.key"), []byte(strings.Repeat("c3", 32)+"\n"), 0o600)
	cm := &crashModel{files: map[string]uint64{}, junk: map[string]bool{}, uncertain: map[string]*allowed{}}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	acked := 0
	for kill := range kills {
		env := []string{envCrashChild + "=1", envCrashDir + "=" + dir, envCrashSeed + "=" + strconv.FormatUint(r.Uint64(), 10)}
		byFailpoint := kill%2 == 1
		if byFailpoint {
			fp := crashFailpoints[r.IntN(len(crashFailpoints))]
			env = append(env, fmt.Sprintf("%s=%s:%d", envCrashAt, fp, 1+r.IntN(3)))
		}
		c := crashtest.Start(t, "TestCrashChild", env)
		delay := time.Duration(2+r.IntN(40)) * time.Millisecond
		if byFailpoint {
			// Give the failpoint its chance; SIGKILL anyway if it is never hit.
			delay = time.Duration(50+r.IntN(100)) * time.Millisecond
		}
		c.KillAfter(delay)
		var pending []string
		for line := range c.Lines() {
			fields := strings.Fields(line)
			switch fields[0] {
			case "begin":
				pending = fields[1:]
				cm.note(line)
			case "ack":
				cm.note(line)
				cm.apply(fields[1:])
				pending = nil
				acked++
			case "error":
				c.Abort()
				t.Fatalf("child failed: %s\n%s", line, c.Stderr())
			}
		}
		if killed, err := c.Wait(); !killed {
			t.Fatalf("child ended without SIGKILL: %v\n%s", err, c.Stderr())
		}
		cm.note(fmt.Sprintf("-- kill %d (failpoint run: %v)", kill, byFailpoint))
		if pending != nil {
			cm.inFlight(pending)
		}
		cm.check(t, dir)
	}
	t.Logf("%d kills, %d acknowledged operations checked", kills, acked)
}
