package operator

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/internal/dicttest"
)

// reContent is name's test content: n pseudo-random bytes seeded by the
// name, so a byte at the wrong offset or under the wrong keystream shows.
func reContent(name string, n int) []byte {
	h := fnv.New64a()
	h.Write([]byte(name))
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], h.Sum64())
	binary.LittleEndian.PutUint64(seed[8:], uint64(n))
	b := make([]byte, n)
	rand.NewChaCha8(seed).Read(b)
	return b
}

// reFile is a test file and its size.
type reFile struct {
	name string
	size int
}

// reFiles are sizes around the edges: empty, under one block, not a
// multiple of the block, over one copy chunk.
var reFiles = []reFile{
	{"empty", 0},
	{"one", 1},
	{"small.sst", 4099},
	{"sub/mid.sst", 200_000},
	{"sub/deep/big.sst", reencryptChunk + 17},
}

func reWrite(t *testing.T, m *dict.Manager, files []reFile) {
	t.Helper()
	for _, f := range files {
		if dir := filepath.Dir(f.name); dir != "." {
			if err := os.MkdirAll(filepath.Join(m.Dir(), dir), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		dicttest.WriteFile(t, m, f.name, reContent(f.name, f.size))
	}
}

func reCheckContent(t *testing.T, m *dict.Manager, files []reFile) {
	t.Helper()
	for _, f := range files {
		if got := readFile(t, m, f.name); !bytes.Equal(got, reContent(f.name, f.size)) {
			t.Fatalf("%s: content differs after re-encryption (%d bytes, want %d)", f.name, len(got), f.size)
		}
	}
}

// reNoTemps fails if a re-encryption temporary file is left in dir.
func reNoTemps(t *testing.T, dir string) {
	t.Helper()
	reNoTempsOn(t, fsys.OS(), dir)
}

func reLookup(t *testing.T, m *dict.Manager, name string) (dict.Entry, bool) {
	t.Helper()
	if dict.IsReencryptTemp(name) { // reserved: Lookup refuses the name
		for n, e := range m.Maintenance().Entries() {
			if n == name {
				return e, true
			}
		}
		return dict.Entry{}, false
	}
	e, ok, err := m.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return e, ok
}

// TestReencrypt re-encrypts files from one configuration to another
// (reopening the Manager with the new method) and checks content, entry,
// bytes on disk and the data keys.
func TestReencrypt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to ctr.Method
		// rawFrom writes the files around the Manager (plaintext, no
		// entry), as before encryption was turned on.
		rawFrom bool
	}{
		{name: "aes128-to-sm4", from: ctr.AES128CTR, to: ctr.SM4CTR},
		{name: "sm4-to-aes256", from: ctr.SM4CTR, to: ctr.AES256CTR},
		{name: "aes256-to-aes128", from: ctr.AES256CTR, to: ctr.AES128CTR},
		{name: "aes128-to-plaintext", from: ctr.AES128CTR, to: ctr.Plaintext},
		{name: "no-entry-to-sm4", from: ctr.SM4CTR, to: ctr.SM4CTR, rawFrom: true},
		{name: "plaintext-entry-to-aes192", from: ctr.Plaintext, to: ctr.AES192CTR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			ctx := context.Background()
			if tc.from == ctr.Plaintext {
				// Entries with method plaintext: a directory encrypted
				// once, then opened with method plaintext.
				env.open(ctr.AES128CTR).Close()
			}
			m := env.open(tc.from)
			if tc.rawFrom {
				for _, f := range reFiles {
					p := filepath.Join(env.dir, filepath.FromSlash(f.name))
					os.MkdirAll(filepath.Dir(p), 0o755)
					if err := os.WriteFile(p, reContent(f.name, f.size), 0o640); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				reWrite(t, m, reFiles)
			}
			oldKeys, _ := m.DataKeys()
			m.Close()

			m = env.open(tc.to)
			defer m.Close()
			for _, f := range reFiles {
				before, _ := os.Stat(filepath.Join(env.dir, f.name))
				if err := Reencrypt(ctx, m, f.name); err != nil {
					t.Fatalf("reencrypt %s: %v", f.name, err)
				}
				after, _ := os.Stat(filepath.Join(env.dir, f.name))
				if os.SameFile(before, after) {
					t.Errorf("%s: same file after re-encryption", f.name)
				}
				if before.Mode() != after.Mode() {
					t.Errorf("%s: mode %v, was %v", f.name, after.Mode(), before.Mode())
				}
			}
			reCheckContent(t, m, reFiles)
			reNoTemps(t, env.dir)
			ids, cur := m.DataKeys()
			for _, f := range reFiles {
				e, ok := reLookup(t, m, f.name)
				raw, err := os.ReadFile(filepath.Join(env.dir, f.name))
				if err != nil {
					t.Fatal(err)
				}
				want := reContent(f.name, f.size)
				if tc.to == ctr.Plaintext {
					if !ok || e.Method != ctr.Plaintext {
						t.Errorf("%s: entry %+v %v, want method plaintext", f.name, e, ok)
					}
					if !bytes.Equal(raw, want) {
						t.Errorf("%s: not plaintext on disk", f.name)
					}
					continue
				}
				if !ok || e.Method != tc.to || e.KeyID != cur {
					t.Errorf("%s: entry %+v %v, want %s under current key %d", f.name, e, ok, tc.to, cur)
				}
				if f.size > 16 && bytes.Equal(raw, want) {
					t.Errorf("%s: plaintext on disk", f.name)
				}
			}
			if tc.to != ctr.Plaintext {
				// Every file moved to the current key: no other is kept.
				if !slices.Equal(ids, []uint64{cur}) {
					t.Errorf("data keys %v, want only the current %d (before: %v)", ids, cur, oldKeys)
				}
			}

			// Again: everything is current, nothing is touched.
			for _, f := range reFiles {
				before, _ := os.Stat(filepath.Join(env.dir, f.name))
				if err := Reencrypt(ctx, m, f.name); err != nil {
					t.Fatal(err)
				}
				after, _ := os.Stat(filepath.Join(env.dir, f.name))
				if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
					t.Errorf("%s: rewritten although current", f.name)
				}
			}
			p, err := ReencryptAll(ctx, m, ReencryptOptions{})
			if err != nil || p.FilesTotal != 0 {
				t.Errorf("ReencryptAll after: %+v, %v; want nothing selected", p, err)
			}

			// And all of it survives a restart.
			m.Close()
			m = env.open(tc.to)
			reCheckContent(t, m, reFiles)
		})
	}
}

