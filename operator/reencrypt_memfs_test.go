package operator

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/internal/crashfs"
	"github.com/atrest/atrest/internal/dicttest"
	"github.com/atrest/atrest/internal/testenv"
)

// ReencryptAll on an in-memory file system (internal/crashfs, the model
// the power-cut tests use): every file the Manager touches, the walk
// included, goes through the FS given with dict.WithFS, so the data
// directory's path never appears on the OS disk.

// memEnv is a data directory on an in-memory file system at a path under
// an OS temporary directory that must stay empty, and a master key file
// on the OS (the key is keyenv's, not the Manager's file).
type memEnv struct {
	t       *testing.T
	mem     *crashfs.FS
	osRoot  string // must stay empty on the OS
	dir     string // the data directory, on mem only
	keyPath string
}

func newMemEnv(t *testing.T) *memEnv {
	t.Helper()
	e := &memEnv{t: t, mem: crashfs.New(), osRoot: t.TempDir(), keyPath: testenv.KeyFile(t, t.TempDir(), "master.key", 0x6d)}
	e.dir = filepath.Join(e.osRoot, "data")
	e.mkdir("")
	return e
}

// open opens the Manager on fs (e.mem when nil).
func (e *memEnv) open(method ctr.Method, files fsys.FS) *dict.Manager {
	e.t.Helper()
	if files == nil {
		files = e.mem
	}
	m, err := dict.Open(context.Background(), e.dir, testenv.Config(method, e.keyPath), dict.WithFS(files))
	if err != nil {
		e.t.Fatalf("open with %s: %v", method, err)
	}
	return m
}

// mkdir makes the directory rel of the data directory on mem (the
// Manager makes no directories: the engine does).
func (e *memEnv) mkdir(rel string) {
	e.t.Helper()
	if err := e.mem.MkdirAll(filepath.Join(e.dir, filepath.FromSlash(rel))); err != nil {
		e.t.Fatal(err)
	}
}

func (e *memEnv) path(rel string) string { return filepath.Join(e.dir, filepath.FromSlash(rel)) }

