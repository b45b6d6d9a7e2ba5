// Looking names up and reading directories: opening files, stat, listing.

package crashfs

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/atrest/atrest/fsys"
)

// clean checks that name is absolute and cleans it.
func clean(name string) (string, error) {
	if !filepath.IsAbs(name) {
		return "", syscall.EINVAL
	}
	return filepath.Clean(name), nil
}

// lookup returns the inode at the cleaned absolute path p; the lock is
// held.
func (f *FS) lookup(p string) (*inode, error) {
	n := f.root
	if p == "/" {
		return n, nil
	}
	for _, part := range strings.Split(p[1:], "/") {
		if !n.isDir() {
			return nil, syscall.ENOTDIR
		}
		c, ok := n.entries[part]
		if !ok {
			return nil, syscall.ENOENT
		}
		n = c
	}
	return n, nil
}

// parent returns the directory holding the cleaned absolute path p, and
// p's last element; the lock is held.
func (f *FS) parent(p string) (*inode, string, error) {
	if p == "/" {
		return nil, "", syscall.EBUSY
	}
	dir, base := filepath.Split(p)
	d, err := f.lookup(filepath.Clean(dir))
	if err != nil {
		return nil, "", err
	}
	if !d.isDir() {
		return nil, "", syscall.ENOTDIR
	}
	return d, base, nil
}

// enter begins a call on name: the cleaned path, or the call's error (a
// bad name, or the fault hook's verdict) as an *fs.PathError.
func (f *FS) enter(op Op, name string) (string, error) {
	p, err := clean(name)
	if err != nil {
		return "", pathErr(op, name, err)
	}
	if err := f.injected(op, p); err != nil {
		return "", pathErr(op, p, err)
	}
	return p, nil
}

func pathErr(op Op, path string, err error) error {
	return &fs.PathError{Op: op.String(), Path: path, Err: err}
}

// OpenFile opens name as os.OpenFile does. flag is os.O_RDONLY,
// os.O_WRONLY or os.O_RDWR, possibly with os.O_CREATE, os.O_EXCL and
// os.O_TRUNC (os.O_TRUNC only with write access; os.O_APPEND is
// refused). A directory can be opened read-only: Sync of such a handle is
// SyncDir. A file created is an un-synced create in its directory.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (fsys.File, error) {
	h, err := f.open(OpOpen, name, flag, perm)
	if err != nil {
		return nil, err
	}
	return h, nil
}

func (f *FS) open(op Op, name string, flag int, perm fs.FileMode) (*File, error) {
	p, err := f.enter(op, name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h, err := f.openLocked(p, flag, perm)
	if err != nil {
		return nil, pathErr(op, p, err)
	}
	f.count(op, p)
	return h, nil
}

// openLocked opens the cleaned path p; the lock is held.
func (f *FS) openLocked(p string, flag int, perm fs.FileMode) (*File, error) {
	acc := flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	if flag&os.O_APPEND != 0 || acc == os.O_WRONLY|os.O_RDWR || (flag&os.O_TRUNC != 0 && acc == os.O_RDONLY) {
		return nil, syscall.EINVAL
	}
	n := f.root
	if p != "/" {
		d, base, err := f.parent(p)
		if err != nil {
			return nil, err
		}
		n = d.entries[base]
		if n == nil {
			if flag&os.O_CREATE == 0 {
				return nil, syscall.ENOENT
			}
			n = f.newFile(perm)
			n.nlink = 1
			f.record(d, dirOp{id: f.opID(), changes: []change{{base, n}}})
			flag &^= os.O_EXCL
		}
	}
	switch {
	case flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, syscall.EEXIST
	case n.isDir() && acc != os.O_RDONLY:
		return nil, syscall.EISDIR
	}
	if flag&os.O_TRUNC != 0 {
		n.resize(0)
	}
	return &File{fs: f, n: n, path: p, read: acc != os.O_WRONLY, write: acc != os.O_RDONLY}, nil
}

// resize sets a regular file's current size, zero-filling growth and
// marking the blocks a shrink cut as dirty.
func (n *inode) resize(size int64) {
	old := int64(len(n.data))
	switch {
	case size < old:
		for b := size / BlockSize; b <= (old-1)/BlockSize; b++ {
			n.dirty[b] = struct{}{}
		}
		n.data = n.data[:size]
	case size > old:
		if size <= int64(cap(n.data)) {
			n.data = n.data[:size]
			clear(n.data[old:])
		} else {
			n.data = append(n.data, make([]byte, size-old)...)
		}
	}
	n.modTime = time.Now()
}

// Lstat describes the file or directory name.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	p, err := f.enter(OpStat, name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.lookup(p)
	if err != nil {
		return nil, pathErr(OpStat, p, err)
	}
	f.count(OpStat, p)
	return f.info(n, filepath.Base(p)), nil
}

// List returns the names in the directory dir, sorted.
func (f *FS) List(dir string) ([]string, error) {
	p, err := f.enter(OpList, dir)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.lookup(p)
	if err == nil && !n.isDir() {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, pathErr(OpList, p, err)
	}
	f.count(OpList, p)
	return sortedNames(n.entries), nil
}

func sortedNames(m map[string]*inode) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
