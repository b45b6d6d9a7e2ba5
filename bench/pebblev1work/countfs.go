package pebblev1work

import (
	"path/filepath"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/dict"
	"github.com/cockroachdb/pebble/vfs"
)

// CountFS is a Pebble v1 vfs.FS that counts the reads and writes of its
// files in an engine.Counts, to tell how many bytes an encrypting FS
// above it encrypted and decrypted. atrest's dictionaries are not
// counted: they are the encrypting layer's own files, not the engine's.
// Every other call is the base FS's.
type CountFS struct {
	vfs.FS
	counts *engine.Counts
}

// NewCountFS returns base counting into c.
func NewCountFS(base vfs.FS, c *engine.Counts) *CountFS { return &CountFS{FS: base, counts: c} }

func (c *CountFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || dict.IsDictionaryFile(filepath.Base(name)) {
		return f, err
	}
	return &countFile{File: f, counts: c.counts}, nil
}

// Create counts the new file's I/O.
func (c *CountFS) Create(name string) (vfs.File, error) {
	f, err := c.FS.Create(name)
	return c.wrap(name, f, err)
}

// Open counts the file's I/O.
func (c *CountFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := c.FS.Open(name, opts...)
	return c.wrap(name, f, err)
}

// OpenReadWrite counts the file's I/O.
func (c *CountFS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := c.FS.OpenReadWrite(name, opts...)
	return c.wrap(name, f, err)
}

// ReuseForWrite counts the file's I/O.
func (c *CountFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := c.FS.ReuseForWrite(oldname, newname)
	return c.wrap(newname, f, err)
}

// Unwrap returns the base FS.
func (c *CountFS) Unwrap() vfs.FS { return c.FS }

// countFile counts the bytes read and written; every other call is the
// base file's.
type countFile struct {
	vfs.File
	counts *engine.Counts
}

func (f *countFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.counts.Read(n)
	return n, err
}

func (f *countFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.counts.Read(n)
	return n, err
}

func (f *countFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.counts.Write(n)
	return n, err
}

func (f *countFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.counts.Write(n)
	return n, err
}