// TestReencryptCurrentUntouched: a file already under the current key and
// method is neither rewritten nor renamed.
func TestReencryptCurrentUntouched(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES256CTR)
	defer m.Close()
	dicttest.WriteFile(t, m, "a", reContent("a", 5000))
	before, _ := os.Stat(filepath.Join(env.dir, "a"))
	e0, _ := reLookup(t, m, "a")
	time.Sleep(10 * time.Millisecond) // a rewrite would show in the time
	if err := Reencrypt(context.Background(), m, "a"); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(filepath.Join(env.dir, "a"))
	e1, _ := reLookup(t, m, "a")
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) || e0 != e1 {
		t.Fatalf("current file touched: inode same %v, mtime %v → %v, entry %+v → %+v",
			os.SameFile(before, after), before.ModTime(), after.ModTime(), e0, e1)
	}
	if _, err := os.Lstat(filepath.Join(env.dir, "a"+dict.ReencryptTempSuffix)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file created: %v", err)
	}
}

func TestReencryptErrors(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	dicttest.WriteFile(t, m, "a", []byte("x"))
	os.Mkdir(filepath.Join(env.dir, "d"), 0o755)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		want error
	}{
		{"missing", fs.ErrNotExist},
		{"../outside", dict.ErrOutsideDir},
		{filepath.Join(filepath.Dir(env.dir), "elsewhere"), dict.ErrOutsideDir},
		{dict.KeyDictName, dict.ErrReserved},
		{dict.FileDictName, dict.ErrReserved},
		{"a" + dict.ReencryptTempSuffix, dict.ErrReserved},
		{".", dict.ErrDataDir},
		{"d", nil}, // an error of its own: not a regular file
	} {
		err := Reencrypt(ctx, m, tc.name)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("Reencrypt(%q) = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := os.Symlink("a", filepath.Join(env.dir, "link")); err == nil {
		if err := Reencrypt(ctx, m, "link"); err == nil {
			t.Error("Reencrypt of a symbolic link succeeded")
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	m.Close()
	m = env.open(ctr.SM4CTR)
	if err := Reencrypt(cctx, m, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Reencrypt with a cancelled context = %v", err)
	}
	if e, _ := reLookup(t, m, "a"); e.Method != ctr.AES128CTR {
		t.Errorf("cancelled re-encryption changed the entry: %+v", e)
	}
	if _, err := ReencryptAll(ctx, m, ReencryptOptions{Rate: -1}); err == nil {
		t.Error("negative rate accepted")
	}
	m.Close()
	if err := Reencrypt(ctx, m, "a"); !errors.Is(err, dict.ErrClosed) {
		t.Errorf("Reencrypt after Close = %v", err)
	}
	if _, err := ReencryptAll(ctx, m, ReencryptOptions{}); !errors.Is(err, dict.ErrClosed) {
		t.Errorf("ReencryptAll after Close = %v", err)
	}
}

// TestReencryptNeverEncrypted: a directory without dictionaries, opened
// with method plaintext, has nothing to re-encrypt.
func TestReencryptNeverEncrypted(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.Plaintext)
	defer m.Close()
	os.WriteFile(filepath.Join(env.dir, "a"), []byte("plain"), 0o644)
	ctx := context.Background()
	if err := Reencrypt(ctx, m, "a"); err != nil {
		t.Fatal(err)
	}
	if err := Reencrypt(ctx, m, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	p, err := ReencryptAll(ctx, m, ReencryptOptions{})
	if err != nil || p.FilesTotal != 0 || p.Running {
		t.Fatalf("ReencryptAll: %+v, %v", p, err)
	}
	if m.Encrypted() {
		t.Fatal("re-encryption created dictionaries")
	}
}

// TestReencryptAllOlderThan selects by key age after rotations under a
// fake clock, and drops each old key with its last file.
func TestReencryptAllOlderThan(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	files := []reFile{{"a", 3000}, {"b", 70000}}
	reWrite(t, m, files)
	_, k1 := m.DataKeys()
	env.Advance(3 * 24 * time.Hour)
	if err := m.RotateDataKey(ctx); err != nil {
		t.Fatal(err)
	}
	_, k2 := m.DataKeys()
	files = append(files, reFile{"c", 12345})
	reWrite(t, m, files[2:])
	env.Advance(3 * 24 * time.Hour)
	if err := m.RotateDataKey(ctx); err != nil {
		t.Fatal(err)
	}
	_, k3 := m.DataKeys()
	files = append(files, reFile{"d", 999})
	reWrite(t, m, files[3:])
	// Now k1 is 6 days old (a, b), k2 3 days (c), k3 current (d).
	keyOf := func(name string) uint64 { e, _ := reLookup(t, m, name); return e.KeyID }

	for _, step := range []struct {
		olderThan time.Duration
		selected  int
		keys      []uint64
		want      map[string]uint64
	}{
		{7 * 24 * time.Hour, 0, []uint64{k1, k2, k3}, map[string]uint64{"a": k1, "b": k1, "c": k2, "d": k3}},
		{5 * 24 * time.Hour, 2, []uint64{k2, k3}, map[string]uint64{"a": k3, "b": k3, "c": k2, "d": k3}},
		{0, 1, []uint64{k3}, map[string]uint64{"a": k3, "b": k3, "c": k3, "d": k3}},
		{0, 0, []uint64{k3}, map[string]uint64{"a": k3, "b": k3, "c": k3, "d": k3}},
	} {
		p, err := ReencryptAll(ctx, m, ReencryptOptions{OlderThan: step.olderThan})
		if err != nil {
			t.Fatal(err)
		}
		if p.FilesTotal != step.selected || p.FilesDone != step.selected || p.Failed != 0 {
			t.Errorf("older than %v: %+v, want %d selected and done", step.olderThan, p, step.selected)
		}
		ids, _ := m.DataKeys()
		slices.Sort(step.keys)
		if !slices.Equal(ids, step.keys) {
			t.Errorf("older than %v: keys %v, want %v", step.olderThan, ids, step.keys)
		}
		for name, k := range step.want {
			if got := keyOf(name); got != k {
				t.Errorf("older than %v: %s under key %d, want %d", step.olderThan, name, got, k)
			}
		}
		reCheckContent(t, m, files)
	}
}

// TestReencryptAllConcurrentReaders reads every file over and over, by
// fresh handles and by handles opened before the run, while ReencryptAll
// changes the method of all of them.
func TestReencryptAllConcurrentReaders(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	var files []reFile
	for i := range 8 {
		files = append(files, reFile{string(rune('a'+i)) + ".sst", 50_000 + i*40_000})
	}
	reWrite(t, m, files)
	m.Close()
	m = env.open(ctr.SM4CTR)
	defer m.Close()

	early := make(map[string]io.ReaderAt)
	for _, f := range files {
		h, err := m.Open(f.name)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		early[f.name] = h
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var reads atomic.Int64
	errc := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for ctx.Err() == nil {
				f := files[r.IntN(len(files))]
				h, err := m.Open(f.name)
				if err != nil {
					errc <- err
					return
				}
				got, err := io.ReadAll(h)
				h.Close()
				if err != nil || !bytes.Equal(got, reContent(f.name, f.size)) {
					errc <- errors.Join(errors.New(f.name+": content differs during re-encryption"), err)
					return
				}
				reads.Add(1)
			}
		})
	}
	// Slowed down, so that the readers overlap every step of every file.
	p, err := ReencryptAll(context.Background(), m, ReencryptOptions{Rate: 8 << 20})
	stop()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if err != nil || p.FilesDone != len(files) {
		t.Fatalf("ReencryptAll: %+v, %v", p, err)
	}
	// The handles opened before read the old files, whose key is gone
	// from the dictionary by now.
	if ids, cur := m.DataKeys(); len(ids) != 1 || ids[0] != cur {
		t.Errorf("keys %v (current %d): the old key was not dropped", ids, cur)
	}
	for _, f := range files {
		got := make([]byte, f.size)
		if n, err := early[f.name].ReadAt(got, 0); n != f.size || (err != nil && err != io.EOF) {
			t.Fatalf("%s: early handle: %d, %v", f.name, n, err)
		}
		if !bytes.Equal(got, reContent(f.name, f.size)) {
			t.Fatalf("%s: early handle reads wrong content after the swap", f.name)
		}
	}
	reCheckContent(t, m, files)
	t.Logf("%d concurrent reads", reads.Load())
}

