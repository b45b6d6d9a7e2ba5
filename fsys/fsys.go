package fsys

import (
	"errors"
	"io"
	"io/fs"
)

// Errors callers test with errors.Is.
var (
	// ErrReadOnly: the call would change the file system, and it was made
	// through a read-only view (ReadOnly).
	ErrReadOnly = errors.New("read-only view of the file system")
	// ErrLocked: FS.Lock found the lock held by another holder, in this
	// process or another.
	ErrLocked = errors.New("lock is held")
)

// File is an open file: positioned reads and writes, and the syncs the
// dictionaries' crash safety is built on.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Stat describes the open file.
	Stat() (fs.FileInfo, error)
	// Sync makes the file's bytes and metadata (its size among them)
	// durable (fsync). It does not make the file's name durable: that
	// takes FS.SyncDir of its directory.
	Sync() error
	// Datasync makes the file's bytes durable, and of its metadata only
	// what reading them back needs (fdatasync); where the file system has
	// no such call it is Sync.
	Datasync() error
	// Allocate reserves [off, off+n) for the file, reading as zeros,
	// before it is written (fallocate), where the file system can; where
	// it cannot it does nothing and returns nil. It may change the file's
	// size.
	Allocate(off, n int64) error
}

// Truncater is a File whose size can be set. Not every file system has
// truncation (Pebble's vfs has none): callers that can do without it test
// for the interface.
type Truncater interface {
	Truncate(size int64) error
}

// FS is a file system as the Manager needs it. Implementations must be
// safe for concurrent use.
type FS interface {
	// OpenFile opens name as os.OpenFile does, with flag one of
	// os.O_RDONLY, os.O_WRONLY or os.O_RDWR, possibly with os.O_CREATE,
	// os.O_EXCL and os.O_TRUNC (never os.O_APPEND).
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Lstat describes the file name (it may follow a symbolic link where
	// the file system has none).
	Lstat(name string) (fs.FileInfo, error)
	// List returns the names in the directory dir, in no particular order.
	List(dir string) ([]string, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes name and everything under it; a missing name is
	// not an error.
	RemoveAll(name string) error
	// Rename renames a file or directory atomically, replacing a file at
	// newname.
	Rename(oldname, newname string) error
	// Link makes newname a hard link to oldname.
	Link(oldname, newname string) error
	// SyncDir makes the directory's entries (creates, renames, links,
	// removals in it) durable: fsync of the directory.
	SyncDir(dir string) error
	// Lock takes an exclusive lock on the file name, creating it if need
	// be, without waiting: an error wrapping ErrLocked when another
	// holder has it. Closing the returned Closer releases it. The lock
	// file holds no data.
	Lock(name string) (io.Closer, error)
}
