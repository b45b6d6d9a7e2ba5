package leveldbstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/internal/crashfs"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/syndtr/goleveldb/leveldb/storage"
)

// pattern is content whose every 16-byte block differs.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// dataKey reads data key id from the key dictionary on disk with the
// master key, independently of the Manager, to check bytes on disk.
func dataKey(t *testing.T, e *testEnv, id uint64) []byte {
	return enginetest.DataKey(t, e.dir, e.config(ctr.AES128CTR), id)
}

// onDisk is name's content as the entry's keystream encrypts it.
func onDisk(t *testing.T, e *testEnv, s *Storage, name string, content []byte) []byte {
	t.Helper()
	ent, ok, err := s.Manager().Lookup(name)
	if err != nil || !ok {
		t.Fatalf("%s has no entry (%v)", name, err)
	}
	st, err := ctr.New(ent.Method, dataKey(t, e, ent.KeyID), ent.IV[:])
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(content)
	st.XORKeyStreamAt(want, want, 0)
	return want
}

// TestFileIO writes a table through Create and reads it back through
// Open by every read call, under every method; the bytes on disk are the
// content XORed with the entry's keystream, and the caller's buffer is
// left alone.
func TestFileIO(t *testing.T) {
	content := pattern(200_003)
	for _, method := range allMethods {
		t.Run(method.String(), func(t *testing.T) {
			e := newEnv(t)
			s := e.openStorage(t, method, nil)
			defer s.Close()
			fd := storage.FileDesc{Type: storage.TypeTable, Num: 7}
			w, err := s.Create(fd)
			if err != nil {
				t.Fatal(err)
			}
			buf := slices.Clone(content)
			for _, cut := range [][2]int{{0, 777}, {777, 100_001}, {100_001, len(content)}} {
				if n, err := w.Write(buf[cut[0]:cut[1]]); err != nil || n != cut[1]-cut[0] {
					t.Fatalf("write: %d, %v", n, err)
				}
			}
			if !bytes.Equal(buf, content) {
				t.Error("Write changed its buffer: goleveldb reuses its buffers")
			}
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(e.dir, "000007.ldb"))
			if err != nil {
				t.Fatal(err)
			}
			want := content
			if method != ctr.Plaintext {
				want = onDisk(t, e, s, "000007.ldb", content)
			} else if _, ok, _ := s.Manager().Lookup("000007.ldb"); ok {
				if ent, _, _ := s.Manager().Lookup("000007.ldb"); ent.Method != ctr.Plaintext {
					t.Fatalf("plaintext file has entry %v", ent)
				}
			}
			if !bytes.Equal(raw, want) {
				t.Fatal("bytes on disk are not the content XORed with the entry's keystream")
			}

			r, err := s.Open(fd)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ off, n int }{{0, 1}, {1, 15}, {15, 17}, {4095, 4098}, {100_000, 65_537}, {len(content) - 3, 3}} {
				got := make([]byte, c.n)
				if n, err := r.ReadAt(got, int64(c.off)); n != c.n || (err != nil && err != io.EOF) {
					t.Fatalf("ReadAt(%d, %d): %d, %v", c.off, c.n, n, err)
				}
				if !bytes.Equal(got, content[c.off:c.off+c.n]) {
					t.Errorf("ReadAt(%d, %d) is wrong", c.off, c.n)
				}
			}
			if _, err := r.Seek(100, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			seq, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(seq, content[100:]) {
				t.Errorf("Seek and Read: %d bytes, %v", len(seq), err)
			}
			r.Close()
		})
	}
}