// TestReencryptAllRate: 2 MiB at 4 MiB/s cannot take less than about half
// a second. (A lower bound only: a slow machine may take longer.)
func TestReencryptAllRate(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	files := []reFile{{"a", 1 << 20}, {"b", 512 << 10}, {"c", 512 << 10}}
	reWrite(t, m, files)
	m.Close()
	m = env.open(ctr.AES256CTR)
	defer m.Close()
	start := time.Now()
	p, err := ReencryptAll(context.Background(), m, ReencryptOptions{Rate: 4 << 20})
	elapsed := time.Since(start)
	if err != nil || p.FilesDone != 3 || p.BytesDone != 2<<20 {
		t.Fatalf("ReencryptAll: %+v, %v", p, err)
	}
	if elapsed < 400*time.Millisecond {
		t.Fatalf("2 MiB at 4 MiB/s took %v", elapsed)
	}
	reCheckContent(t, m, files)
}

func TestRateLimiter(t *testing.T) {
	// 1000 bytes per second from empty: 200 bytes wait 0.2 s.
	l := newRateLimiter(1000, 100, time.Now())
	start := time.Now()
	for range 4 {
		if err := l.wait(context.Background(), 50); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Fatalf("200 bytes at 1000 B/s took %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.wait(ctx, 10_000); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with a cancelled context: %v", err)
	}
	// A wait that would outlast the context's deadline sleeps until the
	// deadline and ends as the context does.
	l = newRateLimiter(1000, 100, time.Now())
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := l.wait(ctx, 100); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait past the deadline: %v", err)
	}
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Fatalf("wait past the deadline returned after %v, before it", d)
	}
}

