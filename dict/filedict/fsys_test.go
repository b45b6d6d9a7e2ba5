package filedict

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/atrest/atrest/fsys"
)

// tornRecord is the start of a record whose length runs past the end of
// the file: what an append cut short leaves.
var tornRecord = []byte{1, 2, 3, 4, 0, 0, 1, 0, byte(RecordInsert), 'x', 'y'}

// appendRaw writes b at the end of path's contents (over the zeros an
// open log keeps ahead), as a crash in the middle of an append leaves it.
func appendRaw(t *testing.T, path string, b []byte) {
	t.Helper()
	end := contentSize(t, path)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteAt(b, end)
	must(t, err)
	must(t, f.Close())
}

// TestOpenReadOnly: on a read-only view Open reads a dictionary with a
// torn tail, a pending rename and a rewrite's leftover temporary file,
// and changes nothing on disk: the tail, the temporary file and every
// byte stay. Mutations fail with fsys.ErrReadOnly; the pending rename is
// resolved in memory only. A writable Open afterwards repairs the file.
func TestOpenReadOnly(t *testing.T) {
	path := dictPath(t)
	d := mustCreate(t, path, Options{})
	must(t, d.Insert("a", entry(1)))
	must(t, d.Insert("b", entry(2)))
	must(t, d.BeginRename(Rename{Src: "b", Dst: "c"}))
	mustClose(t, d)
	appendRaw(t, path, tornRecord)
	tmp := filepath.Join(filepath.Dir(path), "file.dict.tmp-77")
	must(t, os.WriteFile(tmp, []byte("leftover"), 0o600))
	before, _ := os.ReadFile(path)

	ro := Options{FS: fsys.ReadOnly(fsys.OS())}
	d = mustOpen(t, path, ro)
	mustState(t, d, dictState{Entries: map[string]Entry{"a": entry(1), "b": entry(2)}, Pending: []Rename{{Src: "b", Dst: "c"}}})
	for name, err := range map[string]error{
		"insert":       d.Insert("z", entry(3)),
		"remove":       d.Remove("a"),
		"remove many":  d.RemoveMany([]string{"a"}),
		"begin rename": d.BeginRename(Rename{Src: "a", Dst: "y"}),
		"compact":      d.Compact(),
	} {
		if !errors.Is(err, fsys.ErrReadOnly) {
			t.Errorf("%s: %v, want ErrReadOnly", name, err)
		}
	}
	must(t, d.CommitRename("b", "c"))
	mustState(t, d, dictState{Entries: map[string]Entry{"a": entry(1), "c": entry(2)}})
	mustClose(t, d)
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a read-only open changed the file")
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("a read-only open removed the temporary file: %v", err)
	}

	d = mustOpen(t, path, Options{})
	mustState(t, d, dictState{Entries: map[string]Entry{"a": entry(1), "b": entry(2)}, Pending: []Rename{{Src: "b", Dst: "c"}}})
	mustClose(t, d)
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the writable open kept the temporary file: %v", err)
	}
	if data, _ := os.ReadFile(path); bytes.Contains(data, tornRecord) {
		t.Error("the writable open kept the torn record")
	}
}

// noTruncateFS is the operating system's file system with files that
// cannot be truncated, as Pebble's MemFS has them.
type noTruncateFS struct{ fsys.FS }

// plainFile hides every method of a file but fsys.File's.
type plainFile struct{ fsys.File }

func (n noTruncateFS) OpenFile(name string, flag int, perm fs.FileMode) (fsys.File, error) {
	f, err := n.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return plainFile{f}, nil
}

// TestNoTruncation: where files cannot be truncated, Close leaves the
// zeros after the log, and Open drops a torn last record by writing zeros
// over it: the file keeps its length, the record is gone, and appends and
// reopens go on as usual.
func TestNoTruncation(t *testing.T) {
	path := dictPath(t)
	o := Options{FS: noTruncateFS{fsys.OS()}}
	d := mustCreate(t, path, o)
	must(t, d.Insert("a", entry(1)))
	mustClose(t, d)
	size := fileSize(t, path)
	if size <= contentSize(t, path) {
		t.Fatalf("file of %d bytes: the zeros after the log went without Truncate", size)
	}
	appendRaw(t, path, tornRecord)
	d = mustOpen(t, path, o)
	mustState(t, d, dictState{Entries: map[string]Entry{"a": entry(1)}})
	data, _ := os.ReadFile(path)
	if int64(len(data)) != size || bytes.Contains(data, tornRecord) {
		t.Fatalf("after open: %d bytes (want %d), torn record kept %v", len(data), size, bytes.Contains(data, tornRecord))
	}
	must(t, d.Insert("b", entry(2)))
	mustClose(t, d)
	d = mustOpen(t, path, o)
	mustState(t, d, dictState{Entries: map[string]Entry{"a": entry(1), "b": entry(2)}})
	mustClose(t, d)
}
