package crashfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// File is an open file or directory of an FS: an fsys.File and an
// fsys.Truncater. It keeps working on its inode after the name it was
// opened by is removed or renamed.
type File struct {
	fs          *FS
	n           *inode
	path        string // the cleaned path it was opened by
	read, write bool
	closed      bool // under fs.mu
}

// check fails a call through a closed handle or one lacking the access
// it needs; the lock is held.
func (h *File) check(needWrite bool) error {
	switch {
	case h.closed:
		return os.ErrClosed
	case needWrite && !h.write:
		return syscall.EBADF
	case needWrite && h.n.isDir():
		return syscall.EISDIR
	}
	return nil
}

// ReadAt reads len(p) bytes at off, with io.EOF when fewer are there.
func (h *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, pathErr(OpRead, h.path, syscall.EINVAL)
	}
	if err := h.fs.injected(OpRead, h.path); err != nil {
		return 0, pathErr(OpRead, h.path, err)
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	err := h.check(false)
	if err == nil && !h.read {
		err = syscall.EBADF
	}
	if err == nil && h.n.isDir() {
		err = syscall.EISDIR
	}
	if err != nil {
		return 0, pathErr(OpRead, h.path, err)
	}
	h.fs.count(OpRead, h.path)
	if off >= int64(len(h.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes p at off, extending the file with zeros up to off if
// need be. The bytes are not durable until Sync or Datasync. A fault
// injected for OpWrite fails it having written nothing, or, if it is a
// *PartialWrite, having written the first N bytes.
func (h *File) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, pathErr(OpWrite, h.path, syscall.EINVAL)
	}
	ferr := h.fs.injected(OpWrite, h.path)
	var pw *PartialWrite
	if ferr != nil && !errors.As(ferr, &pw) {
		return 0, pathErr(OpWrite, h.path, ferr)
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check(true); err != nil {
		return 0, pathErr(OpWrite, h.path, err)
	}
	if pw != nil {
		p = p[:min(max(pw.N, 0), len(p))]
	}
	h.n.write(p, off)
	if pw != nil {
		return len(p), pathErr(OpWrite, h.path, ferr)
	}
	h.fs.count(OpWrite, h.path)
	return len(p), nil
}

// write writes p at off in a regular file's current image.
func (n *inode) write(p []byte, off int64) {
	if len(p) == 0 {
		return
	}
	end := off + int64(len(p))
	if end > int64(len(n.data)) {
		n.resize(end)
	}
	copy(n.data[off:], p)
	for b := off / BlockSize; b <= (end-1)/BlockSize; b++ {
		n.dirty[b] = struct{}{}
	}
	n.modTime = time.Now()
}

// Close closes the handle; a second Close fails with os.ErrClosed.
func (h *File) Close() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.closed {
		return &fs.PathError{Op: "close", Path: h.path, Err: os.ErrClosed}
	}
	h.closed = true
	return nil
}

// Stat describes the open file (its size is the current size; its name
// is the base of the path it was opened by).
func (h *File) Stat() (fs.FileInfo, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.closed {
		return nil, &fs.PathError{Op: "stat", Path: h.path, Err: os.ErrClosed}
	}
	return h.fs.info(h.n, filepath.Base(h.path)), nil
}

// Sync makes the file's current contents and size durable (not its
// name: that takes SyncDir). On a handle opened on a directory it is
// SyncDir of that directory.
func (h *File) Sync() error { return h.sync(OpSync) }

// Datasync is Sync: this model makes the size durable with the bytes.
func (h *File) Datasync() error { return h.sync(OpDatasync) }

func (h *File) sync(op Op) error {
	if err := h.fs.injected(op, h.path); err != nil {
		return pathErr(op, h.path, err)
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check(false); err != nil {
		return pathErr(op, h.path, err)
	}
	if h.n.isDir() {
		commit(h.n, len(h.n.pending))
	} else {
		h.n.sync()
	}
	h.fs.count(op, h.path)
	return nil
}

// sync makes a regular file's current image durable.
func (n *inode) sync() {
	size := int64(len(n.data))
	if int64(len(n.durable)) > size {
		n.durable = n.durable[:size]
	} else if int64(len(n.durable)) < size {
		n.durable = append(n.durable, make([]byte, size-int64(len(n.durable)))...)
	}
	for b := range n.dirty {
		lo := b * BlockSize
		if lo >= size {
			continue
		}
		hi := min(lo+BlockSize, size)
		copy(n.durable[lo:hi], n.data[lo:hi])
	}
	clear(n.dirty)
}

// Allocate makes the file at least off+n bytes long, the new bytes
// zeros, as fallocate(2) in its default mode does; bytes already in the
// file are kept. The size change is durable only at the next Sync or
// Datasync, like any other.
func (h *File) Allocate(off, n int64) error {
	if off < 0 || n <= 0 {
		return pathErr(OpAllocate, h.path, syscall.EINVAL)
	}
	if err := h.fs.injected(OpAllocate, h.path); err != nil {
		return pathErr(OpAllocate, h.path, err)
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check(true); err != nil {
		return pathErr(OpAllocate, h.path, err)
	}
	if off+n > int64(len(h.n.data)) {
		h.n.resize(off + n)
	}
	h.fs.count(OpAllocate, h.path)
	return nil
}

// Truncate sets the file's current size: bytes cut off are gone, growth
// reads as zeros. Durable only at the next Sync or Datasync.
func (h *File) Truncate(size int64) error {
	if size < 0 {
		return pathErr(OpTruncate, h.path, syscall.EINVAL)
	}
	if err := h.fs.injected(OpTruncate, h.path); err != nil {
		return pathErr(OpTruncate, h.path, err)
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check(true); err != nil {
		return pathErr(OpTruncate, h.path, err)
	}
	h.n.resize(size)
	h.fs.count(OpTruncate, h.path)
	return nil
}
