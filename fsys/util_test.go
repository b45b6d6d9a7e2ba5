package fsys_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/atrest/atrest/fsys"
)

func TestWriteAtomicReplacesAndCleans(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.dict")
	osfs := fsys.OS()
	for i, content := range []string{"first", "second, longer", "3"} {
		if err := fsys.WriteAtomic(osfs, path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := fsys.ReadFile(osfs, path)
		if err != nil || string(got) != content {
			t.Fatalf("round %d: %q, %v", i, got, err)
		}
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o", st.Mode().Perm())
	}
	// Leftovers of an interrupted write, and files that only look alike.
	for _, name := range []string{".key.dict.tmp-123", ".key.dict.tmp-", "key.dict.tmp-9", ".other.tmp-1"} {
		os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600)
	}
	temps, err := fsys.TempFiles(osfs, path)
	if err != nil || len(temps) != 2 {
		t.Fatalf("TempFiles = %v, %v; want the two leftovers", temps, err)
	}
	if err := fsys.CleanTemps(osfs, path); err != nil {
		t.Fatal(err)
	}
	names, _ := osfs.List(dir)
	slices.Sort(names)
	want := []string{".other.tmp-1", "key.dict", "key.dict.tmp-9"}
	if !slices.Equal(names, want) {
		t.Fatalf("left %v, want %v", names, want)
	}
}

func TestWriteAtomicIntoMissingDirectory(t *testing.T) {
	if err := fsys.WriteAtomic(fsys.OS(), filepath.Join(t.TempDir(), "no", "such"), []byte("x")); err == nil {
		t.Fatal("wrote into a missing directory")
	}
}

func TestReadFileGrowsPastStat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(i)
	}
	os.WriteFile(path, data, 0o600)
	got, err := fsys.ReadFile(fsys.OS(), path)
	if err != nil || !slices.Equal(got, data) {
		t.Fatalf("ReadFile: %d bytes, %v", len(got), err)
	}
	if _, err := fsys.ReadFile(fsys.OS(), path+"-missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLockExcludesAndReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	osfs := fsys.OS()
	l, err := osfs.Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := osfs.Lock(path); !errors.Is(err, fsys.ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	l.Close()
	l2, err := osfs.Lock(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Close()
}

// TestReadOnlyRefusesEveryChange: every call of the view that could change
// the file system fails with ErrReadOnly and leaves the directory as it
// was, byte for byte; reads work.
func TestReadOnlyRefusesEveryChange(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("content"), 0o600)
	ro := fsys.ReadOnly(fsys.OS())
	if !fsys.IsReadOnly(ro) || fsys.IsReadOnly(fsys.OS()) {
		t.Fatal("IsReadOnly")
	}
	f, err := ro.OpenFile(file, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 7)
	if n, err := f.ReadAt(buf, 0); n != 7 || err != nil || string(buf) != "content" {
		t.Fatalf("ReadAt: %d %v %q", n, err, buf)
	}
	if _, ok := f.(fsys.Truncater); ok {
		t.Error("a read-only file offers Truncate")
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"open O_WRONLY", func() error { _, err := ro.OpenFile(file, os.O_WRONLY, 0); return err }},
		{"open O_RDWR", func() error { _, err := ro.OpenFile(file, os.O_RDWR, 0); return err }},
		{"open O_CREATE", func() error { _, err := ro.OpenFile(file+"2", os.O_RDONLY|os.O_CREATE, 0o600); return err }},
		{"open O_TRUNC", func() error { _, err := ro.OpenFile(file, os.O_RDONLY|os.O_TRUNC, 0); return err }},
		{"write", func() error { _, err := f.WriteAt([]byte("x"), 0); return err }},
		{"sync", f.Sync},
		{"datasync", f.Datasync},
		{"allocate", func() error { return f.Allocate(0, 4096) }},
		{"remove", func() error { return ro.Remove(file) }},
		{"removeall", func() error { return ro.RemoveAll(dir) }},
		{"rename", func() error { return ro.Rename(file, file+"3") }},
		{"link", func() error { return ro.Link(file, file+"4") }},
		{"syncdir", func() error { return ro.SyncDir(dir) }},
		{"lock", func() error { _, err := ro.Lock(filepath.Join(dir, "lock")); return err }},
		{"writeatomic", func() error { return fsys.WriteAtomic(ro, file, []byte("new")) }},
		{"createtemp", func() error { _, _, err := fsys.CreateTemp(ro, dir, "t*"); return err }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, fsys.ErrReadOnly) {
			t.Errorf("%s: %v, want ErrReadOnly", c.name, err)
		}
	}
	names, _ := ro.List(dir)
	got, _ := os.ReadFile(file)
	if !slices.Equal(names, []string{"f"}) || string(got) != "content" {
		t.Fatalf("directory changed: %v, %q", names, got)
	}
}

