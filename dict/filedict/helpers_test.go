package filedict

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
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
	syncDelay   time.Duration
	syncs       atomic.Int64
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

func (f *faultFS) OpenAppend(path string) (writeFile, error) {
	w, err := osFS{}.OpenAppend(path)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: w.(*os.File), fs: f}, nil
}

func (f *faultFS) CreateTemp(dir, pattern string) (writeFile, string, error) {
	if f.take(&f.failCreates) {
		return nil, "", errInjected
	}
	w, name, err := osFS{}.CreateTemp(dir, pattern)
	if err != nil {
		return nil, "", err
	}
	return &countingFile{File: w.(*os.File), fs: f}, name, nil
}

func (f *faultFS) Rename(a, b string) error { return os.Rename(a, b) }
func (f *faultFS) Remove(p string) error    { return os.Remove(p) }
func (f *faultFS) SyncDir(dir string) error { return osFS{}.SyncDir(dir) }

type faultFile struct {
	*os.File
	fs *faultFS
}

func (w *faultFile) Write(p []byte) (int, error) {
	w.fs.appends.Add(1)
	if w.fs.take(&w.fs.failWrites) {
		n := 0
		if w.fs.partial {
			n, _ = w.File.Write(p[:len(p)/2])
		}
		return n, errInjected
	}
	return w.File.Write(p)
}

func (w *faultFile) Sync() error {
	w.fs.syncs.Add(1)
	if w.fs.syncDelay > 0 {
		time.Sleep(w.fs.syncDelay)
	}
	err := w.File.Sync()
	if w.fs.take(&w.fs.failSyncs) {
		return errInjected
	}
	return err
}

type countingFile struct {
	*os.File
	fs *faultFS
}

func (w *countingFile) Sync() error {
	w.fs.syncs.Add(1)
	return w.File.Sync()
}

// recordOffsets returns the offsets of the log records of a version-2
// file, and the offset where the log starts.
func recordOffsets(t testing.TB, data []byte) (logStart int, offs []int) {
	t.Helper()
	_, n, err := decodeHeader(data, maxVersion)
	must(t, err)
	_, _, m, err := decodeSnapshotSection(data[n:])
	must(t, err)
	off := n + m
	logStart = off
	for off < len(data) {
		_, k, err := DecodeRecord(data[off:])
		must(t, err)
		offs = append(offs, off)
		off += k
	}
	return logStart, offs
}
