package pebblefs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// injMethods are the methods the fault tests run: AES and SM4 make their
// keystreams through different code.
var injMethods = []ctr.Method{ctr.AES128CTR, ctr.SM4CTR}

// injData is a file's content: distinct per seed byte, of a length that
// is not a multiple of a counter block, so offsets inside blocks are used.
func injData(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131+i/257) ^ seed
	}
	return b
}

// The contents every FS-level case starts from: a, b and sub/c.
var (
	injA = injData(10_007, 'a')
	injB = injData(5_003, 'b')
	injC = injData(3_001, 'c')
)

// errInjShort is what a short write injected by injRig returns; errorfs
// cannot express it (it fails an operation before it runs, never half way).
var errInjShort = errors.New("injected short write")

// injRig is the base FS of the FS-level tests: vfs.Default, under a wrapper
// that can make one Write or WriteAt short, under errorfs. Both are off
// until armed, so setting up and checking go untouched.
type injRig struct {
	toggle *errorfs.Toggle
	count  *errorfs.Counter
	base   vfs.FS

	short     atomic.Bool // the next Write or WriteAt writes half and fails
	shortErr  error
	shortHits atomic.Int64
}

// newInjRig fails the base operations of kind on path (absolute) while
// armed: every one of them, or only the first when once is set.
func newInjRig(kind errorfs.OpKind, path string, fail error, once bool) *injRig {
	r := &injRig{shortErr: errInjShort}
	var fired atomic.Bool
	r.count = &errorfs.Counter{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind != kind || op.Path != path {
			return nil
		}
		if once && !fired.CompareAndSwap(false, true) {
			return nil
		}
		return fail
	})}
	r.toggle = &errorfs.Toggle{Injector: r.count}
	r.base = errorfs.Wrap(injShortFS{FS: vfs.Default, rig: r}, r.toggle)
	return r
}

func (r *injRig) hits() int64 { return int64(r.count.Load()) + r.shortHits.Load() }

func (r *injRig) disarm() {
	r.toggle.Off()
	r.short.Store(false)
}

// injShortFS wraps the files it opens for writing in injShortFile.
type injShortFS struct {
	vfs.FS
	rig *injRig
}

func (s injShortFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := s.FS.Create(name, category)
	if err != nil {
		return nil, err
	}
	return &injShortFile{File: f, rig: s.rig}, nil
}

func (s injShortFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := s.FS.OpenReadWrite(name, category, opts...)
	if err != nil {
		return nil, err
	}
	return &injShortFile{File: f, rig: s.rig}, nil
}

// injShortFile writes only the first half of one armed Write or WriteAt
// and returns the rig's error with that count, as a full disk does.
type injShortFile struct {
	vfs.File
	rig *injRig
}

func (f *injShortFile) Write(p []byte) (int, error) {
	if !f.rig.short.CompareAndSwap(true, false) {
		return f.File.Write(p)
	}
	f.rig.shortHits.Add(1)
	n, err := f.File.Write(p[:len(p)/2])
	if err == nil {
		err = f.rig.shortErr
	}
	return n, err
}

func (f *injShortFile) WriteAt(p []byte, off int64) (int, error) {
	if !f.rig.short.CompareAndSwap(true, false) {
		return f.File.WriteAt(p, off)
	}
	f.rig.shortHits.Add(1)
	n, err := f.File.WriteAt(p[:len(p)/2], off)
	if err == nil {
		err = f.rig.shortErr
	}
	return n, err
}

// injFile is one acceptable outcome for a name: gone, or holding data, or
// (for a recycled file, whose old content is noise by design) any content.
type injFile struct {
	exists  bool
	anyData bool
	data    []byte
}

var (
	injGone = injFile{}
	injAny  = injFile{exists: true, anyData: true}
)

func injHas(b []byte) injFile { return injFile{exists: true, data: b} }

// injState is an outcome for the names a case looks at; a case lists the
// outcomes it accepts (a failed rename may or may not have happened).
type injState map[string]injFile

// injErrWant is what a case requires of the error the operation returns.
type injErrWant int

const (
	// injErrInjected: the injected error itself, reachable by errors.Is.
	injErrInjected injErrWant = iota
	// injErrAny: some error (the fault made the operation fail another
	// way, e.g. an existing name).
	injErrAny
	// injErrMaybe: the fault is one the operation may get past (a failed
	// stat it does not need, an entry removal that happens after Remove
	// returns); if it reports an error, it is the injected one. The state
	// checks are what the case is about.
	injErrMaybe
)

// injCase is one fault: the base operation that fails, what the test does
// while it fails, and what must hold afterwards.
type injCase struct {
	name  string
	kind  errorfs.OpKind // the failing base operation...
	at    string         // ...on this path, relative to the data directory
	short bool           // instead, one Write/WriteAt writes half and fails
	act   func(t *testing.T, x *injAct) error
	err   injErrWant
	want  []injState
	// stops: the fault leaves the Manager stopped (dict.ErrNeedsReopen: a
	// rename whose directory sync failed is neither committed nor undone),
	// so only the reopen, which settles it from the disk, is checked.
	stops bool
}

// injAct is what a case's act works with. arm starts the fault; act may
// call disarm to go on with the same handle afterwards.
type injAct struct {
	efs    *FS
	dir    string
	arm    func()
	disarm func()
}

