//go:build unix

package crashfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"reflect"
	"syscall"
	"testing"

	"github.com/atrest/atrest/fsys"
)

// FS must satisfy the interfaces the storage stack uses.
var (
	_ fsys.FS        = (*FS)(nil)
	_ fsys.File      = (*File)(nil)
	_ fsys.Truncater = (*File)(nil)
)

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// put creates or replaces name with data, syncing the file if sync.
func put(t *testing.T, f *FS, name string, data []byte, sync bool) {
	t.Helper()
	h, err := f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	mustNoErr(t, err)
	_, err = h.WriteAt(data, 0)
	mustNoErr(t, err)
	if sync {
		mustNoErr(t, h.Sync())
	}
	mustNoErr(t, h.Close())
}

// get returns name's contents, or nil and false when it does not exist.
func get(t *testing.T, f *FS, name string) ([]byte, bool) {
	t.Helper()
	b, err := fsys.ReadFile(f, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false
	}
	mustNoErr(t, err)
	return b, true
}

func stat(t *testing.T, f *FS, name string) *syscall.Stat_t {
	t.Helper()
	fi, err := f.Lstat(name)
	mustNoErr(t, err)
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("Sys() is %T", fi.Sys())
	}
	return st
}

func newFS(t *testing.T, dirs ...string) *FS {
	t.Helper()
	f := New()
	for _, d := range dirs {
		mustNoErr(t, f.MkdirAll(d))
	}
	return f
}

func TestCreateWriteReadStat(t *testing.T) {
	f := newFS(t, "/d")
	h, err := f.OpenFile("/d/a", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	mustNoErr(t, err)
	if _, err := h.WriteAt([]byte("world"), 6); err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt([]byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 20)
	n, err := h.ReadAt(buf, 0)
	if n != 11 || !errors.Is(err, io.EOF) || string(buf[:n]) != "hello\x00world" {
		t.Fatalf("ReadAt = %d %v %q", n, err, buf[:n])
	}
	if n, err := h.ReadAt(buf[:3], 6); n != 3 || err != nil || string(buf[:3]) != "wor" {
		t.Fatalf("ReadAt inside = %d %v", n, err)
	}
	if n, err := h.ReadAt(buf, 11); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt at end = %d %v", n, err)
	}
	fi, err := h.Stat()
	mustNoErr(t, err)
	if fi.Size() != 11 || fi.Name() != "a" || fi.IsDir() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("Stat = %v %v %v %v", fi.Size(), fi.Name(), fi.IsDir(), fi.Mode())
	}
	mustNoErr(t, h.Close())
	if err := h.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := h.ReadAt(buf, 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("ReadAt after Close: %v", err)
	}
	fi, err = f.Lstat("/d")
	mustNoErr(t, err)
	if !fi.IsDir() {
		t.Fatal("/d is not a directory")
	}
	if _, err := f.Lstat("d/a"); err == nil {
		t.Fatal("relative path accepted")
	}
}

func TestOpenFlags(t *testing.T) {
	f := newFS(t, "/d")
	put(t, f, "/d/a", []byte("old contents"), false)
	cases := []struct {
		name    string
		path    string
		flag    int
		wantErr error
		want    string // contents after the open, if it succeeds
	}{
		{"missing", "/d/none", os.O_RDONLY, fs.ErrNotExist, ""},
		{"missing parent", "/x/a", os.O_RDWR | os.O_CREATE, fs.ErrNotExist, ""},
		{"parent is a file", "/d/a/b", os.O_RDWR | os.O_CREATE, syscall.ENOTDIR, ""},
		{"excl on existing", "/d/a", os.O_RDWR | os.O_CREATE | os.O_EXCL, fs.ErrExist, ""},
		{"create existing", "/d/a", os.O_RDWR | os.O_CREATE, nil, "old contents"},
		{"open existing", "/d/a", os.O_RDONLY, nil, "old contents"},
		{"write a directory", "/d", os.O_RDWR, syscall.EISDIR, ""},
		{"append", "/d/a", os.O_RDWR | os.O_APPEND, syscall.EINVAL, ""},
		{"trunc read-only", "/d/a", os.O_RDONLY | os.O_TRUNC, syscall.EINVAL, ""},
		{"trunc", "/d/a", os.O_WRONLY | os.O_TRUNC, nil, ""},
		{"excl new", "/d/b", os.O_RDWR | os.O_CREATE | os.O_EXCL, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := f.OpenFile(c.path, c.flag, 0o644)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				var pe *fs.PathError
				if !errors.As(err, &pe) {
					t.Fatalf("err %T is not a *fs.PathError", err)
				}
				return
			}
			mustNoErr(t, err)
			mustNoErr(t, h.Close())
			if got, _ := get(t, f, c.path); string(got) != c.want {
				t.Fatalf("contents %q, want %q", got, c.want)
			}
		})
	}
}

