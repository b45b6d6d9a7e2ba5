package dict

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/atrest/atrest/ctr"
)

// recordingFS is the operating system's file system, logging each call.
type recordingFS struct {
	osFS
	mu    sync.Mutex
	calls []string
}

func (r *recordingFS) log(op, name string) {
	r.mu.Lock()
	r.calls = append(r.calls, op+" "+filepath.Base(name))
	r.mu.Unlock()
}

func (r *recordingFS) Lstat(name string) (fs.FileInfo, error) {
	r.log("lstat", name)
	return r.osFS.Lstat(name)
}
func (r *recordingFS) Remove(name string) error { r.log("remove", name); return r.osFS.Remove(name) }
func (r *recordingFS) RemoveAll(name string) error {
	r.log("removeall", name)
	return r.osFS.RemoveAll(name)
}
func (r *recordingFS) Rename(o, n string) error { r.log("rename", o); return r.osFS.Rename(o, n) }
func (r *recordingFS) Link(o, n string) error   { r.log("link", o); return r.osFS.Link(o, n) }
func (r *recordingFS) SyncDir(dir string) error { r.log("syncdir", dir); return r.osFS.SyncDir(dir) }

func (r *recordingFS) saw(call string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.calls, call)
}

// TestWithFSAndOpeners: with WithFS every file-system operation on data
// files goes through the FS, and OpenWith/ReuseWith open files with the
// caller's opener and hand back the entry's keystream.
func TestWithFSAndOpeners(t *testing.T) {
	env := newEnv(t)
	rec := &recordingFS{}
	m := env.open(ctr.SM4CTR, WithFS(rec))
	defer m.Close()

	var opened []int
	open := func(path string, flag int) (*os.File, error) {
		opened = append(opened, flag)
		return os.OpenFile(path, flag, 0o644)
	}
	f, s, err := OpenWith(m, "wal", os.O_RDWR|os.O_CREATE|os.O_TRUNC, open)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil || s.Method() != ctr.SM4CTR {
		t.Fatalf("keystream %v for a new file", s)
	}
	content := bytes.Repeat([]byte("atrest "), 1000)
	ct := slices.Clone(content)
	s.XORKeyStreamAt(ct, ct, 0)
	if _, err := f.Write(ct); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := readFile(t, m, "wal"); !bytes.Equal(got, content) {
		t.Fatal("a file written through OpenWith's keystream does not read back")
	}

	f, s2, err := ReuseWith(m, "wal", "wal2", open)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if s2 == nil {
		t.Fatal("no keystream for the reused file")
	}
	probe := make([]byte, 32)
	probe2 := make([]byte, 32)
	s.XORKeyStreamAt(probe, probe, 0)
	s2.XORKeyStreamAt(probe2, probe2, 0)
	if bytes.Equal(probe, probe2) {
		t.Error("the reused file kept its keystream")
	}
	if want := []int{os.O_RDWR | os.O_CREATE | os.O_TRUNC, os.O_RDWR}; !slices.Equal(opened, want) {
		t.Errorf("opener flags %v, want %v", opened, want)
	}
	if err := m.Link("wal2", "wal3"); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("wal3"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(env.dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveAll("sub"); err != nil {
		t.Fatal(err)
	}
	for _, call := range []string{"lstat wal", "rename wal", "syncdir data", "link wal2", "remove wal3", "removeall sub"} {
		if !rec.saw(call) {
			t.Errorf("%q did not go through the FS (calls: %v)", call, rec.calls)
		}
	}

	// A plaintext file (no entry) gets no keystream.
	if err := os.WriteFile(filepath.Join(env.dir, "plain"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, s, err = OpenWith(m, "plain", os.O_RDONLY, open)
	if err != nil || s != nil {
		t.Fatalf("plaintext file: stream %v, %v", s, err)
	}
	if b, _ := io.ReadAll(f); string(b) != "x" {
		t.Error("plaintext file reads wrong")
	}
	f.Close()
}

func TestIsDictionaryFile(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{
		{KeyDictName, true},
		{FileDictName, true},
		{".key.dict.tmp-1234", true},
		{"file.dict.tmp-99", true},
		{".file.dict.tmp-99", true},
		{"key.dictionary", false},
		{"sub/key.dict", false},
		{"000001.sst", false},
		{"LOCK", false},
	} {
		if got := IsDictionaryFile(tt.name); got != tt.want {
			t.Errorf("IsDictionaryFile(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// failingStatFS fails Lstat of one base name with an error other than
// not-exist.
type failingStatFS struct {
	osFS
	base string
}

var errStat = errors.New("injected stat failure")

func (f failingStatFS) Lstat(name string) (fs.FileInfo, error) {
	if filepath.Base(name) == f.base {
		return nil, errStat
	}
	return f.osFS.Lstat(name)
}

// TestStatFailureIsNotAbsence: when the file system cannot say whether a
// file is there, creating, linking onto or renaming onto it fails and
// leaves its entry alone; taking the failure for absence would give an
// existing file a fresh entry and turn its content into noise.
func TestStatFailureIsNotAbsence(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	writeFile(t, m, "victim", content("victim", 500))
	writeFile(t, m, "other", content("other", 500))
	before, _, _ := m.Lookup("victim")
	m.Close()

	m = env.open(ctr.AES128CTR, WithFS(failingStatFS{base: "victim"}))
	ops := []struct {
		name string
		op   func() error
	}{
		{"create", func() error { _, err := m.OpenFile("victim", os.O_RDWR|os.O_CREATE, 0o644); return err }},
		{"truncate", func() error { _, err := m.Create("victim"); return err }},
		{"link onto", func() error { return m.Link("other", "victim") }},
		{"rename onto", func() error { return m.Rename("other", "victim") }},
	}
	for _, tt := range ops {
		if err := tt.op(); !errors.Is(err, errStat) {
			t.Errorf("%s: %v, want the stat error", tt.name, err)
		}
		if e, ok, _ := m.Lookup("victim"); !ok || e != before {
			t.Fatalf("%s: the entry changed to %+v (%v)", tt.name, e, ok)
		}
	}
	m.Close()
	m = env.open(ctr.AES128CTR)
	defer m.Close()
	if got := readFile(t, m, "victim"); !bytes.Equal(got, content("victim", 500)) {
		t.Error("the file no longer reads back")
	}
	if got := readFile(t, m, "other"); !bytes.Equal(got, content("other", 500)) {
		t.Error("the other file no longer reads back")
	}
}

// failingSyncFS fails every directory sync once armed.
type failingSyncFS struct {
	osFS
	armed *atomic.Bool
}

var errSync = errors.New("injected directory sync failure")

func (f failingSyncFS) SyncDir(dir string) error {
	if f.armed.Load() {
		return errSync
	}
	return f.osFS.SyncDir(dir)
}

// TestRenameWithFailingDirectorySync: when the directory sync after a
// rename fails, whether the rename survives a power cut is unknown, so
// the dictionary records neither outcome: the rename fails with the sync
// error and ErrNeedsReopen, the Manager refuses everything after it
// (reads included: the file is under its new name without its entry),
// and the next open settles the rename from the disk: here the rename
// stands, so the file reads back under its new name.
func TestRenameWithFailingDirectorySync(t *testing.T) {
	env := newEnv(t)
	fail := failingSyncFS{armed: new(atomic.Bool)}
	m := env.open(ctr.SM4CTR, WithFS(fail))
	writeFile(t, m, "a", content("a", 3000))
	writeFile(t, m, "b", content("b", 100))
	fail.armed.Store(true)
	if err := m.Rename("a", "b"); !errors.Is(err, errSync) || !errors.Is(err, ErrNeedsReopen) {
		t.Fatalf("rename: %v, want the sync error and ErrNeedsReopen", err)
	}
	if _, err := m.Open("b"); !errors.Is(err, ErrNeedsReopen) {
		t.Errorf("open after the failed sync: %v, want ErrNeedsReopen", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	m = env.open(ctr.SM4CTR)
	defer m.Close()
	wantReadBack(t, m, "b", content("a", 3000), "after a reopen")
	if _, ok, _ := m.Lookup("a"); ok {
		t.Error("the old name keeps an entry")
	}
}
