package enginefs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/atrest/atrest/fsys"
)

// File is an engine's open file as the Manager needs it. Pebble's vfs.File
// (v1 as it is, v2 with Stat's result converted) has all of it.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	Stat() (fs.FileInfo, error)
	Sync() error
	SyncData() error
	Preallocate(offset, length int64) error
	// Fd is the operating system's descriptor, or vfs.InvalidFd (all
	// ones) for a file that has none.
	Fd() uintptr
}

// Base is an engine's file system reduced to what the Manager needs:
// Pebble's vfs.FS without its write categories and open options.
type Base interface {
	// Create removes any file at name and creates an empty one.
	Create(name string) (File, error)
	// Open opens an existing file for reading.
	Open(name string) (File, error)
	// OpenReadWrite opens name for reading and writing, creating it if
	// it does not exist.
	OpenReadWrite(name string) (File, error)
	// OpenDir opens a directory, for Sync.
	OpenDir(name string) (File, error)
	Stat(name string) (fs.FileInfo, error)
	List(dir string) ([]string, error)
	Remove(name string) error
	RemoveAll(name string) error
	Rename(oldname, newname string) error
	Link(oldname, newname string) error
	MkdirAll(dir string, perm os.FileMode) error
	// Lock takes an exclusive lock on name; its error when the lock is
	// held is the engine's own (EAGAIN, EACCES, "lock held by current
	// process").
	Lock(name string) (io.Closer, error)
}

// invalidFd is vfs.InvalidFd: a file with no operating-system descriptor.
const invalidFd = ^uintptr(0)

// ManagerFS is an engine's file system (Base) as the file system the
// Manager runs on (fsys.FS): the dictionaries, their temporary files, the
// lock and the data files then all go through the engine's, so an
// in-memory, crash-simulating, fault-injecting or health-checking one
// holds the whole data directory.
//
// What Base lacks is made up for: an exclusive create is a Stat and a
// Create; a write-only open of an existing file is a Stat and an
// OpenReadWrite; Truncate is offered where the base file has it; a file's
// mode is set where the base file has a descriptor (engines create files
// with their own mode). The lock is the operating system's flock on the
// path when osLock is set (a base over the operating system's files, so
// that an encctl beside the engine is excluded), the base's otherwise.
type ManagerFS struct {
	base   Base
	osLock bool
}

var _ fsys.FS = (*ManagerFS)(nil)

// NewManagerFS returns base as the Manager's file system; see ManagerFS.
func NewManagerFS(base Base, osLock bool) *ManagerFS {
	return &ManagerFS{base: base, osLock: osLock}
}

// OpenFile opens name as os.OpenFile does (see fsys.FS).
func (d *ManagerFS) OpenFile(name string, flag int, perm fs.FileMode) (fsys.File, error) {
	write := flag&(os.O_WRONLY|os.O_RDWR) != 0
	create := flag&os.O_CREATE != 0
	var (
		f   File
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
		f, err = d.base.Create(name)
	case flag&os.O_TRUNC != 0:
		if !create {
			if _, serr := d.base.Stat(name); serr != nil {
				return nil, serr
			}
		}
		f, err = d.base.Create(name)
	case create:
		f, err = d.base.OpenReadWrite(name)
	default: // an existing file, for writing
		if _, serr := d.base.Stat(name); serr != nil {
			return nil, serr
		}
		f, err = d.base.OpenReadWrite(name)
	}
	if err != nil {
		return nil, err
	}
	if create && f.Fd() != invalidFd {
		// Only an operating-system file has a descriptor, and a mode.
		if err := os.Chmod(name, perm); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, ok := f.(fsys.Truncater); ok {
		return truncatableFile{managerFile{f}}, nil
	}
	return managerFile{f}, nil
}

// Lstat is the base's Stat: the engines' file systems have no Lstat, and
// the engines make no symbolic links.
func (d *ManagerFS) Lstat(name string) (fs.FileInfo, error) { return d.base.Stat(name) }

// Stat is the base's.
func (d *ManagerFS) Stat(name string) (fs.FileInfo, error) { return d.base.Stat(name) }

// List is the base's.
func (d *ManagerFS) List(dir string) ([]string, error) { return d.base.List(dir) }

// Remove is the base's.
func (d *ManagerFS) Remove(name string) error { return d.base.Remove(name) }

// RemoveAll is the base's.
func (d *ManagerFS) RemoveAll(name string) error { return d.base.RemoveAll(name) }

// Rename is the base's.
func (d *ManagerFS) Rename(oldname, newname string) error { return d.base.Rename(oldname, newname) }

// Link is the base's.
func (d *ManagerFS) Link(oldname, newname string) error { return d.base.Link(oldname, newname) }

// MkdirAll is the base's (for MkdirAllSynced).
func (d *ManagerFS) MkdirAll(dir string, perm fs.FileMode) error { return d.base.MkdirAll(dir, perm) }

// SyncDir opens the directory on the base and syncs it.
func (d *ManagerFS) SyncDir(dir string) error {
	f, err := d.base.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// Lock takes the lock as ManagerFS describes; a held lock gives an error
// wrapping fsys.ErrLocked.
func (d *ManagerFS) Lock(name string) (io.Closer, error) {
	if d.osLock {
		return fsys.OS().Lock(name)
	}
	l, err := d.base.Lock(name)
	if err != nil && lockHeld(err) {
		return nil, &fs.PathError{Op: "lock", Path: name, Err: errors.Join(fsys.ErrLocked, err)}
	}
	return l, err
}

// lockHeld reports whether a base's Lock error says the lock is held:
// Pebble's MemFS answers EAGAIN as the kernel does, vfs.Default's
// in-process table a message of its own.
func lockHeld(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) || strings.Contains(err.Error(), "lock held")
}

// managerFile is a base File as an fsys.File.
type managerFile struct{ File }

func (f managerFile) Datasync() error             { return f.File.SyncData() }
func (f managerFile) Allocate(off, n int64) error { return f.File.Preallocate(off, n) }

// truncatableFile is a managerFile whose base file has Truncate (an
// operating-system file has; Pebble's MemFS has not): only it offers
// fsys.Truncater.
type truncatableFile struct{ managerFile }

func (f truncatableFile) Truncate(size int64) error {
	return f.File.(fsys.Truncater).Truncate(size)
}
