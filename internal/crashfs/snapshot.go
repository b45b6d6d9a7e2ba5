// What tests read of the whole file system: its files, directories and
// contents, and the descriptions Stat returns.

package crashfs

import (
	"io/fs"
	"path/filepath"
	"time"
)

// Files returns the paths of all regular files, sorted (a file with
// several links once per link).
func (f *FS) Files() []string {
	var paths []string
	f.walk(func(p string, n *inode) {
		if !n.isDir() {
			paths = append(paths, p)
		}
	})
	return paths
}

// Dirs returns the paths of all directories, "/" included, sorted.
func (f *FS) Dirs() []string {
	var paths []string
	f.walk(func(p string, n *inode) {
		if n.isDir() {
			paths = append(paths, p)
		}
	})
	return paths
}

// Snapshot returns the current contents of every regular file by path
// (copies), for byte-for-byte comparisons.
func (f *FS) Snapshot() map[string][]byte {
	m := map[string][]byte{}
	f.walk(func(p string, n *inode) {
		if !n.isDir() {
			m[p] = append([]byte{}, n.data...)
		}
	})
	return m
}

// walk calls fn on every path of the current tree in sorted order, under
// the lock.
func (f *FS) walk(fn func(p string, n *inode)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var visit func(p string, n *inode)
	visit = func(p string, n *inode) {
		fn(p, n)
		if n.isDir() {
			for _, name := range sortedNames(n.entries) {
				visit(filepath.Join(p, name), n.entries[name])
			}
		}
	}
	visit("/", f.root)
}

// info describes n under name; the lock is held.
func (f *FS) info(n *inode, name string) fs.FileInfo {
	fi := &fileInfo{name: name, mode: n.mode, modTime: n.modTime}
	nlink := n.nlink
	if n.isDir() {
		nlink = 2
		for _, c := range n.entries {
			if c.isDir() {
				nlink++
			}
		}
	} else {
		fi.size = int64(len(n.data))
	}
	fi.sys = statT(f.dev, n.ino, uint64(max(nlink, 0)), fi.size)
	return fi
}

type fileInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
	sys     any
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.modTime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return fi.sys }

// Stat is Lstat: the model has no symbolic links.
func (f *FS) Stat(name string) (fs.FileInfo, error) { return f.Lstat(name) }