// TestReadAllocatesNothing: ReadAt on an encrypted table allocates
// nothing per call, and neither does Write.
func TestReadAllocatesNothing(t *testing.T) {
	e := newEnv(t)
	s := e.openStorage(t, ctr.AES256CTR, nil)
	defer s.Close()
	w, err := s.Create(storage.FileDesc{Type: storage.TypeTable, Num: 1})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if a := testing.AllocsPerRun(100, func() {
		if _, err := w.Write(buf); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("Write: %v allocations per call", a)
	}
	w.Close()
	r, err := s.Open(storage.FileDesc{Type: storage.TypeTable, Num: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if a := testing.AllocsPerRun(100, func() {
		if _, err := r.ReadAt(buf, 8191); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("ReadAt: %v allocations per call", a)
	}
}

// TestCreateFreshIV: creating a file again (goleveldb reuses a number
// after a failed compaction) gives it a new IV, so the same content is
// never encrypted under one keystream twice.
func TestCreateFreshIV(t *testing.T) {
	e := newEnv(t)
	s := e.openStorage(t, ctr.SM4CTR, nil)
	defer s.Close()
	fd := storage.FileDesc{Type: storage.TypeJournal, Num: 3}
	var ivs [][16]byte
	var raws [][]byte
	for range 2 {
		w, err := s.Create(fd)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(pattern(5000))
		w.Close()
		ent, _, _ := s.Manager().Lookup("000003.log")
		ivs = append(ivs, ent.IV)
		raw, _ := os.ReadFile(filepath.Join(e.dir, "000003.log"))
		raws = append(raws, raw)
	}
	if ivs[0] == ivs[1] || bytes.Equal(raws[0], raws[1]) {
		t.Fatal("a re-created file kept its IV")
	}
}

// TestNamespace covers List, Rename, Remove (a table under its old
// name too), Lock and Close.
func TestNamespace(t *testing.T) {
	e := newEnv(t)
	s := e.openStorage(t, ctr.AES128CTR, nil)
	m := s.Manager()
	for _, fd := range []storage.FileDesc{{Type: storage.TypeTable, Num: 1}, {Type: storage.TypeJournal, Num: 2}, {Type: storage.TypeManifest, Num: 3}, {Type: storage.TypeTemp, Num: 4}} {
		w, err := s.Create(fd)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(pattern(100))
		w.Close()
	}
	if err := s.SetMeta(storage.FileDesc{Type: storage.TypeManifest, Num: 3}); err != nil {
		t.Fatal(err)
	}
	all, err := s.List(storage.TypeAll)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Errorf("List(TypeAll) = %v: want the four files, no dictionaries, LOCK, LOG or CURRENT", all)
	}
	tables, _ := s.List(storage.TypeTable | storage.TypeTemp)
	if len(tables) != 2 {
		t.Errorf("List(table|temp) = %v", tables)
	}

	tmp, table := storage.FileDesc{Type: storage.TypeTemp, Num: 4}, storage.FileDesc{Type: storage.TypeTable, Num: 5}
	before, _, _ := m.Lookup("000004.tmp")
	if err := s.Rename(tmp, table); err != nil {
		t.Fatal(err)
	}
	if after, ok, _ := m.Lookup("000005.ldb"); !ok || after != before {
		t.Errorf("renamed file's entry %+v (%v), want %+v", after, ok, before)
	}
	if _, ok, _ := m.Lookup("000004.tmp"); ok {
		t.Error("the old name keeps its entry")
	}
	r, err := s.Open(table)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, pattern(100)) {
		t.Error("renamed file does not read back")
	}

	// A table under LevelDB's old name is opened and removed by its
	// number.
	if err := m.Rename("000005.ldb", "000005.sst"); err != nil {
		t.Fatal(err)
	}
	r, err = s.Open(table)
	if err != nil {
		t.Fatalf("open a table under its old name: %v", err)
	}
	r.Close()
	if err := s.Remove(table); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "000005.sst")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old-named table not removed: %v", err)
	}
	if err := s.Remove(table); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removing a missing table: %v", err)
	}
	if _, err := s.Create(storage.FileDesc{Type: storage.TypeTable, Num: -1}); !errors.Is(err, storage.ErrInvalidFile) {
		t.Errorf("create an invalid file: %v", err)
	}

	l, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock(); !errors.Is(err, storage.ErrLocked) {
		t.Errorf("second Lock: %v, want ErrLocked", err)
	}
	l.Unlock()
	l2, err := s.Lock()
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	l2.Unlock()

	// The LOCK file keeps a second storage out, and holds no entry.
	if _, err := Open(context.Background(), e.dir, e.config(ctr.AES128CTR), nil); !errors.Is(err, fsys.ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	if _, ok, _ := m.Lookup(lockName); ok {
		t.Error("LOCK has an entry")
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.List(storage.TypeAll); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("List after Close: %v", err)
	}
	if _, err := s.Open(table); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Open after Close: %v", err)
	}
	if _, err := s.GetMeta(); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("GetMeta after Close: %v", err)
	}
	s.Log("dropped after Close")
}

