package dict

import (
	"io"
	"io/fs"

	"github.com/atrest/atrest/fsys"
)

// osFS is the operating system's file system as a struct, for tests to
// embed and override a call of.
type osFS struct{}

var osfs = fsys.OS()

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (fsys.File, error) {
	return osfs.OpenFile(name, flag, perm)
}
func (osFS) Stat(name string) (fs.FileInfo, error)  { return osfs.Stat(name) }
func (osFS) Lstat(name string) (fs.FileInfo, error) { return osfs.Lstat(name) }
func (osFS) List(dir string) ([]string, error)      { return osfs.List(dir) }
func (osFS) Remove(name string) error               { return osfs.Remove(name) }
func (osFS) RemoveAll(name string) error            { return osfs.RemoveAll(name) }
func (osFS) Rename(oldname, newname string) error   { return osfs.Rename(oldname, newname) }
func (osFS) Link(oldname, newname string) error     { return osfs.Link(oldname, newname) }
func (osFS) SyncDir(dir string) error               { return osfs.SyncDir(dir) }
func (osFS) Lock(name string) (io.Closer, error)    { return osfs.Lock(name) }
