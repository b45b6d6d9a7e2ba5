//go:build unix

package operator

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/internal/dicttest"
	"github.com/atrest/atrest/keyenv"
)

// The re-encryption crash test: a child process (this test binary,
// re-executed) opens a directory of files written under one method with
// another method configured, and runs ReencryptAll, reporting its progress
// after each file; then it runs ReencryptAll again, which must find
// nothing, and exits. The parent kills it with SIGKILL at a random moment,
// or the child kills itself at a named failpoint, and then checks that
// every file reads back exactly (wholly old or wholly new, never lost,
// never unreadable) and that the files the child reported done are on the
// new method, and that the next run selects exactly the files not yet
// done. Children are started until one finishes; then the directory is
// re-encrypted to a third method the same way. At the end no temporary
// file is left and only the current data key remains.

const (
	envReencChild  = "ATREST_DICT_REENC_CHILD"
	envReencDir    = "ATREST_DICT_REENC_DIR"
	envReencMethod = "ATREST_DICT_REENC_METHOD"
	envReencRate   = "ATREST_DICT_REENC_RATE"  // bytes per second, 0: none
	envReencAt     = "ATREST_DICT_REENC_AT"    // failpoint name:hit
	envReencKills  = "ATREST_DICT_REENC_KILLS" // kills per method change
)

// reencCrashFiles are the directory's files: some large enough for
// several chunks at the rates the child runs at.
var reencCrashFiles = []reFile{
	{"000001.sst", 0}, {"000002.sst", 1}, {"000003.sst", 4096},
	{"000004.sst", 70_000}, {"000005.sst", 150_000}, {"000006.log", 33_333},
	{"MANIFEST-000007", 2_000}, {"sub/000008.sst", 260_000}, {"sub/000009.sst", 90_000},
	{"sub/deep/000010.sst", 120_000}, {"000011.sst", 50_000}, {"000012.sst", 10},
}

// reencCrashFailpoints are the points the child may die at: the steps of
// re-encryption, the temporary file's create, and the file dictionary's
// writes under them.
var reencCrashFailpoints = []string{
	"create.after-entry", "reencrypt.after-chunk", "reencrypt.after-temp-sync",
	"reencrypt.after-intent", "reencrypt.after-rename", "reencrypt.after-commit",
	"remove.after-unlink", "append.after-write", "append.after-sync",
	"rewrite.after-temp-sync", "rewrite.after-rename", "rotate.after-save",
}

func reencCrashConfig(dir string, method ctr.Method) keyenv.Config {
	c := keyenv.DefaultConfig()
	c.DataEncryptionMethod = method
	c.FileDictionaryRewriteThreshold = 8 // compactions often
	c.MasterKey = keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: filepath.Join(dir, "..", "master.key")}
	return c
}

// TestReencryptCrashChild is the child's body; it does nothing unless
// re-executed by TestReencryptCrash.
func TestReencryptCrashChild(t *testing.T) {
	if os.Getenv(envReencChild) != "1" {
		t.Skip("the re-encryption crash test's child process; run by TestReencryptCrash")
	}
	dir := os.Getenv(envReencDir)
	method, err := ctr.ParseMethod(os.Getenv(envReencMethod))
	if err != nil {
		t.Fatal(err)
	}
	rate, _ := strconv.ParseInt(os.Getenv(envReencRate), 10, 64)
	opts := []dict.Option{dict.WithFailpoint(crashtest.Failpoint(envReencAt))} // nil: none
	say := crashtest.Say
	m, err := dict.Open(context.Background(), dir, reencCrashConfig(dir, method), opts...)
	if err != nil {
		crashtest.Die("open: %v", err)
	}
	say("start")
	p, err := ReencryptAll(context.Background(), m, ReencryptOptions{Rate: rate, Progress: func(p dict.ReencryptProgress) {
		say("progress %d %d %d", p.FilesDone, p.FilesTotal, p.Failed)
	}})
	if err != nil || p.FilesDone != p.FilesTotal {
		crashtest.Die("reencrypt: %+v: %v", p, err)
	}
	p, err = ReencryptAll(context.Background(), m, ReencryptOptions{})
	if err != nil {
		crashtest.Die("second run: %v", err)
	}
	say("rerun %d", p.FilesTotal)
	if err := m.Close(); err != nil {
		crashtest.Die("close: %v", err)
	}
	say("done")
}