func TestAccessModes(t *testing.T) {
	f := newFS(t, "/d")
	put(t, f, "/d/a", []byte("abc"), false)
	ro, err := f.OpenFile("/d/a", os.O_RDONLY, 0)
	mustNoErr(t, err)
	defer ro.Close()
	if _, err := ro.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("write through read-only handle: %v", err)
	}
	if err := ro.Allocate(0, 100); err == nil {
		t.Fatal("allocate through read-only handle succeeded")
	}
	if err := ro.(fsys.Truncater).Truncate(0); err == nil {
		t.Fatal("truncate through read-only handle succeeded")
	}
	mustNoErr(t, ro.Sync()) // fsync works on a read-only descriptor
	wo, err := f.OpenFile("/d/a", os.O_WRONLY, 0)
	mustNoErr(t, err)
	defer wo.Close()
	if _, err := wo.ReadAt(make([]byte, 1), 0); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("read through write-only handle: %v", err)
	}
	if got, _ := get(t, f, "/d/a"); string(got) != "abc" {
		t.Fatalf("contents %q", got)
	}
}

func TestTruncateAllocate(t *testing.T) {
	f := newFS(t, "/d")
	h, err := f.OpenFile("/d/a", os.O_RDWR|os.O_CREATE, 0o644)
	mustNoErr(t, err)
	defer h.Close()
	_, err = h.WriteAt([]byte("0123456789"), 0)
	mustNoErr(t, err)
	tr := h.(fsys.Truncater)
	mustNoErr(t, tr.Truncate(4))
	mustNoErr(t, tr.Truncate(8))
	if got, _ := get(t, f, "/d/a"); string(got) != "0123\x00\x00\x00\x00" {
		t.Fatalf("after truncate down and up: %q", got)
	}
	mustNoErr(t, h.Allocate(2, 4)) // inside: nothing changes
	if got, _ := get(t, f, "/d/a"); len(got) != 8 || string(got[:4]) != "0123" {
		t.Fatalf("after allocate inside: %q", got)
	}
	mustNoErr(t, h.Allocate(6, 10000))
	got, _ := get(t, f, "/d/a")
	if len(got) != 10006 || string(got[:4]) != "0123" || !bytes.Equal(got[4:], make([]byte, 10002)) {
		t.Fatalf("after allocate beyond: len %d", len(got))
	}
}

func TestRenameReplaces(t *testing.T) {
	f := newFS(t, "/d", "/e")
	put(t, f, "/d/a", []byte("new"), false)
	put(t, f, "/d/b", []byte("old"), false)
	old, err := f.OpenFile("/d/b", os.O_RDONLY, 0)
	mustNoErr(t, err)
	defer old.Close()
	ino := stat(t, f, "/d/a").Ino
	mustNoErr(t, f.Rename("/d/a", "/d/b"))
	if _, ok := get(t, f, "/d/a"); ok {
		t.Fatal("old name still there")
	}
	if got, _ := get(t, f, "/d/b"); string(got) != "new" {
		t.Fatalf("new name holds %q", got)
	}
	if st := stat(t, f, "/d/b"); st.Ino != ino || st.Nlink != 1 {
		t.Fatalf("renamed file ino %d nlink %d, want %d 1", st.Ino, st.Nlink, ino)
	}
	// The replaced file lives on through its open handle, with no links.
	fi, err := old.Stat()
	mustNoErr(t, err)
	if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 0 {
		t.Fatalf("replaced file has %d links", n)
	}
	buf := make([]byte, 3)
	if _, err := old.ReadAt(buf, 0); err != nil || string(buf) != "old" {
		t.Fatalf("replaced file reads %q %v", buf, err)
	}
	// Across directories, and errors.
	mustNoErr(t, f.Rename("/d/b", "/e/c"))
	if got, _ := get(t, f, "/e/c"); string(got) != "new" {
		t.Fatalf("/e/c holds %q", got)
	}
	err = f.Rename("/d/none", "/d/x")
	var le *os.LinkError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &le) {
		t.Fatalf("rename of a missing file: %v", err)
	}
	if err := f.Rename("/e/c", "/e"); err == nil {
		t.Fatal("file renamed over a directory")
	}
	mustNoErr(t, f.Rename("/e/c", "/e/c")) // onto itself: nothing
	if got, _ := get(t, f, "/e/c"); string(got) != "new" {
		t.Fatal("rename onto itself lost the file")
	}
}

