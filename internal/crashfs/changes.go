// What changes a directory: removals, renames, links, directory syncs,
// directories made, and the lock.

package crashfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/atrest/atrest/fsys"
)

// Remove removes a file or an empty directory: an un-synced removal in
// its directory.
func (f *FS) Remove(name string) error {
	p, err := f.enter(OpRemove, name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, base, err := f.parent(p)
	if err == nil {
		err = f.remove(d, base)
	}
	if err != nil {
		return pathErr(OpRemove, p, err)
	}
	f.count(OpRemove, p)
	return nil
}

// remove removes the entry base of d, a file or an empty directory; the
// lock is held.
func (f *FS) remove(d *inode, base string) error {
	n, ok := d.entries[base]
	if !ok {
		return syscall.ENOENT
	}
	if n.isDir() && len(n.entries) > 0 {
		return syscall.ENOTEMPTY
	}
	if !n.isDir() {
		n.nlink--
	}
	f.record(d, dirOp{id: f.opID(), changes: []change{{base, nil}}})
	return nil
}

// RemoveAll removes name and everything under it, deepest first, each
// removal an un-synced operation of its directory; a missing name is not
// an error.
func (f *FS) RemoveAll(name string) error {
	p, err := f.enter(OpRemoveAll, name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, base, err := f.parent(p)
	if errors.Is(err, syscall.ENOENT) {
		f.count(OpRemoveAll, p)
		return nil
	}
	if err != nil {
		return pathErr(OpRemoveAll, p, err)
	}
	if n, ok := d.entries[base]; ok {
		f.removeTree(n)
		if err := f.remove(d, base); err != nil {
			return pathErr(OpRemoveAll, p, err)
		}
	}
	f.count(OpRemoveAll, p)
	return nil
}

// removeTree empties the directory n, if it is one; the lock is held.
func (f *FS) removeTree(n *inode) {
	if !n.isDir() {
		return
	}
	for _, name := range sortedNames(n.entries) {
		f.removeTree(n.entries[name])
		_ = f.remove(n, name) // cannot fail: name exists and is emptied
	}
}

// Rename renames a file or directory atomically, replacing a file at
// newname (or, for a directory, an empty directory): one un-synced
// operation of the directory, or of both directories when they differ.
// Renaming a name onto another link of the same file does nothing, as
// rename(2) does.
func (f *FS) Rename(oldname, newname string) error {
	if err := f.rename(oldname, newname); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return nil
}

func (f *FS) rename(oldname, newname string) error {
	op, np, err := f.twoPaths(OpRename, oldname, newname)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	od, obase, err := f.parent(op)
	if err != nil {
		return err
	}
	n, ok := od.entries[obase]
	if !ok {
		return syscall.ENOENT
	}
	nd, nbase, err := f.parent(np)
	if err != nil {
		return err
	}
	target := nd.entries[nbase]
	if target == n {
		f.count(OpRename, np)
		return nil
	}
	if n.isDir() {
		if strings.HasPrefix(np, op+"/") {
			return syscall.EINVAL
		}
		if target != nil && !target.isDir() {
			return syscall.ENOTDIR
		}
		if target != nil && len(target.entries) > 0 {
			return syscall.ENOTEMPTY
		}
	} else if target != nil && target.isDir() {
		return syscall.EISDIR
	}
	if target != nil && !target.isDir() {
		target.nlink--
	}
	id := f.opID()
	if od == nd {
		f.record(od, dirOp{id: id, changes: []change{{obase, nil}, {nbase, n}}})
	} else {
		f.record(od, dirOp{id: id, changes: []change{{obase, nil}}, peer: nd})
		f.record(nd, dirOp{id: id, changes: []change{{nbase, n}}, peer: od})
	}
	f.count(OpRename, np)
	return nil
}

// twoPaths cleans the two names of a rename or link and asks the fault
// hook about the call (by the new name).
func (f *FS) twoPaths(o Op, oldname, newname string) (op, np string, err error) {
	if op, err = clean(oldname); err != nil {
		return "", "", err
	}
	if np, err = clean(newname); err != nil {
		return "", "", err
	}
	return op, np, f.injected(o, np)
}

// Link makes newname a hard link to the file oldname: an un-synced
// create in newname's directory.
func (f *FS) Link(oldname, newname string) error {
	if err := f.link(oldname, newname); err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	return nil
}

func (f *FS) link(oldname, newname string) error {
	op, np, err := f.twoPaths(OpLink, oldname, newname)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.lookup(op)
	if err != nil {
		return err
	}
	if n.isDir() {
		return syscall.EPERM
	}
	nd, nbase, err := f.parent(np)
	if err != nil {
		return err
	}
	if _, ok := nd.entries[nbase]; ok {
		return syscall.EEXIST
	}
	n.nlink++
	f.record(nd, dirOp{id: f.opID(), changes: []change{{nbase, n}}})
	f.count(OpLink, np)
	return nil
}

// SyncDir makes the directory's pending operations durable (and, for a
// cross-directory rename among them, the other directory's operations up
// to it).
func (f *FS) SyncDir(dir string) error {
	p, err := f.enter(OpSyncDir, dir)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.lookup(p)
	if err == nil && !n.isDir() {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return pathErr(OpSyncDir, p, err)
	}
	commit(n, len(n.pending))
	f.count(OpSyncDir, p)
	return nil
}

// Mkdir makes the directory name: an un-synced create in its parent, so
// a crash can lose it (and everything in it) until the parent is synced.
func (f *FS) Mkdir(name string, perm fs.FileMode) error {
	p, err := f.enter(OpMkdir, name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.mkdir(p, perm); err != nil {
		return pathErr(OpMkdir, p, err)
	}
	f.count(OpMkdir, p)
	return nil
}

// mkdir makes the directory p, an un-synced create, and returns its
// parent; the lock is held.
func (f *FS) mkdir(p string, perm fs.FileMode) (parent *inode, err error) {
	d, base, err := f.parent(p)
	if err != nil {
		return nil, err
	}
	if _, ok := d.entries[base]; ok {
		return nil, syscall.EEXIST
	}
	n := f.newDir(perm)
	f.record(d, dirOp{id: f.opID(), changes: []change{{base, n}}})
	return d, nil
}

// MkdirAll makes the directory dir and any missing parents, with
// permissions 0o755, and makes each one it creates durable at once by
// syncing its parent (which makes the parent's earlier pending
// operations durable too). It is meant for setting up a test's
// directories; code under test should use Mkdir and SyncDir. An existing
// directory is not an error.
func (f *FS) MkdirAll(dir string) error {
	p, err := f.enter(OpMkdir, dir)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := "/"
	for _, part := range strings.Split(p, "/") {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		n, err := f.lookup(cur)
		if err == nil {
			if !n.isDir() {
				return pathErr(OpMkdir, cur, syscall.ENOTDIR)
			}
			continue
		}
		d, err := f.mkdir(cur, 0o755)
		if err != nil {
			return pathErr(OpMkdir, cur, err)
		}
		commit(d, len(d.pending))
	}
	f.count(OpMkdir, p)
	return nil
}

// Lock takes an exclusive in-memory lock on the file name's inode,
// creating the file if need be (an un-synced create, like OpenFile's),
// without waiting: an error wrapping fsys.ErrLocked when another holder
// has it. Closing the returned Closer releases it; a crash releases all
// locks (the crashed FS has none).
func (f *FS) Lock(name string) (io.Closer, error) {
	p, err := f.enter(OpLock, name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h, err := f.openLocked(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, pathErr(OpLock, p, err)
	}
	if f.locks[h.n] {
		return nil, pathErr(OpLock, p, fsys.ErrLocked)
	}
	f.locks[h.n] = true
	f.count(OpLock, p)
	return &lock{h: h}, nil
}

type lock struct {
	h *File
}

// Close releases the lock.
func (l *lock) Close() error {
	f := l.h.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	if l.h.closed {
		return pathErr(OpLock, l.h.path, os.ErrClosed)
	}
	l.h.closed = true
	delete(f.locks, l.h.n)
	return nil
}