// reencCrashCheck opens dir with method, checks that every file reads back
// exactly and is on method from or to, and returns how many are on to
// (under the current key) and the temporary files on disk.
func reencCrashCheck(t *testing.T, dir string, from, to ctr.Method) (onNew int, temps []string) {
	t.Helper()
	m, err := dict.Open(context.Background(), dir, reencCrashConfig(dir, to))
	if err != nil {
		t.Fatalf("reopen after the kill: %v", err)
	}
	defer m.Close()
	_, cur := m.DataKeys()
	for _, f := range reencCrashFiles {
		data, err := dicttest.ReadFile(m, f.name)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if !bytes.Equal(data, reContent(f.name, f.size)) {
			t.Fatalf("%s: %d bytes that are not its content (want %d)", f.name, len(data), f.size)
		}
		e, ok, _ := m.Lookup(f.name)
		switch {
		case ok && e.Method == to && e.KeyID == cur:
			onNew++
		case ok && e.Method == from:
		default:
			t.Fatalf("%s: entry %+v %v: neither %s nor %s under the current key %d", f.name, e, ok, from, to, cur)
		}
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		r, _ := filepath.Rel(dir, p)
		r = filepath.ToSlash(r)
		switch {
		case d.IsDir(), dict.IsDictionaryFile(r):
		case dict.IsReencryptTemp(r):
			temps = append(temps, r)
			base := strings.TrimSuffix(r, dict.ReencryptTempSuffix)
			if !slices.ContainsFunc(reencCrashFiles, func(f reFile) bool { return f.name == base }) {
				t.Fatalf("temporary file %s of no file", r)
			}
		case !slices.ContainsFunc(reencCrashFiles, func(f reFile) bool { return f.name == r }):
			t.Fatalf("unexpected file %s", r)
		}
		return nil
	})
	return onNew, temps
}