func TestRenameDirectory(t *testing.T) {
	f := newFS(t, "/a/b", "/c")
	put(t, f, "/a/b/f", []byte("x"), true)
	mustNoErr(t, f.SyncDir("/a/b"))
	mustNoErr(t, f.Rename("/a/b", "/c/b2"))
	if got, _ := get(t, f, "/c/b2/f"); string(got) != "x" {
		t.Fatalf("file in renamed directory: %q", got)
	}
	if _, err := f.Lstat("/a/b"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old directory: %v", err)
	}
	if err := f.Rename("/c", "/c/b2/x"); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("directory renamed into itself: %v", err)
	}
	mustNoErr(t, f.MkdirAll("/e"))
	mustNoErr(t, f.Rename("/c/b2", "/e")) // over an empty directory
	if got, _ := get(t, f, "/e/f"); string(got) != "x" {
		t.Fatalf("after rename over empty directory: %q", got)
	}
	mustNoErr(t, f.MkdirAll("/g"))
	if err := f.Rename("/g", "/e"); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("rename over non-empty directory: %v", err)
	}
	if err := f.Rename("/g", "/e/f"); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("directory renamed over a file: %v", err)
	}
	// The crashed state keeps a synced directory rename.
	mustNoErr(t, f.SyncDir("/"))
	g := f.Crash(KeepNothingUnsynced())
	if got, _ := get(t, g, "/e/f"); string(got) != "x" {
		t.Fatalf("after crash: %q", got)
	}
	if !reflect.DeepEqual(g.Dirs(), []string{"/", "/a", "/c", "/e", "/g"}) {
		t.Fatalf("dirs after crash: %v", g.Dirs())
	}
}

func TestLinks(t *testing.T) {
	f := newFS(t, "/d", "/e")
	put(t, f, "/d/a", []byte("data"), false)
	mustNoErr(t, f.Link("/d/a", "/e/b"))
	sa, sb := stat(t, f, "/d/a"), stat(t, f, "/e/b")
	if sa.Ino != sb.Ino || sa.Dev != sb.Dev || sa.Nlink != 2 || sb.Nlink != 2 {
		t.Fatalf("links: %d/%d/%d vs %d/%d/%d", sa.Ino, sa.Dev, sa.Nlink, sb.Ino, sb.Dev, sb.Nlink)
	}
	put(t, f, "/d/other", nil, false)
	if so := stat(t, f, "/d/other"); so.Ino == sa.Ino || so.Dev != sa.Dev {
		t.Fatal("another file shares the inode number or has another device")
	}
	err := f.Link("/d/a", "/d/other")
	var le *os.LinkError
	if !errors.Is(err, fs.ErrExist) || !errors.As(err, &le) {
		t.Fatalf("link onto an existing name: %v", err)
	}
	if err := f.Link("/d", "/e/d"); err == nil {
		t.Fatal("hard link to a directory")
	}
	// Writing through one name shows through the other.
	h, err := f.OpenFile("/e/b", os.O_RDWR, 0)
	mustNoErr(t, err)
	_, err = h.WriteAt([]byte("DA"), 0)
	mustNoErr(t, err)
	mustNoErr(t, h.Close())
	if got, _ := get(t, f, "/d/a"); string(got) != "DAta" {
		t.Fatalf("through the other link: %q", got)
	}
	mustNoErr(t, f.Remove("/d/a"))
	if n := stat(t, f, "/e/b").Nlink; n != 1 {
		t.Fatalf("after removing one link: nlink %d", n)
	}
	if n := stat(t, f, "/d").Nlink; n != 2 {
		t.Fatalf("directory nlink %d", n)
	}
	if n := stat(t, f, "/").Nlink; n != 4 {
		t.Fatalf("root nlink %d, want 4", n)
	}
}

