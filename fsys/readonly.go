package fsys

import (
	"io"
	"io/fs"
	"os"
)

// ReadOnly returns a view of base that reads as base does and fails, with
// an error wrapping ErrReadOnly, every call that could change anything:
// an open for writing or with os.O_CREATE or os.O_TRUNC, a write, sync or
// allocation through a file it opened, a removal, rename, link, directory
// sync or lock. Code run on it cannot change the file system, whichever
// path it takes.
func ReadOnly(base FS) FS {
	if ro, ok := base.(readOnly); ok {
		return ro
	}
	return readOnly{base}
}

// IsReadOnly reports whether fsys is a view made by ReadOnly.
func IsReadOnly(fsys FS) bool {
	_, ok := fsys.(readOnly)
	return ok
}

type readOnly struct{ base FS }

func refuse(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: ErrReadOnly}
}

func (r readOnly) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return nil, refuse("open", name)
	}
	f, err := r.base.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return readOnlyFile{f: f, name: name}, nil
}

func (r readOnly) Lstat(name string) (fs.FileInfo, error) { return r.base.Lstat(name) }
func (r readOnly) List(dir string) ([]string, error)      { return r.base.List(dir) }
func (r readOnly) Remove(name string) error               { return refuse("remove", name) }
func (r readOnly) RemoveAll(name string) error            { return refuse("removeall", name) }
func (r readOnly) Rename(oldname, _ string) error         { return refuse("rename", oldname) }
func (r readOnly) Link(oldname, _ string) error           { return refuse("link", oldname) }
func (r readOnly) SyncDir(dir string) error               { return refuse("syncdir", dir) }
func (r readOnly) Lock(name string) (io.Closer, error)    { return nil, refuse("lock", name) }

// readOnlyFile is a file opened for reading through a read-only view: it
// reads and refuses the rest, so a caller that asserts a wider interface
// (Truncater) on it finds none.
type readOnlyFile struct {
	f    File
	name string
}

func (f readOnlyFile) ReadAt(p []byte, off int64) (int, error) { return f.f.ReadAt(p, off) }
func (f readOnlyFile) Stat() (fs.FileInfo, error)              { return f.f.Stat() }
func (f readOnlyFile) Close() error                            { return f.f.Close() }
func (f readOnlyFile) WriteAt([]byte, int64) (int, error)      { return 0, refuse("write", f.name) }
func (f readOnlyFile) Sync() error                             { return refuse("sync", f.name) }
func (f readOnlyFile) Datasync() error                         { return refuse("fdatasync", f.name) }
func (f readOnlyFile) Allocate(int64, int64) error             { return refuse("fallocate", f.name) }