// TestMeta covers SetMeta and GetMeta: a new directory is os.ErrNotExist
// itself, CURRENT is encrypted and names the manifest, a corrupt CURRENT
// is ErrCorrupted, and a CURRENT.n a crash left during the first SetMeta
// is taken up.
func TestMeta(t *testing.T) {
	e := newEnv(t)
	s := e.openStorage(t, ctr.AES128CTR, nil)
	defer s.Close()
	if _, err := s.GetMeta(); err != os.ErrNotExist {
		t.Fatalf("GetMeta of a new directory: %v, want os.ErrNotExist itself", err)
	}
	man := func(n int64) storage.FileDesc { return storage.FileDesc{Type: storage.TypeManifest, Num: n} }
	for _, n := range []int64{1, 2} {
		w, _ := s.Create(man(n))
		w.Close()
	}
	if err := s.SetMeta(man(2)); err != nil {
		t.Fatal(err)
	}
	if fd, err := s.GetMeta(); err != nil || fd != man(2) {
		t.Fatalf("GetMeta = %v, %v", fd, err)
	}
	raw, _ := os.ReadFile(filepath.Join(e.dir, currentName))
	if want := onDisk(t, e, s, currentName, []byte("MANIFEST-000002\n")); !bytes.Equal(raw, want) {
		t.Errorf("CURRENT on disk is %q, not the manifest's name encrypted", raw)
	}
	if names, _ := os.ReadDir(e.dir); slices.ContainsFunc(names, func(d os.DirEntry) bool { return strings.HasPrefix(d.Name(), "CURRENT.") }) {
		t.Error("SetMeta left a CURRENT.n behind")
	}

	// CURRENT naming a manifest that is gone: not there.
	if err := s.SetMeta(man(9)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMeta(); err != os.ErrNotExist {
		t.Errorf("GetMeta with CURRENT naming a missing manifest: %v", err)
	}

	// A corrupt CURRENT.
	w, err := s.Manager().Create(currentName)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("garbage"))
	w.Close()
	var corrupted *storage.ErrCorrupted
	if _, err := s.GetMeta(); !errors.As(err, &corrupted) {
		t.Errorf("GetMeta with a corrupt CURRENT: %v, want ErrCorrupted", err)
	}

	// No CURRENT, a CURRENT.n left by a crash: taken up and made CURRENT.
	if err := s.Manager().Remove(currentName); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name, content string
	}{{"CURRENT.1", "MANIFEST-000001\n"}, {"CURRENT.2", "MANIFEST-000002\n"}, {"CURRENT.3", "MANIFEST-00"}} {
		w, _ := s.Manager().Create(p.name)
		w.Write([]byte(p.content))
		w.Close()
	}
	if fd, err := s.GetMeta(); err != nil || fd != man(2) {
		t.Fatalf("GetMeta from pending CURRENT.n = %v, %v; want the newest intact one", fd, err)
	}
	if fd, err := s.GetMeta(); err != nil || fd != man(2) {
		t.Fatalf("GetMeta after taking up CURRENT.2 = %v, %v", fd, err)
	}
	if names, _ := os.ReadDir(e.dir); slices.ContainsFunc(names, func(d os.DirEntry) bool { return strings.HasPrefix(d.Name(), "CURRENT.") }) {
		t.Error("GetMeta left CURRENT.n files behind")
	}
}

