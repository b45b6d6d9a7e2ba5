package leveldbwork

import (
	"io/fs"
	"path/filepath"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/fsys"
	"github.com/syndtr/goleveldb/leveldb/storage"
)

// CountStorage is a goleveldb storage.Storage that counts the reads and
// writes of the files it opens and creates in an engine.Counts: under
// the peer, the bytes it encrypted and decrypted. What a storage writes
// by itself (goleveldb's CURRENT through SetMeta, its LOG) is not
// counted. Every other call is the base storage's.
type CountStorage struct {
	storage.Storage
	counts *engine.Counts
}

// NewCountStorage returns base counting into c.
func NewCountStorage(base storage.Storage, c *engine.Counts) *CountStorage {
	return &CountStorage{Storage: base, counts: c}
}

// Open counts the file's reads.
func (c *CountStorage) Open(fd storage.FileDesc) (storage.Reader, error) {
	r, err := c.Storage.Open(fd)
	if err != nil {
		return nil, err
	}
	return &countReader{Reader: r, counts: c.counts}, nil
}

// Create counts the file's writes.
func (c *CountStorage) Create(fd storage.FileDesc) (storage.Writer, error) {
	w, err := c.Storage.Create(fd)
	if err != nil {
		return nil, err
	}
	return &countWriter{Writer: w, counts: c.counts}, nil
}

type countReader struct {
	storage.Reader
	counts *engine.Counts
}

func (r *countReader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	r.counts.Read(n)
	return n, err
}

func (r *countReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.Reader.ReadAt(p, off)
	r.counts.Read(n)
	return n, err
}

type countWriter struct {
	storage.Writer
	counts *engine.Counts
}

func (w *countWriter) Write(p []byte) (int, error) {
	n, err := w.Writer.Write(p)
	w.counts.Write(n)
	return n, err
}

// CountFS is an fsys.FS that counts the reads and writes of its files in
// an engine.Counts: under leveldbstore, the bytes it encrypted and
// decrypted. atrest's dictionaries are not counted: they are the
// encrypting layer's own files, not the engine's. Every other call is
// the base's.
type CountFS struct {
	fsys.FS
	counts *engine.Counts
}

// NewCountFS returns base counting into c.
func NewCountFS(base fsys.FS, c *engine.Counts) *CountFS { return &CountFS{FS: base, counts: c} }

// OpenFile counts the file's I/O.
func (c *CountFS) OpenFile(name string, flag int, perm fs.FileMode) (fsys.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil || dict.IsDictionaryFile(filepath.Base(name)) {
		return f, err
	}
	cf := &countFile{File: f, counts: c.counts}
	if _, ok := f.(fsys.Truncater); ok {
		return truncatableCountFile{cf}, nil
	}
	return cf, nil
}

// countFile counts the bytes read and written; every other call is the
// base file's.
type countFile struct {
	fsys.File
	counts *engine.Counts
}

func (f *countFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.counts.Read(n)
	return n, err
}

func (f *countFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.counts.Write(n)
	return n, err
}

// truncatableCountFile is a countFile whose base can be truncated, and
// which keeps that (fsys.Truncater).
type truncatableCountFile struct{ *countFile }

func (f truncatableCountFile) Truncate(size int64) error {
	return f.File.(fsys.Truncater).Truncate(size)
}
