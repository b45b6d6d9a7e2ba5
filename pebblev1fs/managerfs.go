package pebblev1fs

import (
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/internal/enginefs"
	"github.com/cockroachdb/pebble/vfs"
)

// NewFS returns base as the file system the Manager runs on (fsys.FS): the
// dictionaries, their temporary files, the lock and the data files then
// all go through base, so an in-memory, crash-simulating, fault-injecting
// or health-checking vfs.FS holds the whole data directory. vfs.Default
// itself is the operating system's fsys.OS (exact file modes, flock). The
// lock of a base whose root is vfs.Default is the operating system's
// flock on the path, as an encctl beside the engine takes it; others use
// the base's Lock. See enginefs.ManagerFS for what is made up for.
func NewFS(base vfs.FS) fsys.FS {
	if base == vfs.Default {
		return fsys.OS()
	}
	return enginefs.NewManagerFS(baseFS{base}, vfs.Root(base) == vfs.Default)
}

// baseFS is a vfs.FS as enginefs.Base: no open options. Pebble v1's
// vfs.File is an enginefs.File as it is.
type baseFS struct{ vfs.FS }

func (b baseFS) Create(name string) (enginefs.File, error) { return asFile(b.FS.Create(name)) }
func (b baseFS) Open(name string) (enginefs.File, error)   { return asFile(b.FS.Open(name)) }
func (b baseFS) OpenDir(name string) (enginefs.File, error) {
	return asFile(b.FS.OpenDir(name))
}
func (b baseFS) OpenReadWrite(name string) (enginefs.File, error) {
	return asFile(b.FS.OpenReadWrite(name))
}

// asFile keeps a failed open's file nil as an enginefs.File.
func asFile(f vfs.File, err error) (enginefs.File, error) {
	if err != nil {
		return nil, err
	}
	return f, nil
}