func (x *injAct) path(rel string) string { return filepath.Join(x.dir, filepath.FromSlash(rel)) }

// armed runs op with the fault armed.
func (x *injAct) armed(op func() error) error {
	x.arm()
	return op()
}

// injCloseIfOpened closes a file an operation opened despite the fault.
func injCloseIfOpened(f vfs.File, err error) error {
	if err == nil {
		f.Close()
	}
	return err
}

func injCases() []injCase {
	unchanged := []injState{{"a": injHas(injA), "b": injHas(injB), "sub/c": injHas(injC)}}
	half := len(injA) / 2
	return []injCase{
		// Creating files.
		{
			name: "Create/new file, create fails after the entry is recorded",
			kind: errorfs.OpCreate, at: "n",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.Create(x.path("n"), "test")) })
			},
			want: []injState{{"n": injGone, "a": injHas(injA)}},
		},
		{
			name: "Create/existing file, create fails",
			kind: errorfs.OpCreate, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.Create(x.path("a"), "test")) })
			},
			want: unchanged,
		},
		{
			name: "Create/existing file, sync of the new file fails",
			kind: errorfs.OpFileSync, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.Create(x.path("a"), "test")) })
			},
			// The base Create replaced the file before the sync.
			want: []injState{{"a": injHas(nil), "b": injHas(injB)}, {"a": injHas(injA), "b": injHas(injB)}},
		},
		{
			name: "Create/existing file, directory sync fails",
			kind: errorfs.OpFileSync, at: ".",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.Create(x.path("a"), "test")) })
			},
			want: []injState{{"a": injHas(nil), "b": injHas(injB)}, {"a": injHas(injA), "b": injHas(injB)}},
		},
		{
			name: "Create/existing file, stat fails",
			kind: errorfs.OpStat, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.Create(x.path("a"), "test")) })
			},
			err:  injErrMaybe,
			want: []injState{{"a": injHas(nil), "b": injHas(injB)}, {"a": injHas(injA), "b": injHas(injB)}},
		},

		// Opening files.
		{
			name: "Open/existing file with an entry, open fails",
			kind: errorfs.OpOpen, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.Open(x.path("a"))) })
			},
			want: unchanged,
		},
		{
			name: "OpenReadWrite/existing file, open fails",
			kind: errorfs.OpOpen, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.OpenReadWrite(x.path("a"), "test")) })
			},
			want: unchanged,
		},
		{
			name: "OpenReadWrite/new file, open fails after the entry is recorded",
			kind: errorfs.OpOpen, at: "n",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.OpenReadWrite(x.path("n"), "test")) })
			},
			want: []injState{{"n": injGone, "a": injHas(injA)}},
		},
		{
			// The Manager stats the name to learn whether it is creating
			// it; a failed stat is not "does not exist".
			name: "OpenReadWrite/existing file, stat fails",
			kind: errorfs.OpStat, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.OpenReadWrite(x.path("a"), "test")) })
			},
			err:  injErrMaybe,
			want: unchanged,
		},

		// Stat.
		{
			name: "Stat/stat fails",
			kind: errorfs.OpStat, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { _, err := x.efs.Stat(x.path("a")); return err })
			},
			want: unchanged,
		},

		// Removing.
		{
			name: "Remove/unlink fails",
			kind: errorfs.OpRemove, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return x.efs.Remove(x.path("a")) })
			},
			want: unchanged,
		},
		{
			// Remove returns once the file is unlinked; the entry goes
			// after a directory sync in the file dictionary's next commit.
			// Lookup waits for that commit, so the fault has struck.
			name: "Remove/directory sync before the entry's removal fails",
			kind: errorfs.OpFileSync, at: ".",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error {
					err := x.efs.Remove(x.path("a"))
					_, _, _ = x.efs.Manager().Lookup(x.path("a"))
					return err
				})
			},
			err:  injErrMaybe,
			want: []injState{{"a": injGone, "b": injHas(injB)}},
		},
		{
			name: "Remove/stat fails",
			kind: errorfs.OpStat, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return x.efs.Remove(x.path("a")) })
			},
			err:  injErrMaybe,
			want: []injState{{"a": injGone, "b": injHas(injB)}, {"a": injHas(injA), "b": injHas(injB)}},
		},
		{
			name: "RemoveAll/removal fails",
			kind: errorfs.OpRemoveAll, at: "sub",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return x.efs.RemoveAll(x.path("sub")) })
			},
			want: unchanged,
		},
		{
			name: "RemoveAll/directory sync fails",
			kind: errorfs.OpFileSync, at: ".",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return x.efs.RemoveAll(x.path("sub")) })
			},
			want: []injState{{"sub/c": injGone, "a": injHas(injA)}},
		},

		// Renaming: either the rename happened or it did not, and the
		// content is under one name, never noise.
		{
			name: "Rename/rename fails",
			kind: errorfs.OpRename, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return x.efs.Rename(x.path("a"), x.path("n")) })
			},
			want: []injState{{"a": injHas(injA), "n": injGone}},
		},
		{
			name: "Rename/directory sync fails",
			kind: errorfs.OpFileSync, at: ".",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return x.efs.Rename(x.path("a"), x.path("n")) })
			},
			want:  []injState{{"a": injHas(injA), "n": injGone}, {"a": injGone, "n": injHas(injA)}},
			stops: true,
		},
		{
			// The same session cannot go on with the renamed file (the
			// Manager refuses, stopped), and what the reopen settles holds.
			name: "Rename/directory sync fails, then the file is renamed again",
			kind: errorfs.OpFileSync, at: ".",
			act: func(t *testing.T, x *injAct) error {
				err := x.armed(func() error { return x.efs.Rename(x.path("a"), x.path("n")) })
				x.disarm()
				_ = x.efs.Rename(x.path("n"), x.path("m")) // fails if the first did not happen
				return err
			},
			want:  []injState{{"a": injHas(injA), "n": injGone, "m": injGone}, {"a": injGone, "n": injHas(injA), "m": injGone}},
			stops: true,
		},
		{
			name: "Rename/directory open for the sync fails",
			kind: errorfs.OpOpenDir, at: ".",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return x.efs.Rename(x.path("a"), x.path("n")) })
			},
			want:  []injState{{"a": injHas(injA), "n": injGone}, {"a": injGone, "n": injHas(injA)}},
			stops: true,
		},
		{
			name: "Rename/over an existing file, directory sync fails",
			kind: errorfs.OpFileSync, at: ".",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return x.efs.Rename(x.path("a"), x.path("b")) })
			},
			want:  []injState{{"a": injHas(injA), "b": injHas(injB)}, {"a": injGone, "b": injHas(injA)}},
			stops: true,
		},
		{
			name: "Rename/stat of the source fails",
			kind: errorfs.OpStat, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return x.efs.Rename(x.path("a"), x.path("n")) })
			},
			want: []injState{{"a": injHas(injA), "n": injGone}},
		},
		{
			// rename(2) between two names of one file does nothing; the
			// Manager learns they are one file by a stat of the target.
			name: "Rename/between two links of one file, stat of the target fails",
			kind: errorfs.OpStat, at: "l",
			act: func(t *testing.T, x *injAct) error {
				if err := x.efs.Link(x.path("a"), x.path("l")); err != nil {
					t.Fatal(err)
				}
				return x.armed(func() error { return x.efs.Rename(x.path("a"), x.path("l")) })
			},
			err:  injErrMaybe,
			want: []injState{{"a": injHas(injA), "l": injHas(injA)}, {"a": injGone, "l": injHas(injA)}},
		},

		// Linking.
		{
			name: "Link/link fails after the entry is recorded",
			kind: errorfs.OpLink, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return x.efs.Link(x.path("a"), x.path("n")) })
			},
			want: []injState{{"a": injHas(injA), "n": injGone}},
		},
		{
			// The Manager stats the new name to refuse an existing one
			// before it records the shared entry.
			name: "Link/onto an existing file, stat of the new name fails",
			kind: errorfs.OpStat, at: "b",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return x.efs.Link(x.path("a"), x.path("b")) })
			},
			err:  injErrAny,
			want: unchanged,
		},
		{
			name: "Link/stat of the old name fails",
			kind: errorfs.OpStat, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return x.efs.Link(x.path("a"), x.path("n")) })
			},
			want: []injState{{"a": injHas(injA), "n": injGone}},
		},

		// Recycling: the recycled file's old content is noise by design.
		{
			name: "ReuseForWrite/rename fails",
			kind: errorfs.OpRename, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.ReuseForWrite(x.path("a"), x.path("n"), "test")) })
			},
			want: []injState{{"a": injHas(injA), "n": injGone}},
		},
		{
			name: "ReuseForWrite/directory sync fails",
			kind: errorfs.OpFileSync, at: ".",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.ReuseForWrite(x.path("a"), x.path("n"), "test")) })
			},
			want:  []injState{{"a": injHas(injA), "n": injGone}, {"a": injGone, "n": injAny}},
			stops: true,
		},
		{
			name: "ReuseForWrite/open after the rename fails",
			kind: errorfs.OpOpen, at: "n",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.ReuseForWrite(x.path("a"), x.path("n"), "test")) })
			},
			want: []injState{{"a": injGone, "n": injAny, "b": injHas(injB)}},
		},
		{
			name: "ReuseForWrite/stat fails",
			kind: errorfs.OpStat, at: "a",
			act: func(t *testing.T, x *injAct) error {
				return x.armed(func() error { return injCloseIfOpened(x.efs.ReuseForWrite(x.path("a"), x.path("n"), "test")) })
			},
			want: []injState{{"a": injHas(injA), "n": injGone}},
		},

		// File operations. Where the handle's position matters the case
		// goes on with the same handle after the fault: the position must
		// not have moved past bytes that did not reach the disk.
		{
			name: "File.Write/write fails, then the next write goes on",
			kind: errorfs.OpFileWrite, at: "w",
			act: func(t *testing.T, x *injAct) error {
				f := injCreate(t, x, "w", injA[:half])
				// Write may encrypt its buffer in place: the retry takes a
				// fresh copy, as a caller must.
				werr := x.armed(func() error { _, err := f.Write(slices.Clone(injA[half:])); return err })
				x.disarm()
				if n, err := f.Write(slices.Clone(injA[half:])); err != nil || n != len(injA)-half {
					t.Errorf("write after the fault: %d, %v", n, err)
				}
				f.Close()
				return werr
			},
			want: []injState{{"w": injHas(injA)}},
		},
		{
			name:  "File.Write/short write, then the next write goes on",
			at:    "w",
			short: true,
			act: func(t *testing.T, x *injAct) error {
				f := injCreate(t, x, "w", injA[:half])
				x.arm()
				n, werr := f.Write(slices.Clone(injA[half:]))
				x.disarm()
				if want := (len(injA) - half) / 2; n != want {
					t.Errorf("short write reported %d bytes, want %d", n, want)
				}
				if n2, err := f.Write(slices.Clone(injA[half+n:])); err != nil || n2 != len(injA)-half-n {
					t.Errorf("write after the short write: %d, %v", n2, err)
				}
				f.Close()
				return werr
			},
			want: []injState{{"w": injHas(injA)}},
		},
		{
			name: "File.WriteAt/write fails",
			kind: errorfs.OpFileWriteAt, at: "a",
			act: func(t *testing.T, x *injAct) error {
				f, err := x.efs.OpenReadWrite(x.path("a"), "test")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				return x.armed(func() error { _, err := f.WriteAt(injB[:4000], 100); return err })
			},
			want: unchanged,
		},
		{
			name:  "File.WriteAt/short write",
			at:    "a",
			short: true,
			act: func(t *testing.T, x *injAct) error {
				f, err := x.efs.OpenReadWrite(x.path("a"), "test")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				x.arm()
				n, err := f.WriteAt(injB[:4000], 100)
				if n != 2000 {
					t.Errorf("short WriteAt reported %d bytes, want 2000", n)
				}
				return err
			},
			want: []injState{{"a": injHas(slices.Concat(injA[:100], injB[:2000], injA[2100:]))}},
		},
		{
			name: "File.Read/read fails, then the next read goes on",
			kind: errorfs.OpFileRead, at: "a",
			act: func(t *testing.T, x *injAct) error {
				f, err := x.efs.Open(x.path("a"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				head := make([]byte, 100)
				if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, injA[:100]) {
					t.Fatalf("read before the fault: %v", err)
				}
				rerr := x.armed(func() error { _, err := f.Read(make([]byte, 100)); return err })
				x.disarm()
				if rest, err := io.ReadAll(f); err != nil || !bytes.Equal(rest, injA[100:]) {
					t.Errorf("read after the fault: %d bytes (%v), not the content from offset 100", len(rest), err)
				}
				return rerr
			},
			want: unchanged,
		},
		{
			name: "File.ReadAt/read fails",
			kind: errorfs.OpFileReadAt, at: "a",
			act: func(t *testing.T, x *injAct) error {
				f, err := x.efs.Open(x.path("a"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				return x.armed(func() error { _, err := f.ReadAt(make([]byte, 100), 10); return err })
			},
			want: unchanged,
		},
		injFileOpCase("File.Sync/sync fails", errorfs.OpFileSync, func(f vfs.File) error { return f.Sync() }),
		injFileOpCase("File.SyncData/sync fails", errorfs.OpFileSyncData, func(f vfs.File) error { return f.SyncData() }),
		injFileOpCase("File.SyncTo/sync fails", errorfs.OpFileSyncTo, func(f vfs.File) error { _, err := f.SyncTo(int64(len(injA))); return err }),
		injFileOpCase("File.Preallocate/preallocate fails", errorfs.OpFilePreallocate, func(f vfs.File) error { return f.Preallocate(0, 1<<20) }),
		injFileOpCase("File.Stat/stat fails", errorfs.OpFileStat, func(f vfs.File) error { _, err := f.Stat(); return err }),
	}
}

// injFileOpCase fails op on a new file w that already holds injA.
func injFileOpCase(name string, kind errorfs.OpKind, op func(vfs.File) error) injCase {
	return injCase{
		name: name, kind: kind, at: "w",
		act: func(t *testing.T, x *injAct) error {
			f := injCreate(t, x, "w", injA)
			defer f.Close()
			return x.armed(func() error { return op(f) })
		},
		want: []injState{{"w": injHas(injA)}},
	}
}

// injCreate creates rel through the FS with content, synced, and leaves it
// open.
func injCreate(t *testing.T, x *injAct, rel string, content []byte) vfs.File {
	t.Helper()
	f, err := x.efs.Create(x.path(rel), "test")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Write(slices.Clone(content)); err != nil || n != len(content) {
		t.Fatalf("write %s: %d, %v", rel, n, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFSFaults fails one base operation at a time, on the data files and
// on the Manager's own renames, links, removals and directory syncs, and
// checks the error comes back (no panic) and the files and dictionary stay
// consistent, both in the same session and after a reopen.
func TestFSFaults(t *testing.T) {
	for _, method := range injMethods {
		for _, c := range injCases() {
			t.Run(method.String()+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				target := filepath.Join(e.dir, filepath.FromSlash(c.at))
				rig := newInjRig(c.kind, target, errorfs.ErrInjected, false)
				efs := e.openFS(t, method, rig.base)
				x := &injAct{efs: efs, dir: efs.Manager().Dir(), disarm: rig.disarm}
				x.arm = func() {
					if c.short {
						rig.short.Store(true)
					} else {
						rig.toggle.On()
					}
				}
				if err := efs.MkdirAll(x.path("sub"), 0o755); err != nil {
					t.Fatal(err)
				}
				for rel, content := range map[string][]byte{"a": injA, "b": injB, "sub/c": injC} {
					injCreate(t, x, rel, content).Close()
				}

				err := c.act(t, x)
				rig.disarm()
				if rig.hits() == 0 {
					t.Fatal("the fault never struck: the case tests nothing")
				}
				sentinel := error(errorfs.ErrInjected)
				if c.short {
					sentinel = errInjShort
				}
				switch c.err {
				case injErrInjected:
					if !errors.Is(err, sentinel) {
						t.Errorf("error %v, want the injected error", err)
					}
				case injErrAny:
					if err == nil {
						t.Error("the operation succeeded despite the fault")
					}
				case injErrMaybe:
					if err != nil && !errors.Is(err, sentinel) {
						t.Errorf("error %v, want none or the injected error", err)
					}
				}

				if c.stops {
					if !errors.Is(err, dict.ErrNeedsReopen) {
						t.Errorf("error %v, want dict.ErrNeedsReopen", err)
					}
				} else {
					injCheck(t, efs, method, c.want, "in the same session")
				}
				if err := efs.Close(); err != nil {
					t.Fatalf("close: %v", err)
				}
				efs = e.openFS(t, method, nil)
				defer efs.Close()
				injCheck(t, efs, method, c.want, "after a reopen")
			})
		}
	}
}

// injCheck checks the data directory is consistent: every file on disk
// (but the lock and the dictionaries) has an entry of the method, the
// files the case looks at read back as one of the outcomes it accepts, and
// none of them is plaintext on disk.
func injCheck(t *testing.T, efs *FS, method ctr.Method, want []injState, stage string) {
	t.Helper()
	dir := efs.Manager().Dir()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "LOCK" || dict.IsDictionaryFile(filepath.ToSlash(rel)) {
			return nil
		}
		e, ok, err := efs.Manager().Lookup(p)
		if err != nil || !ok || e.Method != method {
			t.Errorf("%s: %s is on disk but its entry is %+v (found %v, %v): it reads as noise", stage, rel, e, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: walk: %v", stage, err)
	}

	got := make(map[string]injFile)
	var names []string
	for name := range want[0] {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		got[name] = injObserve(t, efs, filepath.Join(dir, filepath.FromSlash(name)), stage)
	}
	for _, alt := range want {
		if injMatches(alt, got) {
			return
		}
	}
	var have []string
	for _, name := range names {
		have = append(have, name+"="+injDescribe(got[name]))
	}
	var accept []string
	for _, alt := range want {
		var s []string
		for _, name := range names {
			s = append(s, name+"="+injDescribe(alt[name]))
		}
		accept = append(accept, "{"+strings.Join(s, " ")+"}")
	}
	t.Errorf("%s: files are {%s}, want one of %s", stage, strings.Join(have, " "), strings.Join(accept, " or "))
}

// injObserve reads a file through the encrypted FS and checks its bytes on
// disk are not the content.
func injObserve(t *testing.T, efs *FS, path, stage string) injFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return injGone
	}
	if err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	f, err := efs.Open(path)
	if err != nil {
		t.Errorf("%s: open %s: %v", stage, filepath.Base(path), err)
		return injFile{exists: true}
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Errorf("%s: read %s: %v", stage, filepath.Base(path), err)
	}
	// Compared with every content a case writes, not with what reads
	// back: a file without an entry reads back its raw bytes.
	for _, content := range [][]byte{injA, injB, injC} {
		for _, off := range []int{0, len(content) / 2, len(content) - 64} {
			if bytes.Contains(raw, content[off:off+64]) {
				t.Errorf("%s: %s holds plaintext on disk", stage, filepath.Base(path))
				return injFile{exists: true, data: data}
			}
		}
	}
	return injFile{exists: true, data: data}
}

func injMatches(want injState, got map[string]injFile) bool {
	for name, w := range want {
		g := got[name]
		switch {
		case w.exists != g.exists:
			return false
		case w.exists && !w.anyData && !bytes.Equal(w.data, g.data):
			return false
		}
	}
	return true
}

func injDescribe(f injFile) string {
	switch {
	case !f.exists:
		return "gone"
	case f.anyData:
		return "anything"
	case len(f.data) == 0:
		return "empty"
	}
	for _, k := range []struct {
		name string
		data []byte
	}{{"A", injA}, {"B", injB}, {"C", injC}} {
		if bytes.Equal(f.data, k.data) {
			return k.name
		}
	}
	return fmt.Sprintf("other(%d bytes)", len(f.data))
}

// TestDiskFullRetry puts Pebble's vfs.OnDiskFull on top of the encrypted
// FS, as an engine does to free space when the disk fills: on ENOSPC it
// runs its callback and writes p[n:] again with the same buffer. The
// content must read back whole, and no plaintext reach the disk.
func TestDiskFullRetry(t *testing.T) {
	for _, method := range injMethods {
		for _, c := range []struct {
			name  string
			short bool // the failing write wrote half (else nothing)
			at    bool // WriteAt on a file opened read-write (else Write)
		}{
			{"Write/nothing written", false, false},
			{"Write/half written", true, false},
			{"WriteAt/nothing written", false, true},
			{"WriteAt/half written", true, true},
		} {
			t.Run(method.String()+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				if err := os.MkdirAll(e.dir, 0o755); err != nil {
					t.Fatal(err)
				}
				name := filepath.Join(e.dir, "000001.log")
				kind := errorfs.OpFileWrite
				if c.at {
					kind = errorfs.OpFileWriteAt
				}
				abs, err := filepath.Abs(name)
				if err != nil {
					t.Fatal(err)
				}
				rig := newInjRig(kind, abs, syscall.ENOSPC, true)
				rig.shortErr = syscall.ENOSPC
				efs := e.openFS(t, method, rig.base)
				defer efs.Close()
				var freed atomic.Int64
				full := vfs.OnDiskFull(efs, func() { freed.Add(1) })

				var f vfs.File
				if c.at {
					f, err = full.OpenReadWrite(name, "test")
				} else {
					f, err = full.Create(name, "test")
				}
				if err != nil {
					t.Fatal(err)
				}
				if c.short {
					rig.short.Store(true)
				} else {
					rig.toggle.On()
				}
				var n int
				if c.at {
					n, err = f.WriteAt(slices.Clone(injA), 0)
				} else {
					n, err = f.Write(slices.Clone(injA))
				}
				rig.disarm()
				f.Close()
				if rig.hits() != 1 || freed.Load() != 1 {
					t.Fatalf("ENOSPC struck %d times, callback ran %d times; want once each", rig.hits(), freed.Load())
				}
				if err != nil || n != len(injA) {
					t.Fatalf("write through OnDiskFull: %d, %v", n, err)
				}
				injCheck(t, efs, method, []injState{{"000001.log": injHas(injA)}}, "after the retried write")
			})
		}
	}
}

// The Pebble-level test runs Pebble in a child process: Pebble gives up on
// some write errors with Logger.Fatalf on its background goroutines (a
// failed MANIFEST write in a flush, say), or with a panic of the error
// when it cannot rotate its WAL, and a panic there cannot be recovered in
// a test. The child exits instead, which is what Pebble's Fatalf does in
// production; the parent then reopens the directory like a restart.
const (
	injChildEnv = "ATREST_PEBBLEFS_FAULT_CHILD"
	// injGaveUp is the child's exit code when Pebble gave up; os.Exit(0)
	// during a test counts as a failure.
	injGaveUp = 3
	// injWarmup keys are written before any fault; injKeys in all.
	injWarmup = 300
	injKeys   = 3000
)

// injKey is the index of the key the child's i-th write sets: scattered
// over the whole range (7919 is prime to injKeys), so every flush overlaps
// the tables before it and compactions rewrite and delete tables.
func injKey(i int) int { return i * 7919 % injKeys }

// injScenarios are the chances that a write operation (a write, sync,
// create, rename, link or removal) fails, by the kind of file it is on. A
// WAL fault ends the run at once (Pebble gives up on a failed commit), so
// the others run with the WAL spared or nearly: table faults make flushes
// and compactions fail and retry, and faults on the rest (MANIFEST,
// markers, OPTIONS, the directory's syncs) make Pebble give up from its
// background goroutines. The Manager's renames, links, removals and
// directory syncs are among them, on the files they serve.
var injScenarios = map[string]injRates{
	"wal":       {wal: 0.01},
	"tables":    {table: 0.2},
	"metadata":  {other: 0.05},
	"removals":  {removal: 0.3},
	"namespace": {namespace: 0.2},
	"all":       {wal: 0.002, table: 0.05, other: 0.03, removal: 0.05, namespace: 0.05},
}

// injRates are the chances of a fault: removal for removals of files,
// which Pebble survives (it logs them), namespace for renames, links and
// syncs of the data directory (the Manager's other base operations), and
// the others by the kind of file for every other write operation.
type injRates struct{ wal, table, other, removal, namespace float64 }

type injChildSpec struct {
	Dir, KeyPath, Result, Scenario string
	Method                         ctr.Method
	Seed                           uint64
}

type injChildResult struct {
	// Acked: the first Acked writes (keys injKey(0), injKey(1), ...) were
	// acknowledged (synced) before the first injected error; AckedAll:
	// the first AckedAll were acknowledged, faults or not.
	Acked    int
	AckedAll int
	Injected int64
	First    string // the first injected fault
	Outcome  string
}

// injRandomly fails an operation with a chance that depends on its file's
// kind, from a sequence of its own per file name (the base name: the
// temporary directory differs between runs), so a run's faults depend only
// on the seed and on how many operations each file sees.
// errorfs.Randomly is not used: it hashes with a maphash seed chosen per
// process, so its fixed seed repeats nothing.
type injRandomly struct {
	injRates
	seed uint64
	dir  string // the data directory, whose syncs are namespace operations

	mu    sync.Mutex
	rngs  map[string]*rand.Rand
	first string
}

func (r *injRandomly) String() string { return fmt.Sprintf("(injRandomly %d)", r.seed) }

func (r *injRandomly) Evaluate(op errorfs.Op) bool {
	name := filepath.Base(op.Path)
	p := r.other
	switch {
	case op.Kind == errorfs.OpRemove || op.Kind == errorfs.OpRemoveAll:
		p = r.removal
	case op.Kind == errorfs.OpRename || op.Kind == errorfs.OpLink || op.Kind == errorfs.OpReuseForWrite ||
		op.Kind == errorfs.OpFileSync && op.Path == r.dir:
		p = r.namespace
	case filepath.Ext(name) == ".log":
		p = r.wal
	case filepath.Ext(name) == ".sst":
		p = r.table
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rng := r.rngs[name]
	if rng == nil {
		h := fnv.New64a()
		h.Write([]byte(name))
		rng = rand.New(rand.NewPCG(r.seed, h.Sum64()))
		r.rngs[name] = rng
	}
	hit := rng.Float64() < p
	if hit && r.first == "" {
		r.first = fmt.Sprintf("%s on %s", injOpNames[op.Kind], name)
	}
	return hit
}

var injOpNames = map[errorfs.OpKind]string{
	errorfs.OpCreate: "create", errorfs.OpLink: "link", errorfs.OpRemove: "remove", errorfs.OpRemoveAll: "remove-all",
	errorfs.OpRename: "rename", errorfs.OpReuseForWrite: "reuse", errorfs.OpMkdirAll: "mkdir", errorfs.OpLock: "lock",
	errorfs.OpFilePreallocate: "preallocate", errorfs.OpFileWrite: "write", errorfs.OpFileWriteAt: "write-at",
	errorfs.OpFileSync: "sync", errorfs.OpFileSyncData: "sync-data", errorfs.OpFileSyncTo: "sync-to",
	errorfs.OpFileFlush: "flush", errorfs.OpFileClose: "close",
}

func (r *injRandomly) firstFault() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}

// injWALGuard ends the child at an injected fault on the WAL: Pebble
// (v2.1.7) gives up on every WAL error, but on some (a WAL it cannot
// create, or the previous one failing to close, in DB.rotateWAL) with a
// panic while its mutex is released, and a deferred unlock on the way up
// turns the panic into a fatal error ("unlock of unlocked mutex") that no
// recover sees. Other errors, and errors that are not injected, reach
// Pebble.
type injWALGuard struct {
	vfs.FS
	finish func(string)
}

func (g injWALGuard) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	return g.wrap(name)(g.FS.Create(name, category))
}