// TestReencryptAllCancel stops a run after two files, then a second run
// does the rest, and only the rest.
func TestReencryptAllCancel(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.SM4CTR)
	var files []reFile
	for i := range 6 {
		files = append(files, reFile{"f" + string(rune('0'+i)), 30_000})
	}
	reWrite(t, m, files)
	m.Close()
	m = env.open(ctr.AES128CTR)
	defer m.Close()

	ctx, cancel := context.WithCancel(context.Background())
	p, err := ReencryptAll(ctx, m, ReencryptOptions{Progress: func(p dict.ReencryptProgress) {
		if p.FilesDone == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if p.FilesDone != 2 || p.FilesTotal != 6 || p.Running {
		t.Fatalf("cancelled run: %+v", p)
	}
	for i, f := range files {
		e, _ := reLookup(t, m, f.name)
		if want := map[bool]ctr.Method{true: ctr.AES128CTR, false: ctr.SM4CTR}[i < 2]; e.Method != want {
			t.Errorf("%s: %s after the cancelled run, want %s", f.name, e.Method, want)
		}
	}
	reCheckContent(t, m, files)

	// Cancelled in the middle of a file (during a wait for the rate):
	// that file stays wholly old and its temporary file goes.
	ctx, cancel = context.WithCancel(context.Background())
	timer := time.AfterFunc(100*time.Millisecond, cancel)
	defer timer.Stop()
	p, err = ReencryptAll(ctx, m, ReencryptOptions{Rate: 64 << 10})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run cancelled mid-file: %+v, %v", p, err)
	}
	reNoTemps(t, env.dir)
	reCheckContent(t, m, files)

	p, err = ReencryptAll(context.Background(), m, ReencryptOptions{})
	if err != nil || p.FilesDone != p.FilesTotal || p.FilesTotal == 0 || p.FilesTotal > 4 {
		t.Fatalf("second run: %+v, %v (want the files left over, at most 4)", p, err)
	}
	for _, f := range files {
		if e, _ := reLookup(t, m, f.name); e.Method != ctr.AES128CTR {
			t.Errorf("%s: %s after the second run", f.name, e.Method)
		}
	}
	reCheckContent(t, m, files)
	reNoTemps(t, env.dir)
}

// TestReencryptAllProgress: the reports only go forward, the totals add
// up, and the Manager keeps the last one.
func TestReencryptAllProgress(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	files := slices.Clone(reFiles)
	files = append(files, reFile{"huge", 9 << 20}) // reported within the file too
	reWrite(t, m, files)
	m.Close()
	m = env.open(ctr.SM4CTR)
	defer m.Close()
	var total int64
	for _, f := range files {
		total += int64(f.size)
	}
	var reports []dict.ReencryptProgress
	p, err := ReencryptAll(context.Background(), m, ReencryptOptions{Progress: func(p dict.ReencryptProgress) {
		if live := liveProgress(t, m); live != p {
			t.Errorf("callback got %+v, the dict.Manager has %+v", p, live)
		}
		reports = append(reports, p)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) < len(files)+2 {
		t.Errorf("%d reports for %d files", len(reports), len(files))
	}
	for i, r := range reports {
		if r.FilesTotal != len(files) || r.BytesTotal != total || r.Failed != 0 || r.Started.IsZero() {
			t.Fatalf("report %d: %+v (want %d files, %d bytes)", i, r, len(files), total)
		}
		if r.Running != (i < len(reports)-1) {
			t.Errorf("report %d: Running %v", i, r.Running)
		}
		if i > 0 {
			q := reports[i-1]
			if r.FilesDone < q.FilesDone || r.BytesDone < q.BytesDone || r.Started != q.Started {
				t.Fatalf("report %d went backwards: %+v after %+v", i, r, q)
			}
		}
		if r.FilesDone > r.FilesTotal || r.BytesDone > r.BytesTotal {
			t.Fatalf("report %d: %+v beyond its totals", i, r)
		}
	}
	if mid := slices.IndexFunc(reports, func(r dict.ReencryptProgress) bool { return r.Current == "huge" }); mid < 0 {
		t.Error("no report during the large file")
	} else if reports[mid].Remaining <= 0 || reports[mid].BytesDone >= total {
		t.Errorf("report during the large file: %+v", reports[mid])
	}
	want := dict.ReencryptProgress{FilesDone: len(files), FilesTotal: len(files), BytesDone: total, BytesTotal: total, Started: p.Started}
	if p != want || liveProgress(t, m) != want {
		t.Fatalf("final progress %+v, kept %+v; want %+v", p, liveProgress(t, m), want)
	}
}

// TestReencryptBusy: one ReencryptAll at a time, and no second
// re-encryption of the file being copied.
func TestReencryptBusy(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	dicttest.WriteFile(t, m, "slow", reContent("slow", 1<<20))
	m.Close()
	m = env.open(ctr.SM4CTR)
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		// 1 MiB at 256 KiB/s: four seconds, unless cancelled.
		_, err := ReencryptAll(ctx, m, ReencryptOptions{Rate: 256 << 10})
		done <- err
	}()
	for liveProgress(t, m).BytesDone == 0 { // the run holds the file now
		time.Sleep(time.Millisecond)
	}
	if _, err := ReencryptAll(context.Background(), m, ReencryptOptions{}); !errors.Is(err, dict.ErrReencryptBusy) {
		t.Errorf("second ReencryptAll: %v", err)
	}
	if err := Reencrypt(context.Background(), m, "slow"); !errors.Is(err, dict.ErrReencryptBusy) {
		t.Errorf("Reencrypt of the file being copied: %v", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
	if e, _ := reLookup(t, m, "slow"); e.Method != ctr.AES128CTR {
		t.Errorf("cancelled file's entry changed: %+v", e)
	}
	reNoTemps(t, env.dir)
	// Free again.
	if p, err := ReencryptAll(context.Background(), m, ReencryptOptions{}); err != nil || p.FilesDone != 1 {
		t.Fatalf("after the cancelled run: %+v, %v", p, err)
	}
}

// TestReencryptAllPanic: a run stopped by a panic in the caller's
// Progress does not leave the Manager busy, nor its progress running.
func TestReencryptAllPanic(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	reWrite(t, m, reFiles)
	m.Close()
	m = env.open(ctr.SM4CTR)
	defer m.Close()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not come through")
			}
		}()
		ReencryptAll(context.Background(), m, ReencryptOptions{Progress: func(dict.ReencryptProgress) { panic("caller's bug") }})
	}()
	if st, err := m.Stats(); err != nil || st.Reencrypt.Running {
		t.Errorf("after the panic: %+v, %v", st.Reencrypt, err)
	}
	if p, err := ReencryptAll(context.Background(), m, ReencryptOptions{}); err != nil || p.Running || p.FilesDone != p.FilesTotal {
		t.Fatalf("the next run: %+v, %v", p, err)
	}
	reCheckContent(t, m, reFiles)
}

// TestReencryptLeftovers: temporary files of an interrupted run go at the
// next ReencryptAll (with their entries), or at the next Reencrypt of their
// file.
func TestReencryptLeftovers(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	os.Mkdir(filepath.Join(env.dir, "sub"), 0o755)
	files := []reFile{{"a", 100}, {"sub/b", 200}}
	reWrite(t, m, files)
	leftovers := []string{"a" + dict.ReencryptTempSuffix, "sub/b" + dict.ReencryptTempSuffix, "gone" + dict.ReencryptTempSuffix}
	for _, l := range leftovers {
		writeLeftover(t, m, l, []byte("half a copy"))
	}
	// And an entry whose temporary file was never created.
	noFile := "never" + dict.ReencryptTempSuffix
	writeLeftover(t, m, noFile, nil)
	os.Remove(filepath.Join(env.dir, noFile))
	leftovers = append(leftovers, noFile)
	if err := m.RotateDataKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := Reencrypt(context.Background(), m, "a"); err != nil {
		t.Fatal(err)
	}
	if _, ok := reLookup(t, m, leftovers[0]); ok {
		t.Error("Reencrypt left the old temporary file's entry")
	}
	p, err := ReencryptAll(context.Background(), m, ReencryptOptions{})
	if err != nil || p.FilesTotal != 1 {
		t.Fatalf("ReencryptAll: %+v, %v (want sub/b only)", p, err)
	}
	reNoTemps(t, env.dir)
	for _, l := range leftovers {
		if _, ok := reLookup(t, m, l); ok {
			t.Errorf("%s: entry left", l)
		}
	}
	reCheckContent(t, m, files)
	if ids, cur := m.DataKeys(); len(ids) != 1 || ids[0] != cur {
		t.Errorf("keys %v, current %d: the leftovers' key stayed", ids, cur)
	}
}

// TestReencryptChangedMeanwhile: a file written, removed or replaced
// during its copy is left as it is, and the copy thrown away.
func TestReencryptChangedMeanwhile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(m *dict.Manager) error
		gone   bool
	}{
		{"appended", func(m *dict.Manager) error {
			f, err := m.OpenReadWrite("f")
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte("more"), 3<<20)
			return err
		}, false},
		{"removed", func(m *dict.Manager) error { return m.Remove("f") }, true},
		{"replaced", func(m *dict.Manager) error {
			f, err := m.Create("f")
			if err != nil {
				return err
			}
			_, err = f.Write([]byte("new content"))
			return errors.Join(err, f.Close())
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			m := env.open(ctr.AES128CTR)
			dicttest.WriteFile(t, m, "f", reContent("f", 3<<20))
			m.Close()
			var once sync.Once
			var changeErr error
			var mp atomic.Pointer[dict.Manager]
			m = env.open(ctr.SM4CTR, dict.WithFailpoint(func(name string) {
				if name == "reencrypt.after-chunk" {
					once.Do(func() { changeErr = tc.change(mp.Load()) })
				}
			}))
			mp.Store(m)
			defer m.Close()
			before, _ := reLookup(t, m, "f")
			err := Reencrypt(context.Background(), m, "f")
			if changeErr != nil {
				t.Fatal(changeErr)
			}
			if !errors.Is(err, dict.ErrReencryptChanged) || errors.Is(err, fs.ErrNotExist) != tc.gone {
				t.Fatalf("Reencrypt = %v", err)
			}
			reNoTemps(t, env.dir)
			after, ok := reLookup(t, m, "f")
			switch tc.name {
			case "appended":
				if after != before {
					t.Errorf("entry changed: %+v → %+v", before, after)
				}
				got := readFile(t, m, "f")
				if !bytes.Equal(got[:3<<20], reContent("f", 3<<20)) || string(got[3<<20:]) != "more" {
					t.Error("appended file damaged")
				}
			case "removed":
				if ok {
					t.Errorf("entry of the removed file: %+v", after)
				}
			case "replaced":
				if got := readFile(t, m, "f"); string(got) != "new content" {
					t.Errorf("replacement reads %q", got)
				}
			}
			// ReencryptAll counts such a file as done, not failed.
		})
	}
}