func TestUnlinkOpenHandle(t *testing.T) {
	f := newFS(t, "/d")
	put(t, f, "/d/a", []byte("abc"), true)
	mustNoErr(t, f.SyncDir("/d"))
	h, err := f.OpenFile("/d/a", os.O_RDWR, 0)
	mustNoErr(t, err)
	mustNoErr(t, f.Remove("/d/a"))
	if _, err := f.Lstat("/d/a"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("removed name: %v", err)
	}
	if err := f.Remove("/d/a"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second remove: %v", err)
	}
	_, err = h.WriteAt([]byte("XYZW"), 1)
	mustNoErr(t, err)
	mustNoErr(t, h.Sync())
	buf := make([]byte, 5)
	if _, err := h.ReadAt(buf, 0); err != nil || string(buf) != "aXYZW" {
		t.Fatalf("unlinked file reads %q %v", buf, err)
	}
	fi, err := h.Stat()
	mustNoErr(t, err)
	if fi.Size() != 5 || fi.Sys().(*syscall.Stat_t).Nlink != 0 {
		t.Fatalf("unlinked file: size %d", fi.Size())
	}
	// Without the directory sync, a crash may bring the name back (with
	// the synced bytes); with it, the file is gone.
	if got, ok := get(t, f.Crash(KeepNothingUnsynced()), "/d/a"); !ok || string(got) != "aXYZW" {
		t.Fatalf("crash before the removal is durable: %q %v", got, ok)
	}
	mustNoErr(t, f.SyncDir("/d"))
	if files := f.Crash(KeepAllUnsynced()).Files(); len(files) != 0 {
		t.Fatalf("after a durable removal the crash keeps %v", files)
	}
	mustNoErr(t, h.Close())
}

func TestRemoveAllAndList(t *testing.T) {
	f := newFS(t, "/d/x/y", "/d/z")
	put(t, f, "/d/x/y/f", []byte("1"), true)
	put(t, f, "/d/x/g", []byte("2"), true)
	put(t, f, "/d/h", []byte("3"), true)
	for _, d := range []string{"/d/x/y", "/d/x", "/d"} {
		mustNoErr(t, f.SyncDir(d))
	}
	names, err := f.List("/d")
	mustNoErr(t, err)
	if !reflect.DeepEqual(names, []string{"h", "x", "z"}) {
		t.Fatalf("List = %v", names)
	}
	if _, err := f.List("/d/h"); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("List of a file: %v", err)
	}
	if err := f.Remove("/d/x"); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("Remove of a non-empty directory: %v", err)
	}
	mustNoErr(t, f.RemoveAll("/d/x"))
	mustNoErr(t, f.RemoveAll("/d/x"))
	mustNoErr(t, f.RemoveAll("/nothing/here"))
	mustNoErr(t, f.Remove("/d/z"))
	if !reflect.DeepEqual(f.Files(), []string{"/d/h"}) || !reflect.DeepEqual(f.Dirs(), []string{"/", "/d"}) {
		t.Fatalf("after RemoveAll: %v %v", f.Files(), f.Dirs())
	}
	// Un-synced, the removals can all be lost.
	if g := f.Crash(KeepNothingUnsynced()); len(g.Files()) != 3 {
		t.Fatalf("crash before the removals are durable keeps %v", g.Files())
	}
}

