package filedict

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/fsys"
)

// entry returns a distinct valid entry for n.
func entry(n int) Entry {
	e := Entry{KeyID: uint64(n)*7919 + 1, Method: ctr.Methods[n%len(ctr.Methods)]}
	for i := range e.IV {
		e.IV[i] = byte(n*31 + i*17 + 3)
	}
	return e
}

func entryPtr(n int) *Entry { e := entry(n); return &e }

// dictState is everything a Dict holds, comparable with reflect.DeepEqual.
type dictState struct {
	Entries map[string]Entry
	Pending []Rename
}

func stateOf(d *Dict) dictState {
	s := dictState{Entries: map[string]Entry{}, Pending: d.PendingRenames()}
	d.Range(func(n string, e Entry) bool { s.Entries[n] = e; return true })
	return s
}

func (s dictState) String() string {
	names := make([]string, 0, len(s.Entries))
	for n := range s.Entries {
		names = append(names, n)
	}
	slices.Sort(names)
	out := "{"
	for _, n := range names {
		out += fmt.Sprintf(" %s:%d", n, s.Entries[n].KeyID)
	}
	out += " | pending"
	for _, r := range s.Pending {
		f := "-"
		if r.Fresh != nil {
			f = fmt.Sprint(r.Fresh.KeyID)
		}
		out += fmt.Sprintf(" %s->%s(%s)", r.Src, r.Dst, f)
	}
	return out + " }"
}

