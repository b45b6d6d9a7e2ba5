package pebblev1fs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"
)

// faultRig is vfs.Default under errorfs, failing the operations of one
// kind on one path (any path when "") while armed, and a wrapper that can
// make the next Write write half and fail with ENOSPC, as a full disk
// does (errorfs fails an operation before it runs, never half way).
type faultRig struct {
	armed atomic.Bool
	op    errorfs.Op
	path  string
	hits  atomic.Int64
	short atomic.Bool
	base  vfs.FS
}

var errInjected = errors.New("injected fault")

func newFaultRig(op errorfs.Op, path string) *faultRig {
	r := &faultRig{op: op, path: path}
	r.base = errorfs.Wrap(shortFS{FS: vfs.Default, rig: r}, errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if r.armed.Load() && op == r.op && (r.path == "" || path == r.path) {
			r.hits.Add(1)
			return errInjected
		}
		return nil
	}))
	return r
}

type shortFS struct {
	vfs.FS
	rig *faultRig
}

func (s shortFS) Create(name string) (vfs.File, error) {
	f, err := s.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &shortFile{File: f, rig: s.rig}, nil
}

type shortFile struct {
	vfs.File
	rig *faultRig
}

func (f *shortFile) Write(p []byte) (int, error) {
	if f.rig.short.CompareAndSwap(true, false) {
		f.rig.hits.Add(1)
		n, _ := f.File.Write(p[:len(p)/2])
		return n, syscall.ENOSPC
	}
	return f.File.Write(p)
}

// faultData is a file's content, distinct per seed, of a length that is
// not a multiple of a counter block.
func faultData(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131+i/257) ^ seed
	}
	return b
}

