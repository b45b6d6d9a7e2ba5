package pebblev1fs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/cockroachdb/pebble/vfs"
)

// pattern is content whose every 16-byte block differs.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func writeAll(t *testing.T, f vfs.File, p []byte) {
	t.Helper()
	buf := slices.Clone(p)
	n, err := f.Write(buf)
	if err != nil || n != len(p) {
		t.Fatalf("write: %d, %v", n, err)
	}
}

func readAt(t *testing.T, f vfs.File, n int, off int64) []byte {
	t.Helper()
	b := make([]byte, n)
	if got, err := f.ReadAt(b, off); got != n || (err != nil && err != io.EOF) {
		t.Fatalf("readat %d at %d: %d, %v", n, off, got, err)
	}
	return b
}

// TestFileIO writes and reads through every I/O call at awkward offsets,
// under every method, and checks the bytes on disk are the content XORed
// with the entry's keystream.
func TestFileIO(t *testing.T) {
	content := pattern(200_003)
	for _, method := range allMethods {
		t.Run(method.String(), func(t *testing.T) {
			e := newEnv(t)
			efs := e.openFS(t, method, nil)
			defer efs.Close()
			name := filepath.Join(e.dir, "000001.sst")

			f, err := efs.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			// Write in uneven pieces; Write may modify its buffer (Pebble
			// allows it), and under encryption it does.
			buf := slices.Clone(content[:777])
			if _, err := f.Write(buf); err != nil {
				t.Fatal(err)
			}
			if method != ctr.Plaintext && bytes.Equal(buf, content[:777]) {
				t.Error("Write left its buffer as it was: it encrypted through a copy")
			}
			writeAll(t, f, content[777:100_001])
			writeAll(t, f, content[100_001:])
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			st, err := f.Stat()
			if err != nil || st.Size() != int64(len(content)) {
				t.Fatalf("stat: %v, %v; want size %d", st, err, len(content))
			}
			if fd := f.Fd(); fd == vfs.InvalidFd {
				t.Error("Fd is not forwarded")
			}
			f.Close()

			raw, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			ent, ok, _ := efs.Manager().Lookup(name)
			want := slices.Clone(content)
			if method != ctr.Plaintext {
				if !ok || ent.Method != method {
					t.Fatalf("entry %+v (%v), want method %s", ent, ok, method)
				}
				s, err := ctr.New(method, dataKey(t, e, ent.KeyID), ent.IV[:])
				if err != nil {
					t.Fatal(err)
				}
				s.XORKeyStreamAt(want, want, 0)
			}
			if !bytes.Equal(raw, want) {
				t.Fatal("bytes on disk are not the content XORed with the entry's keystream")
			}

			f, err = efs.Open(name, vfs.RandomReadsOption)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []struct{ off, n int }{{0, 1}, {1, 15}, {15, 17}, {4095, 4098}, {100_000, 65_537}, {len(content) - 3, 3}} {
				if got := readAt(t, f, r.n, int64(r.off)); !bytes.Equal(got, content[r.off:r.off+r.n]) {
					t.Errorf("ReadAt(%d, %d) is wrong", r.off, r.n)
				}
			}
			seq, err := io.ReadAll(f)
			if err != nil || !bytes.Equal(seq, content) {
				t.Errorf("sequential Read: %d bytes, %v", len(seq), err)
			}
			f.Close()

			// WriteAt on a file opened read-write: encrypted at its offset
			// under the file's own IV, and the caller's buffer untouched.
			f, err = efs.OpenReadWrite(name)
			if err != nil {
				t.Fatal(err)
			}
			patch := bytes.Repeat([]byte{0xab}, 70_001)
			orig := slices.Clone(patch)
			if n, err := f.WriteAt(patch, 12_345); err != nil || n != len(patch) {
				t.Fatalf("writeat: %d, %v", n, err)
			}
			if !bytes.Equal(patch, orig) {
				t.Error("WriteAt modified its buffer")
			}
			copy(content[12_345:], patch)
			if got := readAt(t, f, len(content), 0); !bytes.Equal(got, content) {
				t.Error("content after WriteAt is wrong")
			}
			f.Close()
		})
	}
}

// dataKey reads data key id from the key dictionary on disk with the
// master key, independently of the Manager, to check bytes on disk.
func dataKey(t *testing.T, e *testEnv, id uint64) []byte {
	return enginetest.DataKey(t, e.dir, e.config(ctr.AES128CTR), id)
}