func sameState(a, b dictState) bool {
	if len(a.Entries) == 0 && len(b.Entries) == 0 && len(a.Pending) == 0 && len(b.Pending) == 0 {
		return true
	}
	if len(a.Pending) == 0 && len(b.Pending) == 0 {
		a.Pending, b.Pending = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func mustState(t testing.TB, d *Dict, want dictState) {
	t.Helper()
	if got := stateOf(d); !sameState(got, want) {
		t.Fatalf("state\n got %v\nwant %v", got, want)
	}
}

func mustCreate(t testing.TB, path string, o Options) *Dict {
	t.Helper()
	d, err := Create(path, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustOpen(t testing.TB, path string, o Options) *Dict {
	t.Helper()
	d, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustClose(t testing.TB, d *Dict) {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// contentSize returns the length of the dictionary file's contents: the
// file's, less the zeros an open log keeps ahead of its records (which it
// checks are zeros).
func contentSize(t testing.TB, path string) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	ld, err := load(data, maxVersion)
	must(t, err)
	if !allZero(data[ld.end:]) {
		t.Fatalf("%s: bytes after the contents' %d are not all zeros", path, ld.end)
	}
	return ld.end
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func dictPath(t testing.TB) string { return filepath.Join(t.TempDir(), "file.dict") }

var errInjected = errors.New("injected I/O error")

// faultFS is the operating system's file system with injectable failures
// and an fsync counter.
type faultFS struct {
	mu          sync.Mutex
	failWrites  int  // the next appends that fail
	partial     bool // a failing append writes the first half of its bytes
	failSyncs   int  // the next fsyncs of the append handle that fail (after syncing)
	failCreates int  // the next CreateTemp calls that fail
	failExtends int  // the next extensions of the log (Allocate) that fail
	syncDelay   time.Duration
	syncs       atomic.Int64 // every fsync and fdatasync
	fullSyncs   atomic.Int64 // the log handle's fsyncs (its extensions)
	extends     atomic.Int64 // the log handle's Allocate calls
	appends     atomic.Int64
}

func (f *faultFS) take(n *int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if *n > 0 {
		*n--
		return true
	}
	return false
}

// OpenFile opens the log's handle (a write-only open of an existing file)
// as a faultFile and a rewrite's temporary file (an exclusive create) as a
// countingFile.
func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (fsys.File, error) {
	create := flag&os.O_CREATE != 0
	if create && f.take(&f.failCreates) {
		return nil, errInjected
	}
	w, err := fsys.OS().OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	switch {
	case create:
		return &countingFile{File: w, fs: f}, nil
	case flag&(os.O_WRONLY|os.O_RDWR) != 0:
		return &faultFile{File: w, fs: f}, nil
	}
	return w, nil
}

func (f *faultFS) Stat(p string) (fs.FileInfo, error)  { return os.Stat(p) }
func (f *faultFS) Lstat(p string) (fs.FileInfo, error) { return os.Lstat(p) }
func (f *faultFS) List(dir string) ([]string, error)   { return fsys.OS().List(dir) }
func (f *faultFS) Rename(a, b string) error            { return os.Rename(a, b) }
func (f *faultFS) Remove(p string) error               { return os.Remove(p) }
func (f *faultFS) RemoveAll(p string) error            { return os.RemoveAll(p) }
func (f *faultFS) Link(a, b string) error              { return os.Link(a, b) }
func (f *faultFS) SyncDir(dir string) error            { return fsys.OS().SyncDir(dir) }
func (f *faultFS) Lock(name string) (io.Closer, error) { return fsys.OS().Lock(name) }

// faultFile is the log's handle: its record writes (the log's writes
// that are not zeros extending it) and its syncs can fail.
type faultFile struct {
	fsys.File
	fs *faultFS
}

func (w *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if isExtension(p) {
		return w.File.WriteAt(p, off)
	}
	w.fs.appends.Add(1)
	if w.fs.take(&w.fs.failWrites) {
		n := 0
		if w.fs.partial {
			n, _ = w.File.WriteAt(p[:len(p)/2], off)
		}
		return n, errInjected
	}
	return w.File.WriteAt(p, off)
}

// isExtension tells the zeros that extend the log (slices of the package's
// zeros array) from the writes of its records.
func isExtension(p []byte) bool {
	return len(p) > 0 && &p[0] == &zeros[0]
}

func (w *faultFile) Allocate(off, n int64) error {
	w.fs.extends.Add(1)
	if w.fs.take(&w.fs.failExtends) {
		return errInjected
	}
	return w.File.Allocate(off, n)
}

func (w *faultFile) Sync() error {
	w.fs.fullSyncs.Add(1)
	return w.sync(w.File.Sync)
}

// Truncate is the OS file's: the log's file can be truncated.
func (w *faultFile) Truncate(size int64) error { return w.File.(fsys.Truncater).Truncate(size) }

func (w *faultFile) Datasync() error { return w.sync(w.File.Datasync) }

func (w *faultFile) sync(sync func() error) error {
	w.fs.syncs.Add(1)
	if w.fs.syncDelay > 0 {
		time.Sleep(w.fs.syncDelay)
	}
	err := sync()
	if w.fs.take(&w.fs.failSyncs) {
		return errInjected
	}
	return err
}

type countingFile struct {
	fsys.File
	fs *faultFS
}

func (w *countingFile) Sync() error {
	w.fs.syncs.Add(1)
	return w.File.Sync()
}

// logFrames returns where the log of a version-2 or version-3 file
// starts and the offsets of its frames: records (version 2) or groups
// (version 3). The file must hold no torn tail or zeros.
func logFrames(t testing.TB, data []byte) (logStart int, offs []int) {
	t.Helper()
	h, n, err := decodeHeader(data, maxVersion)
	must(t, err)
	_, _, m, err := decodeSnapshotSection(data[n:])
	must(t, err)
	off := n + m
	logStart = off
	for off < len(data) {
		var k int
		if h.Version == 2 {
			_, k, err = DecodeRecord(data[off:])
		} else {
			_, k, err = DecodeGroup(data[off:])
		}
		must(t, err)
		offs = append(offs, off)
		off += k
	}
	return logStart, offs
}

// toV2 returns the version-2 file that holds what the version-3 file data
// holds: the records of its groups, one after another, without the group
// frames.
func toV2(t testing.TB, data []byte) []byte {
	t.Helper()
	logStart, offs := logFrames(t, data)
	out := append(Header{Version: 2}.Encode(), data[headerSize:logStart]...)
	for _, off := range offs {
		_, n, err := DecodeGroup(data[off:])
		must(t, err)
		out = append(out, data[off+recordHeaderSize:off+n]...)
	}
	return out
}

// inVersion returns data, a version-3 file, as a file of version v (2 or
// 3).
func inVersion(t testing.TB, data []byte, v int) []byte {
	if v == 2 {
		return toV2(t, data)
	}
	return data
}

// logVersions are the versions with a log that a reader must read.
var logVersions = []int{2, 3}

// contentsState is the state Decode found.
func contentsState(c *Contents) dictState {
	return dictState{Entries: c.State.Entries, Pending: c.State.Pending}
}

// nonZeroLen is the length of b up to and including its last non-zero
// byte.
func nonZeroLen(b []byte) int64 {
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return int64(n)
}

// decodeDropped checks that data decodes to want with the log ending at
// end and a tail after it, and returns what Decode found.
func decodeDropped(t testing.TB, data []byte, end int, want dictState) *Contents {
	t.Helper()
	c, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if c.End != int64(end) || !sameState(contentsState(c), want) {
		t.Fatalf("Decode: end %d, want %d; state\n got %v\nwant %v", c.End, end, contentsState(c), want)
	}
	if c.Tail.Offset != int64(end) || c.Tail.Bytes != nonZeroLen(data[end:]) {
		t.Fatalf("tail at %d of %d bytes, want at %d of %d", c.Tail.Offset, c.Tail.Bytes, end, nonZeroLen(data[end:]))
	}
	return c
}

// openDropped writes data to a file and checks that it decodes and opens
// to want with the log ending at end, a tail dropped after it (truncated
// away; a version-2 file is rewritten as version 3), and DroppedTail
// reporting that tail as Decode does. It returns the open Dict.
func openDropped(t testing.TB, data []byte, end int, want dictState) (*Dict, string) {
	t.Helper()
	c := decodeDropped(t, data, end, want)
	path := filepath.Join(t.TempDir(), "file.dict")
	must(t, os.WriteFile(path, data, 0o600))
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustState(t, d, want)
	if got := d.DroppedTail(); !reflect.DeepEqual(got, c.Tail) {
		t.Fatalf("DroppedTail %+v, Decode's tail %+v", got, c.Tail)
	}
	st := d.Stats()
	if c.Version == logVersion {
		if size := fileSize(t, path); size != int64(end) || st.FileSize != int64(end) || st.LogRecords != c.LogRecords {
			t.Fatalf("file %d bytes, stats %+v; want %d bytes, %d records", size, st, end, c.LogRecords)
		}
	} else if v, err := ReadVersion(path); v != logVersion || err != nil || st.FileSize != contentSize(t, path) {
		t.Fatalf("version-%d file: version %d (%v) after Open, stats %+v", c.Version, v, err, st)
	}
	return d, path
}