func TestLock(t *testing.T) {
	f := newFS(t, "/d")
	l, err := f.Lock("/d/LOCK")
	mustNoErr(t, err)
	if _, err := f.Lock("/d/LOCK"); !errors.Is(err, fsys.ErrLocked) {
		t.Fatalf("second Lock: %v", err)
	}
	// The lock is the inode's: another name for it is locked too.
	mustNoErr(t, f.Link("/d/LOCK", "/d/LOCK2"))
	if _, err := f.Lock("/d/LOCK2"); !errors.Is(err, fsys.ErrLocked) {
		t.Fatalf("Lock through another link: %v", err)
	}
	// A crash releases it; the lock file's name was not synced.
	g := f.Crash(KeepAllUnsynced())
	l2, err := g.Lock("/d/LOCK")
	mustNoErr(t, err)
	mustNoErr(t, l2.Close())
	if _, ok := get(t, f.Crash(KeepNothingUnsynced()), "/d/LOCK"); ok {
		t.Fatal("the lock file's un-synced name survived")
	}
	mustNoErr(t, l.Close())
	if err := l.Close(); err == nil {
		t.Fatal("second Close of the lock succeeded")
	}
	l, err = f.Lock("/d/LOCK")
	mustNoErr(t, err)
	mustNoErr(t, l.Close())
}

func TestInjectError(t *testing.T) {
	f := newFS(t, "/d")
	put(t, f, "/d/a", []byte("abcdef"), true)
	boom := errors.New("boom")
	var seen []string
	f.InjectError(func(op Op, path string) error {
		seen = append(seen, op.String()+" "+path)
		if path == "/d/a" || path == "/d/b" {
			return boom
		}
		return nil
	})
	h, err := f.OpenFile("/d/c", os.O_RDWR|os.O_CREATE, 0o644)
	mustNoErr(t, err)
	if _, err := f.OpenFile("/d/a", os.O_RDONLY, 0); !errors.Is(err, boom) {
		t.Fatalf("open: %v", err)
	}
	if err := f.Rename("/d/c", "/d/b"); !errors.Is(err, boom) {
		t.Fatalf("rename: %v", err)
	}
	if err := f.Link("/d/c", "/d/b"); !errors.Is(err, boom) {
		t.Fatalf("link: %v", err)
	}
	if err := f.Remove("/d/a"); !errors.Is(err, boom) {
		t.Fatalf("remove: %v", err)
	}
	if !reflect.DeepEqual(f.Files(), []string{"/d/a", "/d/c"}) {
		t.Fatalf("failed calls changed the tree: %v", f.Files())
	}
	if len(seen) == 0 || seen[0] != "open /d/c" {
		t.Fatalf("hook saw %v", seen)
	}
	// Fail writes and syncs of /d/c only.
	f.InjectError(func(op Op, path string) error {
		if path == "/d/c" && (op == OpWrite || op == OpSync || op == OpDatasync) {
			return boom
		}
		return nil
	})
	if n, err := h.WriteAt([]byte("xyz"), 0); n != 0 || !errors.Is(err, boom) {
		t.Fatalf("write: %d %v", n, err)
	}
	if err := h.Datasync(); !errors.Is(err, boom) {
		t.Fatalf("datasync: %v", err)
	}
	if got, _ := get(t, f, "/d/c"); len(got) != 0 {
		t.Fatalf("failed write wrote %q", got)
	}
	// A partial write writes its prefix.
	f.InjectError(func(op Op, path string) error {
		if op == OpWrite {
			return &PartialWrite{N: 2, Err: syscall.ENOSPC}
		}
		return nil
	})
	if n, err := h.WriteAt([]byte("xyz"), 0); n != 2 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("partial write: %d %v", n, err)
	}
	f.InjectError(nil)
	if got, _ := get(t, f, "/d/c"); string(got) != "xy" {
		t.Fatalf("after partial write: %q", got)
	}
	mustNoErr(t, h.Close())
}

func TestCount(t *testing.T) {
	f := newFS(t, "/d")
	put(t, f, "/d/a", []byte("x"), true)
	put(t, f, "/d/b", []byte("x"), true)
	mustNoErr(t, f.SyncDir("/d"))
	mustNoErr(t, f.SyncDir("/d/"))
	for _, c := range []struct {
		op   Op
		path string
		want int
	}{
		{OpSync, "/d/a", 1},
		{OpSync, "", 2},
		{OpSyncDir, "/d", 2},
		{OpDatasync, "", 0},
		{OpOpen, "/d/b", 1},
		{OpWrite, "", 2},
	} {
		if got := f.Count(c.op, c.path); got != c.want {
			t.Errorf("Count(%v, %q) = %d, want %d", c.op, c.path, got, c.want)
		}
	}
}
