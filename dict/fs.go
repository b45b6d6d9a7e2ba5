package dict

import (
	"errors"
	"io/fs"

	"github.com/atrest/atrest/fsys"
)

// Handle is an opened data file as the Manager needs it: a file truncated
// for a new entry is synced before the entry is recorded, and a file whose
// keystream cannot be made is closed.
type Handle interface {
	Sync() error
	Close() error
}

// WithFS puts the whole data directory on fsys instead of the operating
// system's file system: the dictionaries, their temporary files, the lock
// and the data files. Paths passed to it are absolute. Adapters pass their
// engine's file system (package pebblefs adapts any Pebble vfs.FS), and
// tests an in-memory or crash-simulating one.
func WithFS(fs fsys.FS) Option {
	return func(o *options) { o.fs = fs }
}

// lstat describes the file at abs; a file that is not there is not an
// error, any other failure is (the caller cannot tell what is there).
func (m *Manager) lstat(abs string) (st fs.FileInfo, exists bool, err error) {
	st, err = m.fs.Lstat(abs)
	switch {
	case err == nil:
		return st, true, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	}
	return nil, false, err
}