// TestReencryptHardLink: re-encrypting one name of a file with two gives
// that name a file of its own; the other keeps the old one, readable.
func TestReencryptHardLink(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	dicttest.WriteFile(t, m, "a", reContent("a", 10000))
	if err := m.Link("a", "b"); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	m.Close()
	m = env.open(ctr.SM4CTR)
	defer m.Close()
	if err := Reencrypt(context.Background(), m, "a"); err != nil {
		t.Fatal(err)
	}
	ea, _ := reLookup(t, m, "a")
	eb, _ := reLookup(t, m, "b")
	if ea.Method != ctr.SM4CTR || eb.Method != ctr.AES128CTR {
		t.Fatalf("entries a %+v, b %+v", ea, eb)
	}
	for _, n := range []string{"a", "b"} {
		if !bytes.Equal(readFile(t, m, n), reContent("a", 10000)) {
			t.Fatalf("%s reads wrong content", n)
		}
	}
	if ids, _ := m.DataKeys(); len(ids) != 2 {
		t.Fatalf("keys %v: b's key must stay", ids)
	}
	if p, err := ReencryptAll(context.Background(), m, ReencryptOptions{}); err != nil || p.FilesDone != 1 {
		t.Fatalf("ReencryptAll: %+v, %v", p, err)
	}
	if ids, cur := m.DataKeys(); len(ids) != 1 || ids[0] != cur {
		t.Fatalf("keys %v after both names moved", ids)
	}
}

