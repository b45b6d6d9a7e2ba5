package pebblefs

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/enginefs"
	"github.com/atrest/atrest/keyenv"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// FS is a vfs.FS that encrypts every file under its data directory. It is
// safe for concurrent use. Every method of vfs.FS is written out here;
// none is inherited from the base.
type FS struct {
	m    *dict.Manager
	base vfs.FS
}

var _ vfs.FS = (*FS)(nil)

// Open makes the data directory dir on base if it does not exist (its new
// entries synced, so a power cut cannot lose it with what is written in
// it), opens
// its dictionaries (creating them on the first start with encryption on)
// and returns an FS that encrypts every file under dir. Give Pebble the
// same dir and the returned FS. cfg is the TiKV-style configuration (data
// method, rotation period, master keys); opts go to dict.Open. Close the
// FS after the Pebble DB.
func Open(ctx context.Context, dir string, cfg keyenv.Config, base vfs.FS, opts ...dict.Option) (*FS, error) {
	if base == nil {
		base = vfs.Default
	}
	if err := enginefs.MkdirAllSynced(enginefs.NewManagerFS(baseFS{base}, false), dir); err != nil {
		return nil, fmt.Errorf("pebblefs: %w", err)
	}
	m, err := dict.Open(ctx, dir, cfg, append(opts, dict.WithFS(NewFS(base)))...)
	if err != nil {
		return nil, fmt.Errorf("pebblefs: %w", err)
	}
	return &FS{m: m, base: base}, nil
}

// Manager returns the dictionaries' Manager, for data-key rotation,
// lookups and statistics. It is closed by Close.
func (e *FS) Manager() *dict.Manager { return e.m }

// Close closes the dictionaries. Files still open stay usable; nothing
// else may be called afterwards.
func (e *FS) Close() error { return e.m.Close() }

// Create removes any file at name and creates a new one with a fresh
// entry (current data key, random IV), as vfs.Default does: the new file
// is a new inode, so hard links to the old one keep their content.
func (e *FS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, s, err := dict.OpenWith(e.m, name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, func(path string, _ int) (vfs.File, error) {
		return e.base.Create(path, category)
	})
	if err != nil {
		return nil, err
	}
	return wrap(f, s), nil
}

// Link makes newname a hard link to oldname; both names share the file's
// entry.
func (e *FS) Link(oldname, newname string) error { return e.m.Link(oldname, newname) }

// Open opens name for reading; opts (readahead hints) apply to the base
// file.
func (e *FS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, s, err := dict.OpenWith(e.m, name, os.O_RDONLY, func(path string, _ int) (vfs.File, error) {
		return e.base.Open(path, opts...)
	})
	if err != nil {
		return nil, err
	}
	return wrap(f, s), nil
}

// OpenReadWrite opens name for reading and writing, creating it with a
// fresh entry if it does not exist; WriteAt is encrypted at its offset
// under the file's existing key and IV.
func (e *FS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, s, err := dict.OpenWith(e.m, name, os.O_RDWR|os.O_CREATE, func(path string, _ int) (vfs.File, error) {
		return e.base.OpenReadWrite(path, category, opts...)
	})
	if err != nil {
		return nil, err
	}
	return wrap(f, s), nil
}

// OpenDir opens a directory for syncing; directories are not encrypted.
func (e *FS) OpenDir(name string) (vfs.File, error) { return e.base.OpenDir(name) }

// Remove removes a file (or empty directory) and then its entry.
func (e *FS) Remove(name string) error { return e.m.Remove(name) }

// RemoveAll removes name and everything under it, and their entries. The
// data directory itself is refused (it holds the dictionaries).
func (e *FS) RemoveAll(name string) error { return e.m.RemoveAll(name) }

// Rename renames a file or directory atomically with its entries,
// replacing a file at newname.
func (e *FS) Rename(oldname, newname string) error { return e.m.Rename(oldname, newname) }

// ReuseForWrite renames oldname to newname and opens it for writing with
// a fresh IV: a recycled WAL is overwritten under a new keystream, and its
// old records read as noise, which Pebble's log reader takes for the end
// of the log.
func (e *FS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, s, err := dict.ReuseWith(e.m, oldname, newname, func(path string, flag int) (vfs.File, error) {
		if flag&os.O_TRUNC != 0 {
			return e.base.Create(path, category)
		}
		return e.base.OpenReadWrite(path, category)
	})
	if err != nil {
		return nil, err
	}
	return wrap(f, s), nil
}

// MkdirAll is the base FS's: directories are not encrypted.
func (e *FS) MkdirAll(dir string, perm os.FileMode) error { return e.base.MkdirAll(dir, perm) }

// Lock is the base FS's: the lock file holds no data and is not
// encrypted.
func (e *FS) Lock(name string) (io.Closer, error) { return e.base.Lock(name) }

// List lists dir as the base FS does, without the dictionaries' own
// files.
func (e *FS) List(dir string) ([]string, error) {
	names, err := e.base.List(dir)
	if err != nil {
		return nil, err
	}
	return enginefs.Visible(e.m, dir, names), nil
}

// Stat is the base FS's: sizes are exact, counter mode adds no bytes.
func (e *FS) Stat(name string) (vfs.FileInfo, error) { return e.base.Stat(name) }

// PathBase is the base FS's.
func (e *FS) PathBase(path string) string { return e.base.PathBase(path) }

// PathJoin is the base FS's.
func (e *FS) PathJoin(elem ...string) string { return e.base.PathJoin(elem...) }

// PathDir is the base FS's.
func (e *FS) PathDir(path string) string { return e.base.PathDir(path) }

// GetDiskUsage is the base FS's.
func (e *FS) GetDiskUsage(path string) (vfs.DiskUsage, error) { return e.base.GetDiskUsage(path) }

// Unwrap returns the base FS.
func (e *FS) Unwrap() vfs.FS { return e.base }
