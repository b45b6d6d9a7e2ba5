package pebblefs

import (
	"errors"
	"io/fs"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// dictFS lets the dictionaries' file operations (renames, links, removals,
// directory syncs) go through the base vfs.FS, so a fault injected there
// reaches the Manager too.
type dictFS struct{ base vfs.FS }

// Lstat is the base's Stat: vfs.FS has no Lstat, and Pebble makes no
// symbolic links.
func (d dictFS) Lstat(name string) (fs.FileInfo, error) { return d.base.Stat(name) }

func (d dictFS) Remove(name string) error             { return d.base.Remove(name) }
func (d dictFS) RemoveAll(name string) error          { return d.base.RemoveAll(name) }
func (d dictFS) Rename(oldname, newname string) error { return d.base.Rename(oldname, newname) }
func (d dictFS) Link(oldname, newname string) error   { return d.base.Link(oldname, newname) }

func (d dictFS) SyncDir(dir string) error {
	f, err := d.base.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
