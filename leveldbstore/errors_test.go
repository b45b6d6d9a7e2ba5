package leveldbstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/crashfs"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/storage"
)

var errInjected = errors.New("injected fault")

const faultDir = "/data/db"

// faultFS is a crashfs that fails the operations op on the path (in the
// data directory; any when "") while armed, counting the hits.
type faultFS struct {
	*crashfs.FS
	armed atomic.Bool
	hits  atomic.Int64
}

func newFaultFS(t *testing.T, op crashfs.Op, name string) *faultFS {
	t.Helper()
	f := &faultFS{FS: crashfs.New()}
	if err := f.MkdirAll(faultDir); err != nil {
		t.Fatal(err)
	}
	f.InjectError(func(o crashfs.Op, p string) error {
		if f.armed.Load() && o == op && (name == "" || p == path.Join(faultDir, name)) {
			f.hits.Add(1)
			return errInjected
		}
		return nil
	})
	return f
}

// snapshotHas reports the files of the crashfs whose bytes contain needle.
func snapshotHas(fs *crashfs.FS, needle []byte) []string {
	var hits []string
	for p, b := range fs.Snapshot() {
		if bytes.Contains(b, needle) {
			hits = append(hits, p)
		}
	}
	slices.Sort(hits)
	return hits
}

func readFD(t *testing.T, s *Storage, fd storage.FileDesc) []byte {
	t.Helper()
	r, err := s.Open(fd)
	if err != nil {
		t.Fatalf("open %v: %v", fd, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStorageFaults fails each base operation a Storage method stands on
// and checks that the method reports the fault (errors.Is), and that
// after it the storage, reopened, still has its manifest and its table,
// works, and holds no content in plaintext.
func TestStorageFaults(t *testing.T) {
	table := storage.FileDesc{Type: storage.TypeTable, Num: 5}
	manifest := storage.FileDesc{Type: storage.TypeManifest, Num: 2}
	newTable := storage.FileDesc{Type: storage.TypeTable, Num: 9}
	content, more := pattern(20_011), bytes.Repeat([]byte("more content "), 500)
	write := func(s *Storage, fd storage.FileDesc, b []byte) error {
		w, err := s.Create(fd)
		if err != nil {
			return err
		}
		buf := slices.Clone(b)
		_, err = w.Write(buf)
		if !bytes.Equal(buf, b) {
			return errors.New("Write changed its buffer")
		}
		if err == nil {
			err = w.Sync()
		}
		return errors.Join(err, w.Close())
	}
	cases := []struct {
		name string
		op   crashfs.Op
		path string
		run  func(s *Storage) error
	}{
		{"create", crashfs.OpOpen, "000009.ldb", func(s *Storage) error { return write(s, newTable, more) }},
		{"write", crashfs.OpWrite, "000009.ldb", func(s *Storage) error { return write(s, newTable, more) }},
		{"sync", crashfs.OpSync, "000009.ldb", func(s *Storage) error { return write(s, newTable, more) }},
		{"directory sync", crashfs.OpSyncDir, "", func(s *Storage) error { return write(s, newTable, more) }},
		{"file dictionary", crashfs.OpWrite, dict.FileDictName, func(s *Storage) error { return write(s, newTable, more) }},
		{"open", crashfs.OpOpen, "000005.ldb", func(s *Storage) error { _, err := s.Open(table); return err }},
		{"remove", crashfs.OpRemove, "000005.ldb", func(s *Storage) error { return s.Remove(table) }},
		{"rename", crashfs.OpRename, "000009.ldb", func(s *Storage) error { return s.Rename(table, newTable) }},
		{"SetMeta's write", crashfs.OpWrite, "CURRENT.7", func(s *Storage) error {
			return s.SetMeta(storage.FileDesc{Type: storage.TypeManifest, Num: 7})
		}},
		{"SetMeta's rename", crashfs.OpRename, "CURRENT", func(s *Storage) error {
			return s.SetMeta(storage.FileDesc{Type: storage.TypeManifest, Num: 7})
		}},
		{"LOG at open", crashfs.OpOpen, "LOG", nil},
		{"LOCK at open", crashfs.OpLock, "LOCK", nil},
	}
	for _, method := range []ctr.Method{ctr.AES128CTR, ctr.SM4CTR} {
		for _, c := range cases {
			t.Run(method.String()+"/"+c.name, func(t *testing.T) {
				e := newEnv(t)
				ffs := newFaultFS(t, c.op, c.path)
				open := func() (*Storage, error) {
					return Open(context.Background(), faultDir, e.config(method), ffs)
				}
				s, err := open()
				if err != nil {
					t.Fatal(err)
				}
				for _, fd := range []storage.FileDesc{table, manifest, {Type: storage.TypeManifest, Num: 7}} {
					if err := write(s, fd, content); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.SetMeta(manifest); err != nil {
					t.Fatal(err)
				}
				ffs.armed.Store(true)
				if c.run == nil { // a fault while opening
					s.Close()
					s, err = open()
				} else {
					err = c.run(s)
				}
				ffs.armed.Store(false)
				if ffs.hits.Load() == 0 {
					t.Fatalf("the fault never struck: the case does not reach %v on %q", c.op, c.path)
				}
				if !errors.Is(err, errInjected) {
					t.Fatalf("%s under a fault: %v, want the injected error", c.name, err)
				}
				if s != nil {
					s.Close()
				}

				s, err = open()
				if err != nil {
					t.Fatalf("reopen after the fault: %v", err)
				}
				defer s.Close()
				if fd, err := s.GetMeta(); err != nil || fd != manifest {
					t.Errorf("GetMeta after the fault: %v, %v; want %v", fd, err, manifest)
				}
				if got := readFD(t, s, table); !bytes.Equal(got, content) {
					t.Errorf("the table reads %d bytes after the fault, not its content", len(got))
				}
				if err := write(s, newTable, more); err != nil {
					t.Fatalf("write after the fault: %v", err)
				}
				if got := readFD(t, s, newTable); !bytes.Equal(got, more) {
					t.Error("a table written after the fault does not read back")
				}
				for _, b := range [][]byte{content[:64], more[:64]} {
					if hits := snapshotHas(ffs.FS, b); len(hits) > 0 {
						t.Errorf("content in plaintext in %v", hits)
					}
				}
			})
		}
	}
}

// TestLevelDBFaults runs goleveldb under faults: the first table writes
// fail (its compaction backs off and tries again), then a journal write
// is cut short by a full disk. Every write acknowledged with Sync reads
// back after a reopen, and no value is on disk in plaintext.
func TestLevelDBFaults(t *testing.T) {
	if raceEnabled {
		// Not ours to fix: when a compaction's table write fails,
		// goleveldb v1.0.0's writer returns from compTriggerWait and
		// closes the acknowledgement channel that the compaction goroutine
		// then sends on (db_compaction.go:705 against :675). The race
		// detector reports it; make test runs this test in its other two
		// passes, without -race.
		t.Skip("goleveldb v1.0.0 races with itself on a failed compaction (compTriggerWait closes the channel cAuto.ack sends on); run without -race")
	}
	e := newEnv(t)
	mem := crashfs.New()
	if err := mem.MkdirAll(faultDir); err != nil {
		t.Fatal(err)
	}
	var tableFaults, journalFaults atomic.Int64
	var journalArmed atomic.Bool
	mem.InjectError(func(op crashfs.Op, p string) error {
		switch {
		case op == crashfs.OpWrite && strings.HasSuffix(p, ".ldb") && tableFaults.Load() < 2:
			tableFaults.Add(1)
			return errInjected
		case op == crashfs.OpWrite && strings.HasSuffix(p, ".log") && journalArmed.CompareAndSwap(true, false):
			journalFaults.Add(1)
			return &crashfs.PartialWrite{N: 100, Err: syscall.ENOSPC}
		}
		return nil
	})
	o := testOptions()
	o.DisableCompactionBackoff = true // retry a failed compaction at once
	db, err := OpenDB(context.Background(), faultDir, e.config(ctr.SM4CTR), mem, o)
	if err != nil {
		t.Fatal(err)
	}
	h := enginetest.NewHistory(nil)
	const keys = 1500
	putFaults := 0
	for i := range 3000 {
		k, gen := i%keys, uint64(i+1)
		if i == 2500 {
			journalArmed.Store(true)
		}
		op := h.Begin([]enginetest.Write{{K: k, Gen: gen}}, true, false)
		err := db.Put(key(k), enginetest.Value(k, gen), &opt.WriteOptions{Sync: true})
		for try := 0; errors.Is(err, errInjected) && try < 100; try++ {
			// A failed compaction holds writes back until its retry
			// succeeds: the same write is tried again.
			putFaults++
			time.Sleep(10 * time.Millisecond)
			err = db.Put(key(k), enginetest.Value(k, gen), &opt.WriteOptions{Sync: true})
		}
		if errors.Is(err, syscall.ENOSPC) {
			break // the DB may refuse writes after a failed journal write
		}
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		h.Ack(op)
	}
	if tableFaults.Load() == 0 || journalFaults.Load() == 0 {
		t.Fatalf("faults struck %d tables and %d journals; want both", tableFaults.Load(), journalFaults.Load())
	}
	db.Close()
	mem.InjectError(nil)
	db, err = OpenDB(context.Background(), faultDir, e.config(ctr.SM4CTR), mem, testOptions())
	if err != nil {
		t.Fatalf("reopen after the faults: %v", err)
	}
	defer db.Close()
	read, err := scanGens(db.DB)
	if err != nil {
		t.Fatal(err)
	}
	res := h.Cut().Check(read, keys)
	if len(res.Problems) > 0 {
		t.Fatalf("after the faults:\n%s", strings.Join(res.Problems, "\n"))
	}
	if hits := snapshotHas(mem, []byte(enginetest.Marker)); len(hits) > 0 {
		t.Errorf("values in plaintext in %v", hits)
	}
	t.Logf("%d table writes failed (%d writes refused for it), %d journal write cut short; %d acknowledged values checked, lost 0", tableFaults.Load(), putFaults, journalFaults.Load(), res.Durable)
}
