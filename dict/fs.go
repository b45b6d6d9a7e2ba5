package dict

import (
	"io/fs"
	"os"

	"github.com/atrest/atrest/internal/atomicfile"
)

// FS is the file system a Manager's data files live on, for adapters that
// route file operations through an engine's own file-system layer (see
// package dict/pebblefs). The dictionaries themselves are always files of
// the operating system in the data directory, so an FS must reach the data
// directory's files at the same paths: the operating system's file system,
// or a wrapper of it that adds fault injection or health checks. Paths
// passed to an FS are absolute. Errors must keep their cause reachable by
// errors.Is (fs.ErrNotExist in particular).
//
// Opening files is not part of FS: every open takes an opener from its
// caller (see OpenWith), so an adapter can pass its own options through.
type FS interface {
	// Lstat describes the file name (it may follow a symbolic link).
	Lstat(name string) (fs.FileInfo, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes name and everything under it.
	RemoveAll(name string) error
	// Rename renames a file or directory atomically, replacing a file at
	// newname.
	Rename(oldname, newname string) error
	// Link makes newname a hard link to oldname.
	Link(oldname, newname string) error
	// SyncDir makes the directory's entries durable (fsync of the
	// directory).
	SyncDir(dir string) error
}

// Handle is an opened data file as the Manager needs it: a file truncated
// for a new entry is synced before the entry is recorded, and a file whose
// keystream cannot be made is closed.
type Handle interface {
	Sync() error
	Close() error
}

// WithFS puts the data files on fsys instead of the operating system's file
// system.
func WithFS(fsys FS) Option {
	return func(o *options) { o.fs = fsys }
}

// osFS is the operating system's file system.
type osFS struct{}

func (osFS) Lstat(name string) (fs.FileInfo, error) { return os.Lstat(name) }
func (osFS) Remove(name string) error               { return os.Remove(name) }
func (osFS) RemoveAll(name string) error            { return os.RemoveAll(name) }
func (osFS) Rename(oldname, newname string) error   { return os.Rename(oldname, newname) }
func (osFS) Link(oldname, newname string) error     { return os.Link(oldname, newname) }
func (osFS) SyncDir(dir string) error               { return atomicfile.SyncDir(dir) }