// TestLog: LOG is encrypted, its lines decrypt to what was logged, and a
// reopen starts a new LOG (fresh IV), the old one kept as LOG.old.
func TestLog(t *testing.T) {
	e := newEnv(t)
	s := e.openStorage(t, ctr.SM4CTR, nil)
	s.Log("first line")
	first, _, _ := s.Manager().Lookup(logName)
	s.Close()
	s = e.openStorage(t, ctr.SM4CTR, nil)
	defer s.Close()
	s.Log("second line")
	read := func(name string) string {
		f, err := s.Manager().Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		return string(b)
	}
	if got := read(oldLogName); !strings.Contains(got, " first line\n") {
		t.Errorf("LOG.old reads %q", got)
	}
	if got := read(logName); !strings.Contains(got, " second line\n") || strings.Contains(got, "first line") {
		t.Errorf("LOG reads %q", got)
	}
	if old, _, _ := s.Manager().Lookup(oldLogName); old != first {
		t.Error("LOG.old is not the first LOG")
	}
	if cur, _, _ := s.Manager().Lookup(logName); cur.IV == first.IV {
		t.Error("the new LOG kept the old one's IV")
	}
	raw, _ := os.ReadFile(filepath.Join(e.dir, logName))
	if bytes.Contains(raw, []byte("second line")) {
		t.Error("LOG is in plaintext")
	}
	// Past the rotation size LOG becomes LOG.old.
	line := strings.Repeat("x", 1000)
	for range logRotateSize/1000 + 10 {
		s.Log(line)
	}
	if got := read(oldLogName); !strings.Contains(got, "second line") {
		t.Error("LOG was not rotated past its size")
	}
}

// TestSyncMakesNameDurable: a file synced through a Writer survives a
// power cut that keeps nothing unsynced, name and all.
func TestSyncMakesNameDurable(t *testing.T) {
	e := newEnv(t)
	mem := crashfs.New()
	const dir = "/data/db"
	if err := mem.MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), dir, e.config(ctr.AES128CTR), mem)
	if err != nil {
		t.Fatal(err)
	}
	fd := storage.FileDesc{Type: storage.TypeJournal, Num: 12}
	w, err := s.Create(fd)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(pattern(3000))
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	cut := mem.Crash(crashfs.KeepNothingUnsynced())
	s.Close()
	s, err = Open(context.Background(), dir, e.config(ctr.AES128CTR), cut)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Open(fd)
	if err != nil {
		t.Fatalf("synced journal lost in a power cut: %v", err)
	}
	defer r.Close()
	got, _ := io.ReadAll(r)
	if !bytes.Equal(got, pattern(3000)) {
		t.Error("synced journal does not read back after the cut")
	}
}

// TestSetMetaSyncsManifest: goleveldb writes a new manifest and calls
// SetMeta without syncing it; SetMeta syncs it, so a power cut that keeps
// nothing unsynced leaves CURRENT naming a manifest that reads back.
func TestSetMetaSyncsManifest(t *testing.T) {
	e := newEnv(t)
	mem := crashfs.New()
	const dir = "/data/db"
	if err := mem.MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), dir, e.config(ctr.SM4CTR), mem)
	if err != nil {
		t.Fatal(err)
	}
	fd := storage.FileDesc{Type: storage.TypeManifest, Num: 4}
	w, err := s.Create(fd)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(pattern(1000)) // no Sync, as goleveldb's newManifest
	if err := s.SetMeta(fd); err != nil {
		t.Fatal(err)
	}
	cut := mem.Crash(crashfs.KeepNothingUnsynced())
	w.Close()
	s.Close()
	s, err = Open(context.Background(), dir, e.config(ctr.SM4CTR), cut)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.GetMeta(); err != nil || got != fd {
		t.Fatalf("GetMeta after the cut = %v, %v", got, err)
	}
	r, err := s.Open(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := io.ReadAll(r); !bytes.Equal(got, pattern(1000)) {
		t.Errorf("the manifest CURRENT names reads %d bytes after the cut, not what was written", len(got))
	}
}

// TestOpenDBClosesStorage: OpenDB's DB closes its storage with it, so the
// LOCK file and the dictionaries are free again for the next OpenDB.
func TestOpenDBClosesStorage(t *testing.T) {
	e := newEnv(t)
	for round := range 2 {
		db, err := OpenDB(context.Background(), e.dir, e.config(ctr.SM4CTR), nil, testOptions())
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := db.Put(key(round), value(round, round), nil); err != nil {
			t.Fatal(err)
		}
		if round == 1 {
			if v, err := db.Get(key(0), nil); err != nil || !bytes.Equal(v, value(0, 0)) {
				t.Errorf("the first round's value: %q, %v", v, err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