// TestPlaintextFilesAreNotWrapped: a plaintext file is the base file
// itself, so plaintext costs nothing.
func TestPlaintextFilesAreNotWrapped(t *testing.T) {
	e := newEnv(t)
	efs := e.openFS(t, ctr.Plaintext, nil)
	defer efs.Close()
	f, err := efs.Create(filepath.Join(e.dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, wrapped := f.(*file); wrapped {
		t.Error("a plaintext file is wrapped")
	}
}

// TestReuseForWriteFreshIV: a recycled file gets a new IV, so writing the
// same content again gives different bytes on disk (no keystream is used
// twice), and it reads back.
func TestReuseForWriteFreshIV(t *testing.T) {
	e := newEnv(t)
	efs := e.openFS(t, ctr.AES128CTR, nil)
	defer efs.Close()
	oldName, newName := filepath.Join(e.dir, "000001.log"), filepath.Join(e.dir, "000002.log")
	content := pattern(10_000)
	f, err := efs.Create(oldName)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, f, content)
	f.Close()
	before, _ := os.ReadFile(oldName)
	oldEntry, _, _ := efs.Manager().Lookup(oldName)

	f, err = efs.ReuseForWrite(oldName, newName)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, f, content[:5000])
	f.Close()
	if _, err := os.Stat(oldName); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old name still exists: %v", err)
	}
	newEntry, ok, _ := efs.Manager().Lookup(newName)
	if !ok || newEntry.IV == oldEntry.IV {
		t.Fatalf("reused file's entry %+v (%v) keeps the old IV", newEntry, ok)
	}
	after, _ := os.ReadFile(newName)
	if len(after) != len(before) {
		t.Fatalf("reuse changed the size: %d → %d", len(before), len(after))
	}
	if bytes.Equal(after[:5000], before[:5000]) {
		t.Fatal("the same content was encrypted with the same keystream twice")
	}
	f, err = efs.Open(newName)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := readAt(t, f, 5000, 0); !bytes.Equal(got, content[:5000]) {
		t.Error("reused file does not read back")
	}
	// The old records beyond the new ones are noise now, not old content.
	if got := readAt(t, f, 5000, 5000); bytes.Equal(got, content[5000:]) {
		t.Error("old records still decrypt under the new IV")
	}
}

