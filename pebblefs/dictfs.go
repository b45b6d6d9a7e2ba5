package pebblefs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/atrest/atrest/fsys"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// NewFS returns base as the file system the Manager runs on (fsys.FS): the
// dictionaries, their temporary files, the lock and the data files then
// all go through base, so an in-memory, crash-simulating, fault-injecting
// or health-checking vfs.FS holds the whole data directory. vfs.Default
// itself is the operating system's fsys.OS (exact file modes, flock).
//
// What vfs.FS lacks is made up for: an exclusive create is a Stat and a
// Create; a write-only open of an existing file is a Stat and an
// OpenReadWrite; Truncate is offered where the base file has it; a file's
// mode is set where the base file has a descriptor (Pebble creates files
// with its own). The lock of a base whose root is vfs.Default is the
// operating system's flock on the path, as an encctl beside the engine
// takes it; others use the base's Lock.
func NewFS(base vfs.FS) fsys.FS {
	if base == vfs.Default {
		return fsys.OS()
	}
	return dictFS{base: base, osLock: vfs.Root(base) == vfs.Default}
}

type dictFS struct {
	base   vfs.FS
	osLock bool
}

func (d dictFS) OpenFile(name string, flag int, perm fs.FileMode) (fsys.File, error) {
	write := flag&(os.O_WRONLY|os.O_RDWR) != 0
	create := flag&os.O_CREATE != 0
	var (
		f   vfs.File
		err error
	)
	switch {
	case flag&os.O_APPEND != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.ErrUnsupported}
	case !write && !create && flag&os.O_TRUNC == 0:
		f, err = d.base.Open(name)
	case create && flag&os.O_EXCL != 0:
		if _, serr := d.base.Stat(name); serr == nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
		} else if !errors.Is(serr, fs.ErrNotExist) {
			return nil, serr
		}
		f, err = d.base.Create(name, vfs.WriteCategoryUnspecified)
	case flag&os.O_TRUNC != 0:
		if !create {
			if _, serr := d.base.Stat(name); serr != nil {
				return nil, serr
			}
		}
		f, err = d.base.Create(name, vfs.WriteCategoryUnspecified)
	case create:
		f, err = d.base.OpenReadWrite(name, vfs.WriteCategoryUnspecified)
	default: // an existing file, for writing
		if _, serr := d.base.Stat(name); serr != nil {
			return nil, serr
		}
		f, err = d.base.OpenReadWrite(name, vfs.WriteCategoryUnspecified)
	}
	if err != nil {
		return nil, err
	}
	if create && f.Fd() != vfs.InvalidFd {
		// Only an operating-system file has a descriptor, and a mode.
		if err := os.Chmod(name, perm); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, ok := f.(interface{ Truncate(int64) error }); ok {
		return truncatableFile{vfsFile{f}}, nil
	}
	return vfsFile{f}, nil
}

// Lstat is the base's Stat: vfs.FS has no Lstat, and Pebble makes no
// symbolic links.
func (d dictFS) Lstat(name string) (fs.FileInfo, error) { return d.base.Stat(name) }
func (d dictFS) Stat(name string) (fs.FileInfo, error)  { return d.base.Stat(name) }
func (d dictFS) List(dir string) ([]string, error)      { return d.base.List(dir) }
func (d dictFS) Remove(name string) error               { return d.base.Remove(name) }
func (d dictFS) RemoveAll(name string) error            { return d.base.RemoveAll(name) }
func (d dictFS) Rename(oldname, newname string) error   { return d.base.Rename(oldname, newname) }
func (d dictFS) Link(oldname, newname string) error     { return d.base.Link(oldname, newname) }

func (d dictFS) SyncDir(dir string) error {
	f, err := d.base.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

func (d dictFS) Lock(name string) (io.Closer, error) {
	if d.osLock {
		return fsys.OS().Lock(name)
	}
	l, err := d.base.Lock(name)
	if err != nil && lockHeld(err) {
		return nil, &fs.PathError{Op: "lock", Path: name, Err: errors.Join(fsys.ErrLocked, err)}
	}
	return l, err
}

// lockHeld reports whether a vfs.FS's Lock error says the lock is held:
// MemFS answers EAGAIN as the kernel does, vfs.Default's in-process table
// a message of its own.
func lockHeld(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) || strings.Contains(err.Error(), "lock held")
}

// vfsFile is a vfs.File as an fsys.File.
type vfsFile struct{ vfs.File }

func (f vfsFile) Stat() (fs.FileInfo, error) { return f.File.Stat() }
func (f vfsFile) Datasync() error            { return f.File.SyncData() }
func (f vfsFile) Allocate(off, n int64) error {
	return f.File.Preallocate(off, n)
}

// truncatableFile is a vfsFile whose base file has Truncate (an
// operating-system file has; Pebble's MemFS has not): only it offers
// fsys.Truncater.
type truncatableFile struct{ vfsFile }

func (f truncatableFile) Truncate(size int64) error {
	return f.File.(interface{ Truncate(int64) error }).Truncate(size)
}