func (g injWALGuard) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	return g.wrap(newname)(g.FS.ReuseForWrite(oldname, newname, category))
}

func (g injWALGuard) wrap(name string) func(vfs.File, error) (vfs.File, error) {
	return func(f vfs.File, err error) (vfs.File, error) {
		if filepath.Ext(name) != ".log" {
			return f, err
		}
		g.check("create "+filepath.Base(name), err)
		if err != nil {
			return nil, err
		}
		return &injWALFile{File: f, g: g, name: filepath.Base(name)}, nil
	}
}

// check ends the child if err is an injected fault on the WAL.
func (g injWALGuard) check(what string, err error) {
	if err != nil && errors.Is(err, errorfs.ErrInjected) {
		g.finish(fmt.Sprintf("pebble gave up (on any WAL error; %s): %v", what, err))
		os.Exit(injGaveUp)
	}
}

// walCreated catches the failures of WAL creation the FS does not see
// (the sync of the WAL's directory that follows it).
func (g injWALGuard) walCreated(info pebble.WALCreateInfo) {
	g.check("create "+filepath.Base(info.Path), info.Err)
}

type injWALFile struct {
	vfs.File
	g    injWALGuard
	name string
}

func (f *injWALFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.g.check("write "+f.name, err)
	return n, err
}