func TestReencryptCrash(t *testing.T) {
	if os.Getenv(envReencChild) != "" {
		t.Skip("inside the child")
	}
	// -short: under -race each child takes a third of a second.
	kills := crashtest.Count(t, envReencKills, 24, 6)
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	os.MkdirAll(filepath.Join(dir, "sub", "deep"), 0o755)
	os.WriteFile(filepath.Join(root, "master.key"), []byte(strings.Repeat("e7", 32)+"\n"), 0o600)

	// The files, under three data keys of the first method.
	m, err := dict.Open(context.Background(), dir, reencCrashConfig(dir, ctr.AES128CTR))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range reencCrashFiles {
		if i%5 == 4 {
			if err := m.RotateDataKey(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		f2, err := m.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		f2.Write(reContent(f.name, f.size))
		if err := f2.Sync(); err != nil {
			t.Fatal(err)
		}
		f2.Close()
	}
	m.Close()

	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	// The method changes round these; each time a child finishes, the
	// next change begins, until the kills are spent and one last child
	// finishes the change under way.
	methods := []ctr.Method{ctr.SM4CTR, ctr.AES256CTR, ctr.AES128CTR}
	from, stage := ctr.AES128CTR, 0
	to := methods[stage]
	onNew, kill, children := 0, 0, 0
	// How the kills fell: with a temporary file on disk, and with the
	// file in flight already swapped in.
	withTemp, inFlightDone := 0, 0
	for {
		killing := kill < kills
		mode := kill % 3
		env := []string{envReencChild + "=1", envReencDir + "=" + dir, envReencMethod + "=" + to.String()}
		rate := 0
		if killing && mode == 0 {
			rate = 4 << 20 // the whole run takes about 0.2 s
		}
		env = append(env, fmt.Sprintf("%s=%d", envReencRate, rate))
		what := "no kill"
		if killing && mode == 1 {
			fp := reencCrashFailpoints[r.IntN(len(reencCrashFailpoints))]
			hit := 1 + r.IntN(6)
			env = append(env, fmt.Sprintf("%s=%s:%d", envReencAt, fp, hit))
			what = fmt.Sprintf("failpoint %s:%d", fp, hit)
		}
		c := crashtest.Start(t, "TestReencryptCrashChild", env)
		children++
		// Never hang: a child left to finish has a minute.
		c.Watchdog(time.Minute)
		done, selected, rerun, finished := 0, -1, -1, false
		for line := range c.Lines() {
			fields := strings.Fields(line)
			switch fields[0] {
			case "start":
				switch {
				case killing && mode == 0:
					d := time.Duration(r.IntN(150)) * time.Millisecond
					c.KillAfter(d)
					what = fmt.Sprintf("kill after %v at 4 MiB/s", d)
				case killing && mode == 2:
					d := time.Duration(r.IntN(10000)) * time.Microsecond
					c.KillAfter(d)
					what = fmt.Sprintf("kill after %v, no rate limit", d)
				case killing:
					// Give the failpoint its chance; kill anyway later.
					c.KillAfter(time.Duration(200+r.IntN(200)) * time.Millisecond)
				}
			case "progress":
				d, _ := strconv.Atoi(fields[1])
				n, _ := strconv.Atoi(fields[2])
				if failed, _ := strconv.Atoi(fields[3]); failed != 0 || d < done || (selected >= 0 && n != selected) {
					c.Abort()
					t.Fatalf("child %d: bad progress %q after %d of %d", children, line, done, selected)
				}
				done, selected = d, n
			case "rerun":
				rerun, _ = strconv.Atoi(fields[1])
			case "done":
				finished = true
			case "error":
				c.Abort()
				t.Fatalf("child %d (%s): %s\n%s", children, what, line, c.Stderr())
			}
		}
		killed, err := c.Wait()
		switch {
		case killed && !killing:
			t.Fatalf("child %d, left to finish, still ran after a minute\n%s", children, c.Stderr())
		case !killed && (err != nil || !finished):
			t.Fatalf("child %d (%s) ended without SIGKILL and without finishing: %v\n%s", children, what, err, c.Stderr())
		case killed:
			kill++
		}

		// The run selects exactly the files not yet on the new method:
		// resuming needs no memory of earlier runs.
		if selected >= 0 && selected != len(reencCrashFiles)-onNew {
			t.Fatalf("child %d (%s): %d files selected, %d of %d were done before", children, what, selected, onNew, len(reencCrashFiles))
		}
		now, temps := reencCrashCheck(t, dir, from, to)
		// Every file reported done is durable; the one in flight may or
		// may not be.
		if now < onNew+done || now > onNew+done+1 {
			t.Fatalf("child %d (%s): %d files on %s, %d before and %d reported done", children, what, now, to, onNew, done)
		}
		if killed && len(temps) > 0 {
			withTemp++
		}
		if killed && now == onNew+done+1 {
			inFlightDone++
		}
		onNew = now
		if killed {
			continue
		}
		if rerun != 0 || onNew != len(reencCrashFiles) || len(temps) != 0 {
			t.Fatalf("child %d finished with a second run of %d files, %d of %d files on %s, temporary files %v",
				children, rerun, onNew, len(reencCrashFiles), to, temps)
		}
		t.Logf("%s → %s finished after %d kills in all", from, to, kill)
		if !killing {
			break
		}
		stage++
		from, to, onNew = to, methods[stage%len(methods)], 0
	}

	// Only the current key is left, and nothing to do.
	m, err = dict.Open(context.Background(), dir, reencCrashConfig(dir, to))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if ids, cur := m.DataKeys(); len(ids) != 1 || ids[0] != cur {
		t.Errorf("data keys %v, current %d: old keys left", ids, cur)
	}
	if p, err := ReencryptAll(context.Background(), m, ReencryptOptions{}); err != nil || p.FilesTotal != 0 {
		t.Errorf("a last run: %+v, %v", p, err)
	}
	t.Logf("%d child processes, %d killed (%d leaving a temporary file, %d after the swap of a file not yet reported), checked",
		children, kill, withTemp, inFlightDone)
}
