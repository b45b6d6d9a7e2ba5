package filedict

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/atrest/atrest/fsys"
)

// defaultRewriteThreshold is the number of dead log records after which a
// dictionary with a log is compacted when Options.RewriteThreshold is 0
// (TiKV's file-rewrite-threshold).
const defaultRewriteThreshold = 1000000

// Options configure Create and Open.
type Options struct {
	// Version is the format to write: 1 rewrites the whole file on every
	// change, 3 appends each group commit to a log after a snapshot as one
	// group frame. 0 means 3, and so does 2: version 2, whose log holds
	// bare records, is still read but no longer written. Open rewrites a
	// file of another version in this one (a version-2 file as version 3
	// when the log format is asked for).
	Version int

	// RewriteThreshold is how many dead log records trigger a compaction
	// (versions with a log): the file is rewritten as one snapshot with an
	// empty log. 0 means 1000000.
	RewriteThreshold int

	// Failpoint, if non-nil, is called at named points of the write path,
	// so crash tests can kill the process there: "append.after-extend"
	// (zeros written ahead of the log, before their fsync), and for each
	// group frame "append.before-write", "append.after-write" (before the
	// sync) and "append.after-sync" (before the next frame or the map
	// changes),
	// "rewrite.after-temp-sync" (the new file is durable under its
	// temporary name) and "rewrite.after-rename" (before the directory
	// fsync).
	Failpoint func(name string)

	// BeforeRemove, if non-nil, is called by the group's leader with the
	// names a group of Remove records is about to delete, before they are
	// written. The file dictionary's owner uses it to make the files'
	// unlinks durable first (one directory fsync for the whole group), so
	// an entry never goes while its file could come back after a crash.
	// An error fails those removes.
	BeforeRemove func(names []string) error

	// CheckTail, if non-nil, is called by Open with what a torn tail holds
	// (see DroppedTail) before the tail is dropped from the file, when
	// there is one. An error fails Open and leaves the file as it was, so
	// the caller can refuse a tail that is not what a torn write leaves.
	CheckTail func(Tail) error

	// FS is the file system the dictionary's file and its temporary files
	// live on; nil means the operating system's. On a read-only view
	// (fsys.ReadOnly) Open changes nothing on disk: a torn tail ends the
	// log in memory only, no temporary file is removed and no rewrite is
	// made, and every mutation fails with fsys.ErrReadOnly except the
	// resolution of a pending rename (see CommitRename).
	FS fsys.FS
}

func (o Options) normalize() (Options, error) {
	switch o.Version {
	case 0, 2, logVersion:
		o.Version = logVersion
	case 1:
	default:
		return o, fmt.Errorf("filedict: options: %w %d", ErrUnknownVersion, o.Version)
	}
	switch {
	case o.RewriteThreshold < 0:
		return o, fmt.Errorf("filedict: options: %w: negative RewriteThreshold %d", fs.ErrInvalid, o.RewriteThreshold)
	case o.RewriteThreshold == 0:
		o.RewriteThreshold = defaultRewriteThreshold
	}
	if o.FS == nil {
		o.FS = fsys.OS()
	}
	return o, nil
}

// Stats describe a Dict.
type Stats struct {
	// Version is the format version being written: 1 or 3.
	Version int
	// Entries is the number of paths with an entry.
	Entries int
	// LogRecords is the number of records in the log after the snapshot
	// (always 0 for version 1).
	LogRecords int
	// DeadRecords counts log records that a compaction would drop: each
	// Remove and the record it removes, each overwritten entry, both
	// records of a resolved rename and the entries it replaces or removes,
	// each RemovePrefix and every entry it removes.
	DeadRecords int
	// FileSize is the length of the dictionary file's contents in bytes.
	// While the Dict is open the file of a dictionary with a log may be
	// longer: zeros follow the log, so appends need not change the file's
	// size (see the package doc).
	FileSize int64
}

// Dict is an open file dictionary. Its methods are safe for concurrent
// use.
type Dict struct {
	path      string
	dir, base string
	version   int
	threshold int
	groupMax  int // cap on a group frame's payload the writer makes (see commit)
	failpoint func(string)
	beforeRm  func([]string) error
	fs        fsys.FS
	readOnly  bool // fs is a read-only view: nothing is written

	// mu guards the maps and stats. Only the goroutine holding wmu changes
	// them, and only while holding mu for writing; it may read them
	// without mu.
	mu      sync.RWMutex
	entries map[string]Entry
	pending map[string]Rename // by Dst; Fresh is never shared with callers
	stats   Stats             // LogRecords, DeadRecords, FileSize

	tail Tail // what Open dropped; set before the Dict is shared, then read-only

	qmu     sync.Mutex
	queue   []*op // mutations waiting for a group commit
	leading bool  // a caller is committing groups (see submit)

	// wmu serializes I/O; the fields below belong to its holder.
	wmu        sync.Mutex
	f          fsys.File // the log's handle (version 3), nil when unusable
	alloc      int64     // the log file's size: FileSize, then zeros (see append)
	needRepair bool      // the file may not match memory: rewrite before appending
	broken     error     // wraps ErrBroken once a repair failed
	closed     bool
	retryDead  int // after a failed compaction, wait until DeadRecords reaches this
}

