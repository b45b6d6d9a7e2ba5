package pebblefs

import (
	"io/fs"

	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/internal/enginefs"
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
	return enginefs.NewManagerFS(baseFS{base}, vfs.Root(base) == vfs.Default)
}

// baseFS is a vfs.FS as enginefs.Base: writes in the unspecified
// category, no open options.
type baseFS struct{ vfs.FS }

func (b baseFS) Create(name string) (enginefs.File, error) {
	return baseFile(b.FS.Create(name, vfs.WriteCategoryUnspecified))
}

func (b baseFS) Open(name string) (enginefs.File, error) { return baseFile(b.FS.Open(name)) }

func (b baseFS) OpenReadWrite(name string) (enginefs.File, error) {
	return baseFile(b.FS.OpenReadWrite(name, vfs.WriteCategoryUnspecified))
}

func (b baseFS) OpenDir(name string) (enginefs.File, error) { return baseFile(b.FS.OpenDir(name)) }

func (b baseFS) Stat(name string) (fs.FileInfo, error) { return b.FS.Stat(name) }

// baseFile is a vfs.File as enginefs.File; it keeps Truncate where the
// file has it.
func baseFile(f vfs.File, err error) (enginefs.File, error) {
	if err != nil {
		return nil, err
	}
	if _, ok := f.(fsys.Truncater); ok {
		return truncatableFile{statFile{f}}, nil
	}
	return statFile{f}, nil
}

// statFile is a vfs.File whose Stat gives an fs.FileInfo.
type statFile struct{ vfs.File }

func (f statFile) Stat() (fs.FileInfo, error) { return f.File.Stat() }

type truncatableFile struct{ statFile }

func (f truncatableFile) Truncate(size int64) error { return f.File.(fsys.Truncater).Truncate(size) }