// TestWalkToleratesRemovals: what is removed while Walk runs is skipped,
// whether it goes before its Lstat or between its Lstat and its listing;
// other errors still stop the walk.
func TestWalkToleratesRemovals(t *testing.T) {
	all := []string{".", "a", "b", "b/c", "b/c/x", "b/y", "d", "d/z", "e"}
	for _, tc := range []struct {
		name string
		// at is the entry during whose fn call act runs.
		at   string
		act  func(root string) error
		want []string
		// wantErr: the walk fails, with an error other than fs.ErrNotExist.
		wantErr bool
	}{
		{name: "nothing removed", want: all},
		{
			name: "sibling directory removed before its Lstat", at: "a",
			act:  func(root string) error { return os.RemoveAll(filepath.Join(root, "b")) },
			want: []string{".", "a", "d", "d/z", "e"},
		},
		{
			name: "directory removed between its Lstat and its listing", at: "b",
			act:  func(root string) error { return os.RemoveAll(filepath.Join(root, "b")) },
			want: []string{".", "a", "b", "d", "d/z", "e"},
		},
		{
			name: "nested directory removed between its Lstat and its listing", at: "b/c",
			act:  func(root string) error { return os.RemoveAll(filepath.Join(root, "b", "c")) },
			want: []string{".", "a", "b", "b/c", "b/y", "d", "d/z", "e"},
		},
		{
			name: "file removed before its Lstat", at: "d/z",
			act:  func(root string) error { return os.Remove(filepath.Join(root, "e")) },
			want: all[:len(all)-1],
		},
		{
			// Only a vanished directory is forgiven: one replaced by a
			// file cannot be listed, and that is an error.
			name: "directory replaced by a file", at: "d",
			act: func(root string) error {
				p := filepath.Join(root, "d")
				if err := os.RemoveAll(p); err != nil {
					return err
				}
				return os.WriteFile(p, []byte("x"), 0o600)
			},
			want:    []string{".", "a", "b", "b/c", "b/c/x", "b/y", "d"},
			wantErr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range []string{"b/c", "d"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []string{"a", "b/c/x", "b/y", "d/z", "e"} {
				if err := os.WriteFile(filepath.Join(root, f), []byte(f), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			err := fsys.Walk(fsys.OS(), root, func(p string, info fs.FileInfo) error {
				rel, err := filepath.Rel(root, p)
				if err != nil {
					return err
				}
				rel = filepath.ToSlash(rel)
				got = append(got, rel)
				if want := rel == "." || rel == "b" || rel == "b/c" || rel == "d"; info.IsDir() != want {
					t.Errorf("%s: IsDir %v", rel, info.IsDir())
				}
				if rel == tc.at {
					return tc.act(root)
				}
				return nil
			})
			if failed := err != nil && !errors.Is(err, fs.ErrNotExist); failed != tc.wantErr || (err != nil) != tc.wantErr {
				t.Fatalf("Walk: %v, want an error other than fs.ErrNotExist: %v", err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("visited %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWalkMissingRoot: the root must exist when Walk starts.
func TestWalkMissingRoot(t *testing.T) {
	err := fsys.Walk(fsys.OS(), filepath.Join(t.TempDir(), "none"), func(string, fs.FileInfo) error {
		t.Error("fn called for a missing root")
		return nil
	})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Walk of a missing root: %v, want fs.ErrNotExist", err)
	}
}
