package crashfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/atrest/atrest/fsys"
)

// BlockSize is the unit in which unsynced file contents survive a crash
// or not.
const BlockSize = 4096

// Op names an operation, for fault injection and call counts.
type Op int

// The operations. File operations report the path the file was opened
// by.
const (
	OpOpen      Op = iota + 1 // FS.OpenFile
	OpRead                    // File.ReadAt
	OpWrite                   // File.WriteAt
	OpSync                    // File.Sync
	OpDatasync                // File.Datasync
	OpAllocate                // File.Allocate
	OpTruncate                // File.Truncate
	OpStat                    // FS.Lstat (not File.Stat)
	OpList                    // FS.List
	OpRemove                  // FS.Remove
	OpRemoveAll               // FS.RemoveAll
	OpRename                  // FS.Rename (the path is the new name)
	OpLink                    // FS.Link (the path is the new name)
	OpSyncDir                 // FS.SyncDir
	OpLock                    // FS.Lock
	OpMkdir                   // FS.Mkdir and FS.MkdirAll
)

var opNames = [...]string{
	OpOpen: "open", OpRead: "read", OpWrite: "write", OpSync: "sync",
	OpDatasync: "fdatasync", OpAllocate: "fallocate", OpTruncate: "truncate",
	OpStat: "lstat", OpList: "readdirent", OpRemove: "remove",
	OpRemoveAll: "removeall", OpRename: "rename", OpLink: "link",
	OpSyncDir: "syncdir", OpLock: "lock", OpMkdir: "mkdir",
}