// readBack reads name through efs whole.
func readBack(t *testing.T, efs *FS, name string) []byte {
	t.Helper()
	f, err := efs.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

// TestFSFaults fails each base operation an FS method stands on, once,
// and checks that the method reports the fault (errors.Is), that a failed
// Write leaves the caller's buffer as it was (plaintext, for a retry),
// and that after the fault the FS, reopened, reads every file back and no
// content is on disk in plaintext.
func TestFSFaults(t *testing.T) {
	a, b := faultData(10_007, 'a'), faultData(5_003, 'b')
	cases := []struct {
		name string
		op   errorfs.Op
		path string // relative to the data directory; "" for any
		run  func(efs *FS, join func(string) string) error
		// after: what each name reads afterwards (nil: absent)
		after map[string][]byte
	}{
		{"create", errorfs.OpCreate, "c", func(efs *FS, join func(string) string) error {
			_, err := efs.Create(join("c"))
			return err
		}, map[string][]byte{"a": a}},
		{"write", errorfs.OpFileWrite, "c", func(efs *FS, join func(string) string) error {
			f, err := efs.Create(join("c"))
			if err != nil {
				return err
			}
			defer f.Close()
			buf := slices.Clone(b)
			_, err = f.Write(buf)
			if !bytes.Equal(buf, b) {
				return errors.New("a failed Write left its buffer encrypted")
			}
			return err
		}, map[string][]byte{"a": a}},
		{"sync", errorfs.OpFileSync, "a", func(efs *FS, join func(string) string) error {
			f, err := efs.OpenReadWrite(join("a"))
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Sync()
		}, map[string][]byte{"a": a}},
		{"rename", errorfs.OpRename, "", func(efs *FS, join func(string) string) error {
			return efs.Rename(join("a"), join("c"))
		}, map[string][]byte{"a": a, "c": nil}},
		{"link", errorfs.OpLink, "", func(efs *FS, join func(string) string) error {
			return efs.Link(join("a"), join("c"))
		}, map[string][]byte{"a": a, "c": nil}},
		{"remove", errorfs.OpRemove, "a", func(efs *FS, join func(string) string) error {
			return efs.Remove(join("a"))
		}, map[string][]byte{"a": a}},
		{"reuse", errorfs.OpRename, "", func(efs *FS, join func(string) string) error {
			_, err := efs.ReuseForWrite(join("a"), join("c"))
			return err
		}, map[string][]byte{"a": a, "c": nil}},
		{"open", errorfs.OpOpen, "a", func(efs *FS, join func(string) string) error {
			_, err := efs.Open(join("a"))
			return err
		}, map[string][]byte{"a": a}},
		{"file dictionary write", errorfs.OpFileWriteAt, dict.FileDictName, func(efs *FS, join func(string) string) error {
			_, err := efs.Create(join("c"))
			return err
		}, map[string][]byte{"a": a}},
	}
	for _, method := range []ctr.Method{ctr.AES128CTR, ctr.SM4CTR} {
		for _, c := range cases {
			t.Run(method.String()+"/"+c.name, func(t *testing.T) {
				e := newEnv(t)
				path := ""
				if c.path != "" {
					path = filepath.Join(e.dir, c.path)
				}
				rig := newFaultRig(c.op, path)
				efs := e.openFS(t, method, rig.base)
				join := func(n string) string { return filepath.Join(e.dir, n) }
				f, err := efs.Create(join("a"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write(slices.Clone(a)); err != nil {
					t.Fatal(err)
				}
				f.Sync()
				f.Close()

				rig.armed.Store(true)
				err = c.run(efs, join)
				rig.armed.Store(false)
				if rig.hits.Load() == 0 {
					t.Fatalf("the fault never struck: the case does not reach %v", c.op)
				}
				if !errors.Is(err, errInjected) {
					t.Fatalf("%s under a fault: %v, want the injected error", c.name, err)
				}
				if err := efs.Close(); err != nil {
					t.Logf("close after the fault: %v", err)
				}

				efs = e.openFS(t, method, nil)
				defer efs.Close()
				for name, want := range c.after {
					if want == nil {
						if _, err := os.Stat(join(name)); !errors.Is(err, os.ErrNotExist) {
							t.Errorf("%s exists after the failed %s: %v", name, c.name, err)
						}
						continue
					}
					if got := readBack(t, efs, join(name)); !bytes.Equal(got, want) {
						t.Errorf("%s reads %d bytes after the failed %s, not its content", name, len(got), c.name)
					}
				}
				// The FS still works: a new file writes and reads back.
				f, err = efs.Create(join("d"))
				if err != nil {
					t.Fatal(err)
				}
				f.Write(slices.Clone(b))
				f.Close()
				if got := readBack(t, efs, join("d")); !bytes.Equal(got, b) {
					t.Error("a file written after the fault does not read back")
				}
				for _, content := range [][]byte{a, b} {
					if hits, _ := scanDir(t, e.dir, content[:64]); len(hits) > 0 {
						t.Errorf("content in plaintext on disk in %v", hits)
					}
				}
			})
		}
	}
}

// scanDir is enginetest.ScanFor, here for the fault tests' contents.
func scanDir(t *testing.T, dir string, needle []byte) ([]string, int) {
	t.Helper()
	var hits []string
	n := 0
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		n++
		raw, err := os.ReadFile(p)
		if err == nil && bytes.Contains(raw, needle) {
			hits = append(hits, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits, n
}

// TestDiskFullRetry: Pebble's OnDiskFull wrapper, over the FS, meets
// ENOSPC on a Write (nothing written, or half), runs its callback and
// writes the rest again with the same buffer: the content reads back
// whole, which it would not if the retried bytes were encrypted twice.
func TestDiskFullRetry(t *testing.T) {
	for _, method := range []ctr.Method{ctr.AES128CTR, ctr.SM4CTR} {
		for _, short := range []bool{false, true} {
			t.Run(method.String()+map[bool]string{false: "/nothing written", true: "/half written"}[short], func(t *testing.T) {
				e := newEnv(t)
				if err := os.MkdirAll(e.dir, 0o755); err != nil {
					t.Fatal(err)
				}
				name := filepath.Join(e.dir, "000001.log")
				rig := newFaultRig(errorfs.OpFileWrite, name)
				efs := e.openFS(t, method, rig.base)
				defer efs.Close()
				var freed atomic.Int64
				full := vfs.OnDiskFull(efs, func() { freed.Add(1) })
				f, err := full.Create(name)
				if err != nil {
					t.Fatal(err)
				}
				content := faultData(10_007, 'w')
				if short {
					rig.short.Store(true)
				} else {
					rig.op = errorfs.OpFileWrite
					rig.armed.Store(true)
					// errorfs's error is no ENOSPC: the wrapper retries only
					// that, so the half-written case covers the retry, and
					// this one the error's way out.
				}
				n, err := f.Write(slices.Clone(content))
				rig.armed.Store(false)
				f.Close()
				if short {
					if err != nil || n != len(content) || freed.Load() != 1 {
						t.Fatalf("write through OnDiskFull: %d, %v, callback ran %d times", n, err, freed.Load())
					}
					if got := readBack(t, efs, name); !bytes.Equal(got, content) {
						t.Fatal("the retried write does not read back")
					}
				} else if !errors.Is(err, errInjected) {
					t.Fatalf("write under a fault: %v", err)
				}
				if hits, _ := scanDir(t, e.dir, content[:64]); len(hits) > 0 {
					t.Errorf("content in plaintext on disk in %v", hits)
				}
			})
		}
	}
}

// TestPebbleTableFaults runs Pebble with a fifth of the writes and syncs
// of its tables failing: flushes and compactions fail and are tried
// again, writes go on through the WAL. After the faults stop, every
// synced write reads back, before and after a reopen.
func TestPebbleTableFaults(t *testing.T) {
	e := newEnv(t)
	var armed atomic.Bool
	var hits atomic.Int64
	var mu sync.Mutex
	n := 0
	base := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if !armed.Load() || filepath.Ext(path) != ".sst" || (op != errorfs.OpFileWrite && op != errorfs.OpFileSync) {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%5 == 0 {
			hits.Add(1)
			return errInjected
		}
		return nil
	}))
	efs := e.openFS(t, ctr.SM4CTR, base)
	o := testOptions(efs)
	o.MemTableSize = 64 << 10
	db, err := pebble.Open(e.dir, o)
	if err != nil {
		t.Fatal(err)
	}
	want := model{}
	armed.Store(true)
	for i := range max(scaled(4000), 1000) {
		if err := db.Set(key(i), value(i, 1), pebble.Sync); err != nil {
			t.Fatalf("set %d: %v", i, err)
		}
		want[i] = value(i, 1)
		if i%500 == 0 {
			db.Flush() // may fail: the fault is the point
		}
	}
	armed.Store(false)
	if hits.Load() == 0 {
		t.Fatal("no table write failed")
	}
	if err := db.Flush(); err != nil {
		t.Fatalf("flush after the faults: %v", err)
	}
	want.check(t, db, "after the faults")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	efs.Close()
	efs = e.openFS(t, ctr.SM4CTR, nil)
	db = e.openDB(t, efs)
	want.check(t, db, "after reopening")
	db.Close()
	efs.Close()
	t.Logf("%d table writes and syncs failed", hits.Load())
}