// op is a caller's mutation waiting for its group commit: one record, or
// the Remove records of one RemoveMany. The leader sets err, then sends on
// wake: false when the op is done, true when its caller is to lead the
// next group.
type op struct {
	recs []Record
	one  [1]Record // recs' backing array for a single record
	err  error
	wake chan bool
}

// removes reports whether o removes entries: only an op of Remove records
// does, and its records are all Removes.
func (o *op) removes() bool { return o.recs[0].Type == RecordRemove }

func newDict(path string, o Options) *Dict {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	return &Dict{
		path:      path,
		dir:       dir,
		base:      base,
		version:   o.Version,
		threshold: o.RewriteThreshold,
		groupMax:  maxGroupPayload,
		failpoint: o.Failpoint,
		beforeRm:  o.BeforeRemove,
		fs:        o.FS,
		readOnly:  fsys.IsReadOnly(o.FS),
	}
}

// Create makes a new, empty dictionary at path, written atomically
// (temporary file in the same directory, fsync, rename, fsync of the
// directory). It fails with an error wrapping fs.ErrExist if path exists.
func Create(path string, o Options) (*Dict, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	if _, err := o.FS.Lstat(path); err == nil {
		return nil, fmt.Errorf("filedict: create %s: %w", path, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("filedict: create: %w", err)
	}
	d := newDict(path, o)
	d.entries = make(map[string]Entry)
	d.pending = make(map[string]Rename)
	removeStaleTemps(d.fs, path)
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if err := d.rewrite(d.encodeState(d.committed())); err != nil {
		d.closeFile()
		return nil, fmt.Errorf("filedict: create %s: %w", path, err)
	}
	return d, nil
}

// Open opens the dictionary at path; a missing file is an error wrapping
// fs.ErrNotExist. It removes temporary files "<base>.tmp-*" an interrupted
// rewrite left next to path, drops a torn tail (the last group of a
// version-3 log, or the last record of a version-2 log, when its write was
// interrupted) and the zeros a writer left after the log (truncating the
// file there, or writing zeros over a torn tail where the file system
// cannot truncate), and rewrites the file when it is of another version
// than o asks for, or when its log has more dead records than the
// threshold. On a read-only file system (see Options.FS) it does none of
// these: it reads. DroppedTail reports what the torn tail held.
// A damaged snapshot, a damaged group or record with a valid one after it,
// or a valid group holding a record that does not decode or apply is
// ErrCorrupt; an unknown version is ErrUnknownVersion.
func Open(path string, o Options) (*Dict, error) {
	return openDict(path, o, maxVersion)
}

// openDict is Open for a reader that knows the versions 1..maxVer.
func openDict(path string, o Options, maxVer int) (*Dict, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	d := newDict(path, o)
	if !d.readOnly {
		removeStaleTemps(d.fs, path)
	}
	data, err := fsys.ReadFile(d.fs, path)
	if err != nil {
		return nil, fmt.Errorf("filedict: open: %w", err)
	}
	ld, err := load(data, maxVer)
	if err != nil {
		return nil, fmt.Errorf("filedict: open %s: %w", path, err)
	}
	d.entries, d.pending = ld.entries, ld.pending
	d.stats = Stats{LogRecords: ld.records, DeadRecords: ld.dead, FileSize: ld.end}
	d.tail = ld.tail
	if ld.tail.Bytes > 0 && o.CheckTail != nil {
		if err := o.CheckTail(ld.tail); err != nil {
			return nil, err
		}
	}
	if d.readOnly {
		// What a torn tail held stays on disk for the open that holds the
		// directory; this one reads up to it.
		return d, nil
	}
	size := int64(len(data))
	if ld.torn {
		if size, err = cutTail(d.fs, path, data, ld.end); err != nil {
			return nil, fmt.Errorf("filedict: open %s: dropping a torn last record: %w", path, err)
		}
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	switch {
	case ld.version != d.version:
		err = d.rewrite(d.encodeState(d.committed()))
		if err != nil {
			err = fmt.Errorf("rewriting version %d as version %d: %w", ld.version, d.version, err)
		}
	case d.version == logVersion && ld.dead > d.threshold:
		err = d.rewrite(d.encodeState(d.committed()))
	case d.version == logVersion:
		// Zeros left after the log (a file that cannot be truncated)
		// count as extension already made.
		d.alloc = size
		d.f, err = openLog(d.fs, path)
	}
	if err != nil {
		d.closeFile()
		return nil, fmt.Errorf("filedict: open %s: %w", path, err)
	}
	return d, nil
}

// ReadVersion returns the format version of the dictionary at path,
// reading only its header. For a version this build does not know it
// returns that version and an error wrapping ErrUnknownVersion.
func ReadVersion(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("filedict: %w", err)
	}
	defer f.Close()
	var b [headerSize]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("filedict: %s: %w: shorter than a header", path, ErrCorrupt)
		}
		return 0, fmt.Errorf("filedict: %s: %w", path, err)
	}
	h, _, err := decodeHeader(b[:], maxVersion)
	if err != nil {
		return h.Version, fmt.Errorf("filedict: %s: %w", path, err)
	}
	return h.Version, nil
}