func (f *injWALFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.g.check("write "+f.name, err)
	return n, err
}

func (f *injWALFile) Sync() error {
	err := f.File.Sync()
	f.g.check("sync "+f.name, err)
	return err
}

func (f *injWALFile) SyncData() error {
	err := f.File.SyncData()
	f.g.check("sync "+f.name, err)
	return err
}

func (f *injWALFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	f.g.check("sync "+f.name, err)
	return full, err
}

func (f *injWALFile) Preallocate(off, length int64) error {
	err := f.File.Preallocate(off, length)
	f.g.check("preallocate "+f.name, err)
	return err
}

// injChildLogger ends the child when Pebble gives up.
type injChildLogger struct{ finish func(string) }

func (injChildLogger) Infof(string, ...any)  {}
func (injChildLogger) Errorf(string, ...any) {}
func (l injChildLogger) Fatalf(format string, args ...any) {
	l.finish("pebble gave up: " + fmt.Sprintf(format, args...))
	os.Exit(injGaveUp)
}

// TestPebbleRandomFaults runs Pebble on the encrypted FS over a base that
// fails write operations at random while it writes with Sync, flushes and
// compacts, then reopens the directory without faults: every file must
// have its entry, the DB must open, and every key acknowledged before the
// first injected error (indeed every key acknowledged at all) must read
// back.
func TestPebbleRandomFaults(t *testing.T) {
	if spec := os.Getenv(injChildEnv); spec != "" {
		injChild(t, spec)
		return
	}
	var scenarios []string
	for name := range injScenarios {
		scenarios = append(scenarios, name)
	}
	sort.Strings(scenarios)
	// Each method gets its own seed, so the two see different faults
	// without doubling the runs.
	for i, method := range injMethods {
		seed := uint64(i + 1)
		for _, scenario := range scenarios {
			t.Run(fmt.Sprintf("%s/%s/seed=%d", method, scenario, seed), func(t *testing.T) {
				t.Parallel()
				injRunChild(t, method, scenario, seed)
			})
		}
	}
}

