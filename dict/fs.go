package dict

import "github.com/atrest/atrest/fsys"

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