// Get returns the entry of name. It holds a read lock on the map for the
// lookup only and never waits behind disk I/O. A closed Dict still answers
// from memory.
func (d *Dict) Get(name string) (Entry, bool) {
	d.mu.RLock()
	e, ok := d.entries[name]
	d.mu.RUnlock()
	return e, ok
}

// Len returns the number of paths with an entry.
func (d *Dict) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.entries)
}

// Range calls fn for every path and its entry, in no particular order,
// until fn returns false. It copies the entries under a read lock first
// (about 48 bytes per entry, no I/O), so it sees one consistent state and
// fn may call any method of d; a mutation waits for that copy only, never
// for fn.
func (d *Dict) Range(fn func(name string, e Entry) bool) {
	type pair struct {
		name string
		e    Entry
	}
	d.mu.RLock()
	all := make([]pair, 0, len(d.entries))
	for n, e := range d.entries {
		all = append(all, pair{n, e})
	}
	d.mu.RUnlock()
	for _, p := range all {
		if !fn(p.name, p.e) {
			return
		}
	}
}

// PendingRenames returns the renames begun and not yet committed or
// aborted, sorted by Dst. After a crash the caller settles each by looking
// at the file system: CommitRename if Dst exists and Src does not,
// AbortRename otherwise.
func (d *Dict) PendingRenames() []Rename {
	d.mu.RLock()
	list := make([]Rename, 0, len(d.pending))
	for _, r := range d.pending {
		if r.Fresh != nil {
			e := *r.Fresh
			r.Fresh = &e
		}
		list = append(list, r)
	}
	d.mu.RUnlock()
	slices.SortFunc(list, comparePending)
	return list
}

// DroppedTail reports what Open dropped after the end of the log as a
// torn write (see Tail): the zero Tail for a Dict made by Create, and
// Bytes 0 when nothing but zeros followed the log. A torn write is a group
// commit whose callers were never answered, but damage to the last
// acknowledged group looks the same, so the dictionary's owner may check
// the records listed against the files they name.
func (d *Dict) DroppedTail() Tail {
	t := d.tail
	t.Records = slices.Clone(t.Records)
	return t
}

// Stats returns the dictionary's counters.
func (d *Dict) Stats() Stats {
	d.mu.RLock()
	defer d.mu.RUnlock()
	s := d.stats
	s.Version = d.version
	s.Entries = len(d.entries)
	return s
}

// Compact rewrites the file atomically as a snapshot of the current state
// (with an empty log for version 3). Lookups keep working meanwhile;
// mutations wait.
func (d *Dict) Compact() error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.closed {
		return fmt.Errorf("filedict: compact %s: %w", d.path, ErrClosed)
	}
	if d.broken != nil {
		return d.broken
	}
	if d.readOnly {
		return d.errReadOnly()
	}
	if err := d.rewrite(d.encodeState(d.committed())); err != nil {
		return fmt.Errorf("filedict: compact %s: %w", d.path, err)
	}
	return nil
}

// Close waits for the mutation in progress, repairs the file if a failed
// write left it out of step with memory, and releases the file. Later
// mutations fail with ErrClosed; lookups keep answering from memory.
func (d *Dict) Close() error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.closed {
		return fmt.Errorf("filedict: close %s: %w", d.path, ErrClosed)
	}
	d.closed = true
	var err error
	if d.needRepair && d.broken == nil {
		if rerr := d.rewrite(d.encodeState(d.committed())); rerr != nil {
			err = fmt.Errorf("filedict: close %s: repairing after a failed write: %w", d.path, rerr)
		}
	}
	if t, ok := d.f.(fsys.Truncater); ok && err == nil && d.alloc > d.stats.FileSize {
		// Leave the file as long as its contents: the zeros ahead of the
		// log are only for appends. (A file that cannot be truncated
		// keeps them: readers take them for the end of the log.)
		err = t.Truncate(d.stats.FileSize)
		if err == nil {
			err = d.f.Sync()
		}
		if err != nil {
			err = fmt.Errorf("filedict: close %s: dropping the zeros after the log: %w", d.path, err)
		}
	}
	if cerr := d.closeFile(); err == nil && cerr != nil {
		err = fmt.Errorf("filedict: close %s: %w", d.path, cerr)
	}
	return err
}

func (d *Dict) closeFile() error {
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}
