package dict

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/filedict"
	"github.com/atrest/atrest/fsys"
)

// TestOpenDropsStaleEntries: entries whose files a crash left gone (the
// file removed but not its entry, the entry recorded but not the file, a
// whole directory gone) are dropped by the engine's next open, which
// counts them; the files that are there keep their entries and read back,
// Verify then finds nothing missing, and the data key only the stale
// entries used is dropped with them. An inspection of the same directory
// shows the stale entries and changes nothing.
func TestOpenDropsStaleEntries(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	for _, n := range []string{"kept", "gone", "sub/kept", "sub/gone", "dir/x", "dir/y"} {
		os.MkdirAll(filepath.Join(env.dir, filepath.Dir(n)), 0o755)
		writeFile(t, m, n, content(n, 300))
	}
	oldKey, _ := m.DataKeys()
	m.Close()
	// What a crash leaves: files gone behind the dictionary's back.
	os.Remove(filepath.Join(env.dir, "gone"))
	os.Remove(filepath.Join(env.dir, "sub", "gone"))
	os.RemoveAll(filepath.Join(env.dir, "dir"))

	before := dirContents(t, env.dir)
	insp := env.open(ctr.AES128CTR, WithInspection())
	r, err := verify(insp)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"dir/x", "dir/y", "gone", "sub/gone"}; !slices.Equal(r.MissingFiles, want) {
		t.Errorf("inspection: missing %v, want %v", r.MissingFiles, want)
	}
	if s, _ := insp.Stats(); s.Recovery.StaleEntriesDropped != 0 || s.Files != 6 {
		t.Errorf("inspection dropped entries: %+v, %d files", s.Recovery, s.Files)
	}
	insp.Close()
	if after := dirContents(t, env.dir); !mapsEqual(before, after) {
		t.Fatal("the inspection changed the directory")
	}

	// The method changes too, so the old key is no longer current: once
	// its last live files are the kept ones it stays; nothing else keeps
	// a key alive.
	m = env.open(ctr.SM4CTR)
	defer m.Close()
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Recovery.StaleEntriesDropped != 4 || s.Files != 2 {
		t.Errorf("stats after open: %+v, %d files; want 4 dropped, 2 files", s.Recovery, s.Files)
	}
	for _, n := range []string{"kept", "sub/kept"} {
		wantReadBack(t, m, n, content(n, 300), "after the stale entries went")
	}
	r, err = verify(m)
	if err != nil || len(r.MissingFiles) != 0 {
		t.Errorf("verify after open: missing %v, %v", r.MissingFiles, err)
	}
	if ids, _ := m.DataKeys(); !slices.Contains(ids, oldKey[0]) {
		t.Errorf("the key of the kept files was dropped: %v", ids)
	}
	for _, n := range []string{"kept", "sub/kept"} {
		if err := m.Remove(n); err != nil {
			t.Fatal(err)
		}
	}
	if ids, _ := m.DataKeys(); slices.Contains(ids, oldKey[0]) {
		t.Errorf("the old key outlived its last file: %v", ids)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestInspectionWritesNothing: an inspection open (WithInspection without
// WithLock) of a directory a crash left in every repairable state (a
// torn last record after file.dict's log, temporary files
// of both dictionaries, a rename begun and not resolved, the key
// dictionary sealed under the previous master key) sees the directory as
// the engine's next open will make it and changes not one byte, nor
// creates the lock; every change asked of it fails with ErrReadOnly.
// The engine's open afterwards repairs all of it.
func TestInspectionWritesNothing(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	writeFile(t, m, "a", content("a", 500))
	writeFile(t, m, "b", content("b", 500))
	writeFile(t, m, "gone", content("gone", 500))
	m.Close()
	os.Remove(filepath.Join(env.dir, "gone")) // a stale entry
	// A rename begun, the file renamed, the intent not resolved: what a
	// crash between the two leaves.
	fd := openFileDict(t, env)
	e, _ := fd.Get("b")
	if err := fd.BeginRename(filedictRename("b", "c")); err != nil {
		t.Fatal(err)
	}
	fd.Close()
	if err := os.Rename(filepath.Join(env.dir, "b"), filepath.Join(env.dir, "c")); err != nil {
		t.Fatal(err)
	}
	// A torn tail and the leftovers of interrupted atomic writes.
	f, _ := os.OpenFile(filepath.Join(env.dir, FileDictName), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{1, 2, 3, 4, 0, 0, 1, 0, 1, 'x', 'y'}) // a record cut short
	f.Close()
	for _, tmp := range []string{".key.dict.tmp-1", "file.dict.tmp-2"} {
		os.WriteFile(filepath.Join(env.dir, tmp), []byte("leftover"), 0o600)
	}
	os.Remove(filepath.Join(env.dir, LockName))
	before := dirContents(t, env.dir)

	insp := env.open(ctr.AES128CTR, WithInspection())
	if got, ok, _ := insp.Lookup("c"); !ok || got != e {
		t.Errorf("inspection: c's entry %+v (%v), want b's %+v (the rename resolved in memory)", got, ok, e)
	}
	if _, ok, _ := insp.Lookup("b"); ok {
		t.Error("inspection: b keeps an entry")
	}
	wantReadBack(t, insp, "c", content("b", 500), "through the inspection")
	changes := []struct {
		name string
		do   func() error
	}{
		{"create", func() error { _, err := insp.Create("new"); return err }},
		{"remove", func() error { return insp.Remove("a") }},
		{"rename", func() error { return insp.Rename("a", "z") }},
		{"rotate data key", func() error { return insp.RotateDataKey(context.Background()) }},
		{"forget missing", func() error { _, _, err := insp.Maintenance().Forget("gone"); return err }},
	}
	for _, c := range changes {
		if err := c.do(); !errors.Is(err, fsys.ErrReadOnly) {
			t.Errorf("%s through the inspection: %v, want ErrReadOnly", c.name, err)
		}
	}
	insp.Close()
	if after := dirContents(t, env.dir); !mapsEqual(before, after) {
		t.Fatalf("the inspection changed the directory:\nbefore %q\nafter  %q", keys(before), keys(after))
	}

	m = env.open(ctr.AES128CTR)
	defer m.Close()
	wantReadBack(t, m, "c", content("b", 500), "after the engine's open")
	wantReadBack(t, m, "a", content("a", 500), "after the engine's open")
	if _, ok, _ := m.Lookup("gone"); ok {
		t.Error("the engine's open kept the stale entry")
	}
	after := dirContents(t, env.dir)
	for _, tmp := range []string{".key.dict.tmp-1", "file.dict.tmp-2"} {
		if _, ok := after[tmp]; ok {
			t.Errorf("the engine's open left %s", tmp)
		}
	}
	if _, ok := after[LockName]; !ok {
		t.Error("the engine holds no lock file")
	}
}

func keys(m map[string]string) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// openFileDict opens the directory's file dictionary directly, as a crash
// test does to leave a state only a crash makes.
func openFileDict(t *testing.T, env *testEnv) *filedict.Dict {
	t.Helper()
	fd, err := filedict.Open(filepath.Join(env.dir, FileDictName), filedict.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func filedictRename(src, dst string) filedict.Rename { return filedict.Rename{Src: src, Dst: dst} }

// TestLostEntry: a damaged last record of file.dict reads like a torn
// write, but when the entry it held is for a file that exists and holds
// data, the write was acknowledged: every open refuses the directory with
// ErrLostEntry naming the file, and leaves file.dict as it was (a second
// open refuses again: the damage is never repaired away silently). An
// open WithLostEntries goes on and lists the file in Stats. A torn entry
// for a file that was never created is what a crash leaves, and opens.
func TestLostEntry(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES256CTR)
	writeFile(t, m, "kept", content("kept", 700))
	writeFile(t, m, "victim", content("victim", 700)) // its entry is the log's last record
	m.Close()
	path := filepath.Join(env.dir, FileDictName)
	data, _ := os.ReadFile(path)
	data[len(data)-1] ^= 0x10 // in the last byte of the entry's IV
	os.WriteFile(path, data, 0o600)

	for _, opts := range [][]Option{nil, {WithInspection()}, nil} {
		_, err := Open(context.Background(), env.dir, env.config(ctr.AES256CTR), opts...)
		if !errors.Is(err, ErrLostEntry) || !strings.Contains(err.Error(), "victim") {
			t.Fatalf("open %v: %v, want ErrLostEntry naming victim", opts, err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
			t.Fatal("a refused open changed file.dict")
		}
	}
	m = env.open(ctr.AES256CTR, WithLostEntries())
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Recovery.LostEntries, []string{"victim"}) || s.Recovery.TornBytes == 0 || s.Recovery.TornRecords != 1 {
		t.Errorf("recovery %+v, want victim lost in one torn record", s.Recovery)
	}
	wantReadBack(t, m, "kept", content("kept", 700), "beside a lost entry")
	m.Close()

	// A crash between a new file's entry and the file: the torn entry
	// names no file, and the open drops it.
	env = newEnv(t)
	m = env.open(ctr.AES256CTR)
	writeFile(t, m, "kept", content("kept", 700))
	f, err := m.Create("never-written")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	m.Close()
	os.Remove(filepath.Join(env.dir, "never-written"))
	path = filepath.Join(env.dir, FileDictName)
	data, _ = os.ReadFile(path)
	data[len(data)-1] ^= 0x10
	os.WriteFile(path, data, 0o600)
	m = env.open(ctr.AES256CTR)
	defer m.Close()
	if s, _ := m.Stats(); len(s.Recovery.LostEntries) != 0 || s.Recovery.TornRecords != 1 {
		t.Errorf("recovery %+v, want one torn record and nothing lost", s.Recovery)
	}
	wantReadBack(t, m, "kept", content("kept", 700), "after the torn entry went")
}

// staleKeyDictFS serves the first read of key.dict from an older copy,
// as an inspection beside the engine sees it when the engine rotates the
// data key between its reads of key.dict and file.dict.
type staleKeyDictFS struct {
	osFS
	old    string // path of the older key.dict
	served *atomic.Bool
}

func (s staleKeyDictFS) OpenFile(name string, flag int, perm fs.FileMode) (fsys.File, error) {
	if filepath.Base(name) == KeyDictName && s.served.CompareAndSwap(false, true) {
		name = s.old
	}
	return s.osFS.OpenFile(name, flag, perm)
}

// TestInspectionCatchesUpKeys: an inspection whose key.dict predates a
// file's data key reads key.dict again and finds it, rather than report
// the file's key missing.
func TestInspectionCatchesUpKeys(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	writeFile(t, m, "old", content("old", 300))
	old := filepath.Join(t.TempDir(), "key.dict.old")
	b, _ := os.ReadFile(filepath.Join(env.dir, KeyDictName))
	os.WriteFile(old, b, 0o600)
	if err := m.RotateDataKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	writeFile(t, m, "new", content("new", 300))
	m.Close()

	stale := staleKeyDictFS{old: old, served: new(atomic.Bool)}
	insp := env.open(ctr.AES128CTR, WithInspection(), WithFS(stale))
	defer insp.Close()
	if !stale.served.Load() {
		t.Fatal("the stale key dictionary was never served: the test tests nothing")
	}
	r, err := verify(insp)
	if err != nil || len(r.MissingKeys) != 0 {
		t.Fatalf("verify: keys missing for %v, %v", r.MissingKeys, err)
	}
	wantReadBack(t, insp, "new", content("new", 300), "through the inspection")
}

// missing is what these tests ask of operator.Verify (which a test of
// package dict cannot import): the entries whose file is gone, and those
// whose data key is, through the Maintenance primitives Verify uses.
type missing struct {
	MissingFiles, MissingKeys []string
}

func verify(m *Manager) (missing, error) {
	var r missing
	mt := m.Maintenance()
	for name, e := range mt.Entries() {
		if _, err := mt.FS().Lstat(m.abs(name)); errors.Is(err, fs.ErrNotExist) {
			r.MissingFiles = append(r.MissingFiles, name)
		} else if err != nil {
			return r, err
		}
		if _, ok := mt.DataKey(e.KeyID); !ok && e.Method != ctr.Plaintext {
			r.MissingKeys = append(r.MissingKeys, name)
		}
	}
	return r, nil
}