// raw reads rel's bytes on mem, around the Manager.
func (e *memEnv) raw(rel string) []byte {
	e.t.Helper()
	b, err := fsys.ReadFile(e.mem, e.path(rel))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// checkNothingOnOS fails if anything was made under the OS directory the
// data directory's path names.
func (e *memEnv) checkNothingOnOS() {
	e.t.Helper()
	names, err := os.ReadDir(e.osRoot)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(names) != 0 {
		e.t.Errorf("the run wrote to the OS disk: %v in %s", names, e.osRoot)
	}
}

// writeRaw writes data to path through files, around the Manager (no
// entry): as a plaintext file from before encryption, or a leftover.
func writeRaw(t *testing.T, files fsys.FS, path string, data []byte) {
	t.Helper()
	f, err := files.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// memFiles are the files the in-memory tests write through the Manager,
// in nested directories.
var memFiles = []reFile{
	{"empty", 0},
	{"000001.sst", 4099},
	{"sub/000002.sst", 70_000},
	{"sub/deep/000003.log", reencryptChunk + 17},
	{"other/MANIFEST-000004", 300},
}

// memWrite makes memFiles' directories on e.mem and writes them through m.
func memWrite(t *testing.T, e *memEnv, m *dict.Manager, files []reFile) {
	t.Helper()
	for _, f := range files {
		if d := filepath.Dir(f.name); d != "." {
			e.mkdir(d)
		}
		dicttest.WriteFile(t, m, f.name, reContent(f.name, f.size))
	}
}

// TestReencryptAllOnMemFS re-encrypts a directory that lives only in
// memory, after a method change or a data-key rotation, and checks every
// file's content and entry, the bytes on the in-memory disk, and that the
// OS disk saw nothing.
func TestReencryptAllOnMemFS(t *testing.T) {
	const plainName = "sub/plain.old" // written before encryption: no entry
	for _, tc := range []struct {
		name     string
		from, to ctr.Method
		rotate   bool // rotate the data key before the run
	}{
		{name: "aes128-to-sm4", from: ctr.AES128CTR, to: ctr.SM4CTR},
		{name: "sm4-rotated", from: ctr.SM4CTR, to: ctr.SM4CTR, rotate: true},
		{name: "aes256-to-plaintext", from: ctr.AES256CTR, to: ctr.Plaintext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newMemEnv(t)
			m := e.open(tc.from, nil)
			memWrite(t, e, m, memFiles)
			writeRaw(t, e.mem, e.path(plainName), reContent(plainName, 5000))
			files := append(slices.Clone(memFiles), reFile{plainName, 5000})
			if !tc.rotate {
				if err := m.Close(); err != nil {
					t.Fatal(err)
				}
				m = e.open(tc.to, nil)
			}
			defer m.Close()
			if tc.rotate {
				if err := m.RotateDataKey(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// The dictionaries are on mem, beside the data, and must
			// stay out of the run.
			dictFiles := memDictionaryFiles(t, e)
			if len(dictFiles) == 0 {
				t.Fatal("no dictionary file on the in-memory file system")
			}
			want := len(files)
			if tc.to == ctr.Plaintext {
				want-- // the plaintext file without an entry is already plaintext
			}
			p, err := ReencryptAll(ctx, m, ReencryptOptions{})
			if err != nil {
				t.Fatalf("ReencryptAll: %v", err)
			}
			if p.FilesTotal != want || p.FilesDone != want || p.Failed != 0 {
				t.Errorf("progress %+v, want %d files selected and done", p, want)
			}
			reCheckContent(t, m, files)
			_, cur := m.DataKeys()
			for _, f := range files {
				en, ok := reLookup(t, m, f.name)
				if tc.to == ctr.Plaintext && f.name == plainName {
					if ok && en.Method != ctr.Plaintext {
						t.Errorf("%s: %+v, want plaintext", f.name, en)
					}
					continue
				}
				if !ok || en.Method != tc.to || (tc.to != ctr.Plaintext && en.KeyID != cur) {
					t.Errorf("%s: entry %v %+v, want %s under key %d", f.name, ok, en, tc.to, cur)
				}
				// On the in-memory disk: ciphertext when encrypted, the
				// content itself when not.
				wantPlain := tc.to == ctr.Plaintext
				if isPlain := bytes.Equal(e.raw(f.name), reContent(f.name, f.size)); f.size > 0 && isPlain != wantPlain {
					t.Errorf("%s: the bytes on the in-memory disk are the content: %v, want %v", f.name, isPlain, wantPlain)
				}
			}
			if got := memDictionaryFiles(t, e); !slices.Equal(got, dictFiles) {
				t.Errorf("dictionary files %v, were %v", got, dictFiles)
			}
			reNoTempsOn(t, e.mem, e.dir)
			e.checkNothingOnOS()
		})
	}
}

// memDictionaryFiles lists the dictionaries' files on e.mem.
func memDictionaryFiles(t *testing.T, e *memEnv) []string {
	t.Helper()
	var names []string
	err := fsys.Walk(e.mem, e.dir, func(p string, info fs.FileInfo) error {
		rel, err := filepath.Rel(e.dir, p)
		if err == nil && dict.IsDictionaryFile(filepath.ToSlash(rel)) {
			names = append(names, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// reNoTempsOn fails if a re-encryption temporary file is left under dir
// on files.
func reNoTempsOn(t *testing.T, files fsys.FS, dir string) {
	t.Helper()
	err := fsys.Walk(files, dir, func(p string, info fs.FileInfo) error {
		if dict.IsReencryptTemp(filepath.ToSlash(p)) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// vanishingFS removes the directory dir right after Lstat describes it,
// once armed: the directory goes between the walk's Lstat of it and its
// listing, as an engine's removal can.
type vanishingFS struct {
	fsys.FS
	dir   string
	armed atomic.Bool
}

func (v *vanishingFS) Lstat(name string) (fs.FileInfo, error) {
	info, err := v.FS.Lstat(name)
	if err == nil && name == v.dir && v.armed.CompareAndSwap(true, false) {
		if rerr := v.FS.RemoveAll(name); rerr != nil {
			return nil, rerr
		}
	}
	return info, err
}

// TestReencryptAllDirectoryRemovedDuringWalk: a directory removed while
// ReencryptAll walks (before its Lstat, or between its Lstat and its
// listing) does not fail the run, and the other files are re-encrypted.
func TestReencryptAllDirectoryRemovedDuringWalk(t *testing.T) {
	files := []reFile{{"a", 100}, {"b/x", 200}, {"b/deep/y", 300}, {"c/z", 400}}
	rest := []reFile{files[0], files[3]} // what b's removal leaves
	for _, tc := range []struct {
		name string
		// filter removes b when the walk sees a (before b's Lstat);
		// vanish removes b right after its Lstat (before its listing).
		filter, vanish bool
	}{
		{name: "removed before its Lstat", filter: true},
		{name: "removed before its listing", vanish: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newMemEnv(t)
			v := &vanishingFS{FS: e.mem, dir: e.path("b")}
			m := e.open(ctr.AES128CTR, v)
			memWrite(t, e, m, files)
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			m = e.open(ctr.SM4CTR, v)
			defer m.Close()
			var opt ReencryptOptions
			var seen []string
			if tc.filter {
				opt.Filter = func(name string) bool {
					seen = append(seen, name)
					if name == "a" {
						if err := m.Maintenance().FS().RemoveAll(e.path("b")); err != nil {
							t.Error(err)
						}
					}
					return true
				}
			}
			v.armed.Store(tc.vanish)
			p, err := ReencryptAll(ctx, m, opt)
			if err != nil {
				t.Fatalf("ReencryptAll: %v", err)
			}
			if tc.vanish && v.armed.Load() {
				t.Fatal("the walk never described b")
			}
			if tc.filter && !slices.Equal(seen, []string{"a", "c/z"}) {
				t.Errorf("filter saw %v, want a and c/z", seen)
			}
			if p.FilesTotal != len(rest) || p.FilesDone != len(rest) || p.Failed != 0 {
				t.Errorf("progress %+v, want %d selected and done", p, len(rest))
			}
			if ok, err := fsys.Exists(e.mem, e.path("b")); ok || err != nil {
				t.Fatalf("b still there: %v, %v", ok, err)
			}
			reCheckContent(t, m, rest)
			for _, f := range rest {
				if en, _ := reLookup(t, m, f.name); en.Method != ctr.SM4CTR {
					t.Errorf("%s: %s, want sm4", f.name, en.Method)
				}
			}
			e.checkNothingOnOS()
		})
	}
}

// TestReencryptAllRemovesLeftoversOnMemFS: temporary files interrupted
// runs left on the in-memory file system, with or without an entry, and
// entries whose temporary file was never made, go at the next ReencryptAll.
func TestReencryptAllRemovesLeftoversOnMemFS(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t)
	m := e.open(ctr.AES128CTR, nil)
	defer m.Close()
	files := []reFile{{"a", 100}, {"sub/b", 200}}
	memWrite(t, e, m, files)
	withEntry := []string{"a" + dict.ReencryptTempSuffix, "sub/b" + dict.ReencryptTempSuffix}
	for _, l := range withEntry {
		writeLeftover(t, m, l, []byte("half a copy"))
	}
	noEntry := "sub/gone" + dict.ReencryptTempSuffix
	writeRaw(t, e.mem, e.path(noEntry), []byte("half a copy"))
	noFile := "never" + dict.ReencryptTempSuffix
	writeLeftover(t, m, noFile, nil)
	leftovers := append(slices.Clone(withEntry), noEntry, noFile)
	for _, l := range leftovers[:3] {
		if ok, err := fsys.Exists(e.mem, e.path(l)); !ok || err != nil {
			t.Fatalf("%s not made on the in-memory disk: %v", l, err)
		}
	}
	if err := m.RotateDataKey(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := ReencryptAll(ctx, m, ReencryptOptions{})
	if err != nil || p.FilesTotal != len(files) || p.FilesDone != len(files) {
		t.Fatalf("ReencryptAll: %+v, %v (want the %d files)", p, err, len(files))
	}
	for _, l := range leftovers {
		if _, err := e.mem.Lstat(e.path(l)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: still on the in-memory disk (%v)", l, err)
		}
		if _, ok := reLookup(t, m, l); ok {
			t.Errorf("%s: entry left", l)
		}
	}
	reNoTempsOn(t, e.mem, e.dir)
	reCheckContent(t, m, files)
	if ids, cur := m.DataKeys(); len(ids) != 1 || ids[0] != cur {
		t.Errorf("data keys %v (current %d): the leftovers' key should have gone", ids, cur)
	}
	e.checkNothingOnOS()
}