// TestReencryptAllFilter: a filter keeps files out of the run.
func TestReencryptAllFilter(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	files := []reFile{{"000001.sst", 100}, {"000002.log", 100}, {"MANIFEST-000003", 100}}
	reWrite(t, m, files)
	m.Close()
	m = env.open(ctr.SM4CTR)
	defer m.Close()
	p, err := ReencryptAll(context.Background(), m, ReencryptOptions{Filter: func(name string) bool {
		return filepath.Ext(name) == ".sst"
	}})
	if err != nil || p.FilesTotal != 1 {
		t.Fatalf("%+v, %v", p, err)
	}
	for _, f := range files {
		e, _ := reLookup(t, m, f.name)
		if (e.Method == ctr.SM4CTR) != (f.name == "000001.sst") {
			t.Errorf("%s: %s", f.name, e.Method)
		}
	}
}

func TestIsReencryptTemp(t *testing.T) {
	for name, want := range map[string]bool{
		"a.atrest-reencrypt":     true,
		"d/a.atrest-reencrypt":   true,
		".atrest-reencrypt":      false,
		"d/.atrest-reencrypt":    false,
		"a.atrest-reencrypt.sst": false,
		"a":                      false,
	} {
		if got := dict.IsReencryptTemp(name); got != want {
			t.Errorf("dict.IsReencryptTemp(%q) = %v", name, got)
		}
	}
}