// String is the operation's name as the os package's errors spell it.
func (o Op) String() string {
	if o > 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Fault decides whether a call fails: a non-nil error makes the call fail
// with it (wrapped in an *fs.PathError or *os.LinkError) before it
// changes anything. See FS.InjectError.
type Fault func(op Op, path string) error

// PartialWrite, returned by a Fault for OpWrite, makes WriteAt write the
// first N bytes (at most the whole buffer) and then fail with Err: the
// model of a write cut short. It is the only fault that changes state.
type PartialWrite struct {
	N   int
	Err error
}

// Error describes the partial write and its cause.
func (e *PartialWrite) Error() string {
	if e.Err == nil {
		return "partial write"
	}
	return "partial write: " + e.Err.Error()
}

// Unwrap returns Err.
func (e *PartialWrite) Unwrap() error { return e.Err }

// FS is the in-memory file system. It is safe for concurrent use. The
// zero value is not usable; call New.
type FS struct {
	mu      sync.Mutex
	dev     uint64
	root    *inode
	nextIno uint64
	nextOp  uint64
	locks   map[*inode]bool
	counts  map[countKey]int
	fault   atomic.Pointer[Fault]
}

type countKey struct {
	op   Op
	path string
}

var devCounter atomic.Uint64

// New returns an empty file system: only the root directory, durable.
func New() *FS {
	f := &FS{
		dev:    devCounter.Add(1),
		locks:  map[*inode]bool{},
		counts: map[countKey]int{},
	}
	f.root = f.newDir(0o755)
	return f
}

// inode is a file or a directory.
type inode struct {
	ino     uint64
	mode    fs.FileMode // the type bits and the permissions
	modTime time.Time
	nlink   int // regular files: the names it has in the current tree

	// Regular files.
	data    []byte             // the current contents
	durable []byte             // the durable contents
	dirty   map[int64]struct{} // blocks where data and durable may differ

	// Directories.
	entries        map[string]*inode // the current entries
	durableEntries map[string]*inode // the durable entries
	pending        []dirOp           // the changes not yet durable, oldest first
}

func (n *inode) isDir() bool { return n.mode.IsDir() }

// dirOp is one pending change to a directory's entries. A
// cross-directory rename is one dirOp in each of the two directories,
// with the same id and each naming the other as peer.
type dirOp struct {
	id      uint64
	changes []change
	peer    *inode
}

// change sets name to node, or removes name when node is nil.
type change struct {
	name string
	node *inode
}

func (f *FS) newIno() uint64 {
	f.nextIno++
	return f.nextIno
}

func (f *FS) newDir(perm fs.FileMode) *inode {
	return &inode{
		ino:            f.newIno(),
		mode:           fs.ModeDir | perm.Perm(),
		modTime:        time.Now(),
		entries:        map[string]*inode{},
		durableEntries: map[string]*inode{},
	}
}

func (f *FS) newFile(perm fs.FileMode) *inode {
	return &inode{
		ino:     f.newIno(),
		mode:    perm.Perm(),
		modTime: time.Now(),
		dirty:   map[int64]struct{}{},
	}
}

// record appends an operation on dir's entries, applying it to the
// current entries.
func (f *FS) record(dir *inode, op dirOp) {
	for _, c := range op.changes {
		if c.node == nil {
			delete(dir.entries, c.name)
		} else {
			dir.entries[c.name] = c.node
		}
	}
	dir.modTime = time.Now()
	dir.pending = append(dir.pending, op)
}

func (f *FS) opID() uint64 {
	f.nextOp++
	return f.nextOp
}

// commit makes dir's k oldest pending operations durable, and with a
// cross-directory rename among them the peer directory's operations up
// to it.
func commit(dir *inode, k int) {
	if k <= 0 {
		return
	}
	ops := append([]dirOp(nil), dir.pending[:k]...)
	dir.pending = append([]dirOp(nil), dir.pending[k:]...)
	for _, op := range ops {
		applyChanges(dir.durableEntries, op.changes)
	}
	for _, op := range ops {
		if op.peer == nil {
			continue
		}
		if j := indexOp(op.peer.pending, op.id); j >= 0 {
			commit(op.peer, j+1)
		}
	}
}

func applyChanges(m map[string]*inode, cs []change) {
	for _, c := range cs {
		if c.node == nil {
			delete(m, c.name)
		} else {
			m[c.name] = c.node
		}
	}
}

func indexOp(ops []dirOp, id uint64) int {
	for i, op := range ops {
		if op.id == id {
			return i
		}
	}
	return -1
}

// InjectError installs fault, called at the start of every operation
// (before it takes the FS's lock, so it may call the FS itself) with the
// operation and its path; nil removes it. A non-nil error fails the call
// without changing anything (but see PartialWrite). Calls that fail this
// way are not counted by Count.
func (f *FS) InjectError(fault Fault) {
	if fault == nil {
		f.fault.Store(nil)
		return
	}
	f.fault.Store(&fault)
}

// injected returns the installed fault's verdict on (op, path).
func (f *FS) injected(op Op, path string) error {
	p := f.fault.Load()
	if p == nil {
		return nil
	}
	return (*p)(op, path)
}

// count records a successful call; the FS's lock is held.
func (f *FS) count(op Op, path string) {
	f.counts[countKey{op, path}]++
}

// Count returns how many calls of op on path succeeded; path "" counts
// them on every path. Paths are cleaned; file operations count under the
// path the file was opened by.
func (f *FS) Count(op Op, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if path == "" {
		n := 0
		for k, c := range f.counts {
			if k.op == op {
				n += c
			}
		}
		return n
	}
	return f.counts[countKey{op, filepath.Clean(path)}]
}

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
	p, err := clean(name)
	if err != nil {
		return nil, pathErr(op, name, err)
	}
	if err := f.injected(op, p); err != nil {
		return nil, pathErr(op, p, err)
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
	p, err := clean(name)
	if err != nil {
		return nil, pathErr(OpStat, name, err)
	}
	if err := f.injected(OpStat, p); err != nil {
		return nil, pathErr(OpStat, p, err)
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
	p, err := clean(dir)
	if err != nil {
		return nil, pathErr(OpList, dir, err)
	}
	if err := f.injected(OpList, p); err != nil {
		return nil, pathErr(OpList, p, err)
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

// Remove removes a file or an empty directory: an un-synced removal in
// its directory.
func (f *FS) Remove(name string) error {
	p, err := clean(name)
	if err != nil {
		return pathErr(OpRemove, name, err)
	}
	if err := f.injected(OpRemove, p); err != nil {
		return pathErr(OpRemove, p, err)
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
	p, err := clean(name)
	if err != nil {
		return pathErr(OpRemoveAll, name, err)
	}
	if err := f.injected(OpRemoveAll, p); err != nil {
		return pathErr(OpRemoveAll, p, err)
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
	p, err := clean(dir)
	if err != nil {
		return pathErr(OpSyncDir, dir, err)
	}
	if err := f.injected(OpSyncDir, p); err != nil {
		return pathErr(OpSyncDir, p, err)
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
	p, err := clean(name)
	if err != nil {
		return pathErr(OpMkdir, name, err)
	}
	if err := f.injected(OpMkdir, p); err != nil {
		return pathErr(OpMkdir, p, err)
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
	p, err := clean(dir)
	if err != nil {
		return pathErr(OpMkdir, dir, err)
	}
	if err := f.injected(OpMkdir, p); err != nil {
		return pathErr(OpMkdir, p, err)
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
	p, err := clean(name)
	if err != nil {
		return nil, pathErr(OpLock, name, err)
	}
	if err := f.injected(OpLock, p); err != nil {
		return nil, pathErr(OpLock, p, err)
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