// TestNamespace covers the FS methods that are not file I/O: listings hide
// the dictionaries, LOCK is left in plaintext with no entry, paths outside
// the data directory and the data directory itself are refused, and
// links, renames and removals carry their entries.
func TestNamespace(t *testing.T) {
	e := newEnv(t)
	efs := e.openFS(t, ctr.SM4CTR, nil)
	defer efs.Close()
	m := efs.Manager()
	join := func(n string) string { return efs.PathJoin(e.dir, n) }

	lock, err := efs.Lock(join("LOCK"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, ok, _ := m.Lookup("LOCK"); ok {
		t.Error("LOCK has an entry")
	}

	f, err := efs.Create(join("a"))
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, f, pattern(100))
	f.Close()
	if err := efs.MkdirAll(join("sub/dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	names, err := efs.List(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if want := []string{"LOCK", "a", "sub"}; !slices.Equal(names, want) {
		t.Errorf("List = %v, want %v (dictionaries hidden)", names, want)
	}
	if st, err := efs.Stat(join("a")); err != nil || st.Size() != 100 {
		t.Errorf("Stat: %v, %v", st, err)
	}
	d, err := efs.OpenDir(join("sub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Error(err)
	}
	d.Close()

	if err := efs.Link(join("a"), join("sub/dir/b")); err != nil {
		t.Fatal(err)
	}
	ea, _, _ := m.Lookup("a")
	eb, ok, _ := m.Lookup("sub/dir/b")
	if !ok || eb != ea {
		t.Errorf("link entry %+v, want %+v", eb, ea)
	}
	if err := efs.Rename(join("sub/dir/b"), join("c")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.Lookup("sub/dir/b"); ok {
		t.Error("renamed-away name keeps its entry")
	}
	if err := efs.Remove(join("a")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.Lookup("a"); ok {
		t.Error("removed file keeps its entry")
	}
	f, err = efs.Open(join("c"))
	if err != nil {
		t.Fatal(err)
	}
	if got := readAt(t, f, 100, 0); !bytes.Equal(got, pattern(100)) {
		t.Error("linked and renamed file does not read back")
	}
	f.Close()
	if err := efs.RemoveAll(join("sub")); err != nil {
		t.Fatal(err)
	}

	outside := filepath.Join(filepath.Dir(e.dir), "elsewhere.log")
	if _, err := efs.Create(outside); !errors.Is(err, dict.ErrOutsideDir) {
		t.Errorf("create outside the data directory: %v, want ErrOutsideDir", err)
	}
	if err := efs.RemoveAll(e.dir); !errors.Is(err, dict.ErrDataDir) {
		t.Errorf("RemoveAll of the data directory: %v, want ErrDataDir", err)
	}
	if _, err := efs.Open(join(dict.KeyDictName)); !errors.Is(err, dict.ErrReserved) {
		t.Errorf("open key.dict: %v, want ErrReserved", err)
	}
	if efs.Unwrap() != vfs.Default {
		t.Error("Unwrap is not the base FS")
	}
	if _, err := efs.GetDiskUsage(e.dir); err != nil {
		t.Error(err)
	}
	if got := efs.PathBase(join("c")); got != "c" {
		t.Errorf("PathBase = %q", got)
	}
	if got := efs.PathDir(join("c")); got != e.dir {
		t.Errorf("PathDir = %q", got)
	}
}

// TestIOAllocatesNothing: Write and ReadAt on an encrypted file allocate
// nothing per call.
func TestIOAllocatesNothing(t *testing.T) {
	e := newEnv(t)
	efs := e.openFS(t, ctr.AES256CTR, nil)
	defer efs.Close()
	f, err := efs.Create(filepath.Join(e.dir, "x"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if a := testing.AllocsPerRun(100, func() {
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("Write: %v allocations per call", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		if _, err := f.ReadAt(buf, 8191); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("ReadAt: %v allocations per call", a)
	}
}

// TestOpenDBClosesFS: OpenDB's DB closes its FS with it, so the data
// directory's lock is free again for the next OpenDB.
func TestOpenDBClosesFS(t *testing.T) {
	e := newEnv(t)
	for round := range 2 {
		db, err := OpenDB(context.Background(), e.dir, e.config(ctr.SM4CTR), nil, testOptions(nil))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := db.Set(key(round), value(round, round), nil); err != nil {
			t.Fatal(err)
		}
		if round == 1 {
			if v, ok := get(t, db.DB, key(0)); !ok || !bytes.Equal(v, value(0, 0)) {
				t.Error("the first round's value is lost")
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// recordingFS records the calls its files get that pebblev1fs must
// forward to the base file.
type recordingFS struct {
	vfs.FS
	calls map[string]int
}

func (r *recordingFS) Create(name string) (vfs.File, error) {
	f, err := r.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &recordingFile{File: f, calls: r.calls}, nil
}

type recordingFile struct {
	vfs.File
	calls map[string]int
}

func (f *recordingFile) Preallocate(off, n int64) error {
	f.calls["Preallocate"]++
	return f.File.Preallocate(off, n)
}
func (f *recordingFile) Prefetch(off, n int64) error {
	f.calls["Prefetch"]++
	return f.File.Prefetch(off, n)
}
func (f *recordingFile) SyncTo(n int64) (bool, error) {
	f.calls["SyncTo"]++
	return f.File.SyncTo(n)
}
func (f *recordingFile) SyncData() error { f.calls["SyncData"]++; return f.File.SyncData() }
func (f *recordingFile) Sync() error     { f.calls["Sync"]++; return f.File.Sync() }
func (f *recordingFile) Fd() uintptr     { f.calls["Fd"]++; return f.File.Fd() }

// TestFileCallsForwarded: an encrypted file passes the syncs, the
// readahead and preallocation hints and Fd to the base file.
func TestFileCallsForwarded(t *testing.T) {
	e := newEnv(t)
	rec := &recordingFS{FS: vfs.Default, calls: map[string]int{}}
	efs := e.openFS(t, ctr.AES128CTR, rec)
	defer efs.Close()
	f, err := efs.Create(filepath.Join(e.dir, "000001.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := f.(*file); !ok {
		t.Fatal("the file is not encrypted")
	}
	writeAll(t, f, pattern(10_000))
	for name, call := range map[string]func() error{
		"Preallocate": func() error { return f.Preallocate(0, 1<<16) },
		"Prefetch":    func() error { return f.Prefetch(0, 4096) },
		"SyncTo":      func() error { _, err := f.SyncTo(4096); return err },
		"SyncData":    f.SyncData,
		"Sync":        f.Sync,
		"Fd": func() error {
			if f.Fd() == vfs.InvalidFd {
				return errors.New("no descriptor")
			}
			return nil
		},
	} {
		before := rec.calls[name]
		// Pebble v1's Prefetch on Linux reports readahead's "errno 0" as
		// an error of its own: the base's answer, passed on as it is.
		if err := call(); err != nil && name != "Prefetch" {
			t.Errorf("%s: %v", name, err)
		}
		if rec.calls[name] != before+1 {
			t.Errorf("%s did not reach the base file", name)
		}
	}
}
