package crashfs

import (
	"io/fs"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
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