func injRunChild(t *testing.T, method ctr.Method, scenario string, seed uint64) {
	e := newEnv(t)
	result := filepath.Join(t.TempDir(), "result.json")
	spec, err := json.Marshal(injChildSpec{Dir: e.dir, KeyPath: e.keyPath, Result: result, Scenario: scenario, Method: method, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPebbleRandomFaults$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), injChildEnv+"="+string(spec))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == injGaveUp) {
		t.Fatalf("child: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(result)
	if err != nil {
		t.Fatalf("child left no result (%v):\n%s", err, out)
	}
	var res injChildResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	t.Logf("child: %d writes acknowledged before the first fault (%s), %d in all; %d faults; %s", res.Acked, res.First, res.AckedAll, res.Injected, res.Outcome)
	if res.Injected == 0 {
		t.Fatalf("no fault was injected (%s): the run tests nothing", res.Outcome)
	}
	if res.Acked < injWarmup {
		t.Fatalf("only %d keys acknowledged before the first fault, want at least the %d written before faults were on", res.Acked, injWarmup)
	}
	// Pebble gives up only because of a fault, never because of what it
	// read back (corruption, a broken invariant).
	if strings.HasPrefix(res.Outcome, "pebble") && !strings.Contains(res.Outcome, "injected error") {
		t.Fatalf("Pebble gave up for a reason other than an injected fault: %s", res.Outcome)
	}

	efs := e.openFS(t, method, nil)
	defer efs.Close()
	injCheck(t, efs, method, []injState{{}}, "after faults, before Pebble opens")
	db, err := pebble.Open(e.dir, testOptions(efs))
	if err != nil {
		t.Fatalf("reopen after faults (first %s; %s): %v", res.First, res.Outcome, err)
	}
	defer db.Close()
	for i := 0; i < res.AckedAll; i++ {
		k := injKey(i)
		got, ok := get(t, db, key(k))
		switch {
		case i < res.Acked && (!ok || !bytes.Equal(got, value(k, 1))):
			t.Fatalf("key %d, acknowledged before any fault, reads %q (found %v) after %s", k, got, ok, res.Outcome)
		case !ok || !bytes.Equal(got, value(k, 1)):
			// Stronger than the rule above, and still Pebble's promise: a
			// synced write survives whatever fails after it.
			t.Fatalf("key %d, acknowledged after faults began, reads %q (found %v) after %s", k, got, ok, res.Outcome)
		}
	}
	// The reopened DB takes writes and flushes.
	if err := db.Set(key(injKeys), value(injKeys, 2), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
}

// injChild is the child's side of TestPebbleRandomFaults.
func injChild(t *testing.T, raw string) {
	var spec injChildSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{dir: spec.Dir, keyPath: spec.KeyPath}
	sc, ok := injScenarios[spec.Scenario]
	if !ok {
		t.Fatalf("no scenario %q", spec.Scenario)
	}
	rnd := &injRandomly{injRates: sc, seed: spec.Seed, dir: spec.Dir, rngs: make(map[string]*rand.Rand)}
	// Not errorfs.ErrInjected.If(...): the error that injects carries its
	// predicate, so errors.Is(err, errorfs.ErrInjected) is false for it.
	writes := errorfs.And(errorfs.Writes, rnd)
	count := &errorfs.Counter{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if writes.Evaluate(op) {
			return errorfs.ErrInjected
		}
		return nil
	})}
	toggle := &errorfs.Toggle{Injector: count}
	var acked, ackedAll atomic.Int64
	var once sync.Once
	finish := func(outcome string) {
		once.Do(func() {
			b, _ := json.Marshal(injChildResult{Acked: int(acked.Load()), AckedAll: int(ackedAll.Load()), Injected: int64(count.Load()), First: rnd.firstFault(), Outcome: outcome})
			if err := os.WriteFile(spec.Result, b, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		})
	}
	// step runs one call into Pebble. Pebble panics with the error itself
	// when it cannot rotate its WAL: that is Pebble giving up. Any other
	// panic (a runtime error in our code, say) fails the child.
	step := func(f func() error) error {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if err, ok := r.(error); ok && errors.Is(err, errorfs.ErrInjected) {
				if _, rt := r.(runtime.Error); !rt {
					finish(fmt.Sprintf("pebble panicked: %v", err))
					os.Exit(injGaveUp)
				}
			}
			panic(r)
		}()
		return f()
	}

	efs := e.openFS(t, spec.Method, errorfs.Wrap(vfs.Default, toggle))
	guard := injWALGuard{FS: efs, finish: finish}
	opts := testOptions(guard)
	opts.EventListener = &pebble.EventListener{WALCreated: guard.walCreated}
	opts.Logger = injChildLogger{finish: finish}
	db, err := pebble.Open(e.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	failures := 0
	for i := 0; i < injKeys && failures < 20; i++ {
		if i == injWarmup {
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
			toggle.On()
		}
		k := injKey(i)
		err := step(func() error { return db.Set(key(k), value(k, 1), pebble.Sync) })
		if err != nil {
			failures++
		} else if failures == 0 {
			ackedAll.Store(int64(i + 1))
			if count.Load() == 0 {
				acked.Store(int64(i + 1))
			}
		}
		// Flushes and compactions may fail: Pebble retries them, or gives up.
		if i%250 == 249 {
			_ = step(db.Flush)
		}
		if i%1000 == 999 {
			_ = step(func() error { return db.Compact(context.Background(), key(0), key(injKeys), true) })
		}
	}
	_ = step(db.Close)
	_ = efs.Close()
	finish(fmt.Sprintf("completed with %d failed writes", failures))
}