// writeLeftover makes a re-encryption temporary file with an entry, as an
// interrupted run leaves one (Create refuses such names): the entry a new
// file gets now, recorded through the primitive imports use, and data, a
// file's content on disk (none: no file).
func writeLeftover(t *testing.T, m *dict.Manager, rel string, data []byte) {
	t.Helper()
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	e := dict.Entry{KeyID: st.CurrentKeyID, Method: st.Method}
	crand.Read(e.IV[:])
	l, err := m.Maintenance().Lock()
	if err != nil {
		t.Fatal(err)
	}
	err = l.Record(context.Background(), []dict.NamedEntry{{Name: rel, Entry: e}})
	l.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if data != nil {
		writeRaw(t, m.Maintenance().FS(), filepath.Join(m.Dir(), filepath.FromSlash(rel)), data)
	}
}

// liveProgress is the re-encryption progress m's Stats report.
func liveProgress(t *testing.T, m *dict.Manager) dict.ReencryptProgress {
	t.Helper()
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st.Reencrypt
}

// TestReencryptTempNamesReserved: nobody but re-encryption makes a file
// whose name ReencryptAll would remove as a leftover.
func TestReencryptTempNamesReserved(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	dicttest.WriteFile(t, m, "f", []byte("x"))
	temp := "f" + dict.ReencryptTempSuffix
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"create", func() error { _, err := m.Create(temp); return err }},
		{"open", func() error { _, err := m.Open(temp); return err }},
		{"rename onto", func() error { return m.Rename("f", temp) }},
		{"link", func() error { return m.Link("f", "sub-"+temp) }},
		{"remove", func() error { return m.Remove(temp) }},
		{"lookup", func() error { _, _, err := m.Lookup(temp); return err }},
	} {
		if err := tc.op(); !errors.Is(err, dict.ErrReserved) {
			t.Errorf("%s %s: %v, want ErrReserved", tc.name, temp, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(env.dir, temp)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a reserved name was made: %v", err)
	}
}
