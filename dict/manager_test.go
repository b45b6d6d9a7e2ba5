package dict

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
)

// testEnv is a data directory, a master key file beside it and the
// clock the Manager reads.
type testEnv struct {
	*testenv.Clock
	t       *testing.T
	dir     string
	keyPath string
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnvIn(t, t.TempDir())
	e.t = t
	return e
}

func newBenchEnv(b *testing.B) *testEnv {
	return newEnvIn(b, b.TempDir())
}

func newEnvIn(t testing.TB, root string) *testEnv {
	dir := testenv.DataDir(t, root)
	return &testEnv{Clock: testenv.NewClock(), dir: dir, keyPath: testenv.KeyFile(t, root, "master.key", 0x5c)}
}

func (e *testEnv) config(method ctr.Method) keyenv.Config {
	return testenv.Config(method, e.keyPath)
}

func (e *testEnv) open(method ctr.Method, opts ...Option) *Manager {
	e.t.Helper()
	m, err := Open(context.Background(), e.dir, e.config(method), append([]Option{WithClock(e.Now)}, opts...)...)
	if err != nil {
		e.t.Fatalf("open with %s: %v", method, err)
	}
	return m
}

func writeFile(t *testing.T, m *Manager, name string, data []byte) {
	t.Helper()
	f, err := m.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// wantReadBack fails the test unless name reads back as want; when says
// at which point of the test.
func wantReadBack(t *testing.T, m *Manager, name string, want []byte, when string) {
	t.Helper()
	if got := readFile(t, m, name); !bytes.Equal(got, want) {
		t.Fatalf("%s does not read back %s", name, when)
	}
}

func readFile(t *testing.T, m *Manager, name string) []byte {
	t.Helper()
	f, err := m.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func content(name string, n int) []byte {
	b := bytes.Repeat([]byte(name+"|"), n/(len(name)+1)+1)
	return b[:n]
}

func TestCreateReadEveryMethod(t *testing.T) {
	for _, method := range ctr.Methods {
		t.Run(method.String(), func(t *testing.T) {
			env := newEnv(t)
			m := env.open(method)
			data := content("hello-"+method.String(), 10000)
			writeFile(t, m, "000001.sst", data)
			if got := readFile(t, m, "000001.sst"); !bytes.Equal(got, data) {
				t.Fatal("read back differs")
			}
			raw, _ := os.ReadFile(filepath.Join(env.dir, "000001.sst"))
			if len(raw) != len(data) {
				t.Fatalf("size on disk %d, want %d: CTR adds no bytes", len(raw), len(data))
			}
			if (method == ctr.Plaintext) != bytes.Equal(raw, data) {
				t.Fatalf("on-disk bytes plaintext=%v for %s", bytes.Equal(raw, data), method)
			}
			e, ok, err := m.Lookup("000001.sst")
			if method == ctr.Plaintext {
				if ok || m.Encrypted() {
					t.Fatalf("a never-encrypted directory got an entry %+v", e)
				}
				if _, err := os.Stat(filepath.Join(env.dir, KeyDictName)); err == nil {
					t.Fatal("dictionaries created for plaintext")
				}
			} else if err != nil || !ok || e.Method != method || e.KeyID == 0 {
				t.Fatalf("entry %+v %v %v", e, ok, err)
			}
			m.Close()
			m = env.open(method)
			defer m.Close()
			if got := readFile(t, m, filepath.Join(env.dir, "000001.sst")); !bytes.Equal(got, data) {
				t.Fatal("read back after reopen differs")
			}
		})
	}
}

// Switching method across restarts, for every ordered pair: old files stay
// readable, new files use the new method.
func TestMethodSwitching(t *testing.T) {
	for _, a := range ctr.Methods {
		for _, b := range ctr.Methods {
			if a == b {
				continue
			}
			t.Run(a.String()+"->"+b.String(), func(t *testing.T) {
				env := newEnv(t)
				m := env.open(a)
				writeFile(t, m, "a", content("a", 3000))
				m.Close()
				m = env.open(b)
				writeFile(t, m, "b", content("b", 3000))
				e, ok, _ := m.Lookup("b")
				if b != ctr.Plaintext && (!ok || e.Method != b) {
					t.Fatalf("new file entry %+v %v", e, ok)
				}
				if b == ctr.Plaintext && ok && e.Method != ctr.Plaintext {
					t.Fatalf("new file under plaintext has entry %+v", e)
				}
				m.Close()
				m = env.open(a)
				defer m.Close()
				for _, name := range []string{"a", "b"} {
					if got := readFile(t, m, name); !bytes.Equal(got, content(name, 3000)) {
						t.Fatalf("%s unreadable after switching", name)
					}
				}
			})
		}
	}
}

// The TiKV sequence: plaintext → aes128 → sm4 → aes256 → plaintext.
func TestMethodSequence(t *testing.T) {
	env := newEnv(t)
	seq := []ctr.Method{ctr.Plaintext, ctr.AES128CTR, ctr.SM4CTR, ctr.AES256CTR, ctr.Plaintext}
	for i, method := range seq {
		m := env.open(method)
		writeFile(t, m, fmt.Sprintf("f%d", i), content(fmt.Sprint(i), 5000+i))
		for j := 0; j <= i; j++ {
			if got := readFile(t, m, fmt.Sprintf("f%d", j)); !bytes.Equal(got, content(fmt.Sprint(j), 5000+j)) {
				t.Fatalf("after switching to %s, f%d unreadable", method, j)
			}
		}
		m.Close()
	}
}

func TestDataKeyRotation(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES256CTR)
	writeFile(t, m, "old", content("old", 100))
	oldEntry, _, _ := m.Lookup("old")
	env.Advance(8 * 24 * time.Hour) // past the 7-day period
	writeFile(t, m, "new", content("new", 100))
	newEntry, _, _ := m.Lookup("new")
	if newEntry.KeyID == oldEntry.KeyID {
		t.Fatal("no rotation after the period")
	}
	ids, current := m.DataKeys()
	if current != newEntry.KeyID || len(ids) != 2 {
		t.Fatalf("keys %v current %d", ids, current)
	}
	if got := readFile(t, m, "old"); !bytes.Equal(got, content("old", 100)) {
		t.Fatal("old file unreadable after rotation")
	}
	// The old key goes with its last file.
	if err := m.Remove("old"); err != nil {
		t.Fatal(err)
	}
	if ids, _ := m.DataKeys(); len(ids) != 1 || ids[0] != newEntry.KeyID {
		t.Fatalf("keys after removing the last file of the old key: %v", ids)
	}
	// Forced rotation, and its survival across a restart.
	if err := m.RotateDataKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, cur := m.DataKeys()
	m.Close()
	m = env.open(ctr.AES256CTR)
	defer m.Close()
	if _, cur2 := m.DataKeys(); cur2 != cur {
		t.Fatalf("current key %d after reopen, want %d", cur2, cur)
	}
	if got := readFile(t, m, "new"); !bytes.Equal(got, content("new", 100)) {
		t.Fatal("file unreadable after reopen")
	}
}

// A changed method rotates the key at open.
func TestRotationOnMethodChange(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	_, first := m.DataKeys()
	m.Close()
	m = env.open(ctr.SM4CTR)
	defer m.Close()
	_, second := m.DataKeys()
	if first == second {
		t.Fatal("method changed, key did not")
	}
	if ids, _ := m.DataKeys(); len(ids) != 1 {
		t.Fatalf("unused AES key kept: %v", ids)
	}
}

// Keys stored under a plaintext master key are replaced once the master
// key is secure again.
func TestExposedKeyRotated(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	writeFile(t, m, "f", content("f", 64))
	_, first := m.DataKeys()
	m.Close()
	// Encryption off and the master key made plaintext: allowed.
	c := env.config(ctr.Plaintext)
	c.MasterKey = keyenv.MasterKeyConfig{Type: keyenv.KindPlaintext}
	c.PreviousMasterKey = &keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: env.keyPath}
	m, err := Open(context.Background(), env.dir, c, WithClock(env.Now))
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	// Back on, with the secure key: the exposed key is no longer current.
	c = env.config(ctr.AES128CTR)
	c.PreviousMasterKey = &keyenv.MasterKeyConfig{Type: keyenv.KindPlaintext}
	m, err = Open(context.Background(), env.dir, c, WithClock(env.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, cur := m.DataKeys(); cur == first {
		t.Fatal("the exposed key is still current")
	}
	if got := readFile(t, m, "f"); !bytes.Equal(got, content("f", 64)) {
		t.Fatal("old file unreadable")
	}
}

func TestRenameLinkRemove(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.SM4CTR)
	defer m.Close()
	writeFile(t, m, "a", content("a", 1000))
	writeFile(t, m, "b", content("b", 2000))
	// Rename over an existing file.
	if err := m.Rename("a", "b"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, m, "b"); !bytes.Equal(got, content("a", 1000)) {
		t.Fatal("renamed file differs")
	}
	if _, ok, _ := m.Lookup("a"); ok {
		t.Fatal("old name keeps its entry")
	}
	// Link: the new name shares key and IV.
	if err := m.Link("b", "c"); err != nil {
		t.Fatal(err)
	}
	eb, _, _ := m.Lookup("b")
	ec, _, _ := m.Lookup("c")
	if eb != ec {
		t.Fatalf("link entries differ: %+v %+v", eb, ec)
	}
	if got := readFile(t, m, "c"); !bytes.Equal(got, content("a", 1000)) {
		t.Fatal("linked file differs")
	}
	// Link onto an existing name fails and leaves that file alone.
	writeFile(t, m, "d", content("d", 500))
	ed, _, _ := m.Lookup("d")
	if err := m.Link("b", "d"); !errors.Is(err, os.ErrExist) {
		t.Fatalf("link onto an existing name: %v", err)
	}
	if e, _, _ := m.Lookup("d"); e != ed {
		t.Fatal("link onto an existing name changed its entry")
	}
	if got := readFile(t, m, "d"); !bytes.Equal(got, content("d", 500)) {
		t.Fatal("link onto an existing name damaged it")
	}
	// Renaming one name of a file onto another of its names does nothing,
	// as rename(2): both names stay readable.
	if err := m.Rename("c", "b"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b", "c"} {
		if got := readFile(t, m, name); !bytes.Equal(got, content("a", 1000)) {
			t.Fatalf("%s unreadable after renaming between links", name)
		}
	}
	// Truncating one name of a linked file gives that name a new file;
	// the other name keeps the old content.
	writeFile(t, m, "c", content("new c", 300))
	if got := readFile(t, m, "b"); !bytes.Equal(got, content("a", 1000)) {
		t.Fatal("truncating a link damaged the other name")
	}
	if got := readFile(t, m, "c"); !bytes.Equal(got, content("new c", 300)) {
		t.Fatal("truncated link differs")
	}
	// Remove: the file, then the entry; twice is a not-exist error and
	// no harm.
	if err := m.Remove("c"); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("c"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("second remove: %v", err)
	}
	if _, ok, _ := m.Lookup("c"); ok {
		t.Fatal("entry survives remove")
	}
	if got := readFile(t, m, "b"); !bytes.Equal(got, content("a", 1000)) {
		t.Fatal("removing a link damaged the other name")
	}
}

func TestReuseForWrite(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	writeFile(t, m, "000001.log", content("old wal", 8192))
	before, _, _ := m.Lookup("000001.log")
	f, err := m.ReuseForWrite("000001.log", "000002.log")
	if err != nil {
		t.Fatal(err)
	}
	after, ok, _ := m.Lookup("000002.log")
	if !ok || after.IV == before.IV {
		t.Fatal("reused file kept its IV")
	}
	if _, ok, _ := m.Lookup("000001.log"); ok {
		t.Fatal("old name kept its entry")
	}
	if _, err := f.Write(content("new wal", 100)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got := readFile(t, m, "000002.log")
	if !bytes.Equal(got[:100], content("new wal", 100)) || len(got) != 8192 {
		t.Fatalf("reused file: %d bytes, head %q", len(got), got[:10])
	}
}

func TestDirectories(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES256CTR)
	defer m.Close()
	os.MkdirAll(filepath.Join(env.dir, "db", "sub"), 0o755)
	writeFile(t, m, "db/x", content("x", 100))
	writeFile(t, m, "db/sub/y", content("y", 100))
	writeFile(t, m, "dbz", content("z", 100)) // same prefix, not inside
	if err := m.Rename("db", "db2"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"db2/x", "db2/sub/y"} {
		if got := readFile(t, m, name); !bytes.Equal(got, content(filepath.Base(name), 100)) {
			t.Fatalf("%s unreadable after the directory rename", name)
		}
	}
	if _, ok, _ := m.Lookup("db/x"); ok {
		t.Fatal("entries under the old directory name remain")
	}
	if err := m.RemoveAll("db2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.Lookup("db2/sub/y"); ok {
		t.Fatal("entries survive RemoveAll")
	}
	if got := readFile(t, m, "dbz"); !bytes.Equal(got, content("z", 100)) {
		t.Fatal("RemoveAll of db2 touched dbz")
	}
}

func TestPathsAndRefusals(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	writeFile(t, m, filepath.Join(env.dir, "abs"), content("abs", 10))
	if _, ok, _ := m.Lookup("abs"); !ok {
		t.Fatal("absolute path not stored relative")
	}
	for _, tt := range []struct {
		name string
		want error
	}{
		{"../outside", ErrOutsideDir},
		{filepath.Join(filepath.Dir(env.dir), "x"), ErrOutsideDir},
		{KeyDictName, ErrReserved},
		{"./" + FileDictName, ErrReserved},
		{FileDictName + ".tmp-123", ErrReserved},
		{".key.dict.tmp-abc", ErrReserved},
		{".", ErrDataDir},
		{env.dir, ErrDataDir},
	} {
		if _, err := m.Create(tt.name); !errors.Is(err, tt.want) {
			t.Errorf("create %s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := m.RemoveAll(env.dir); !errors.Is(err, ErrDataDir) {
		t.Errorf("RemoveAll of the data directory: %v, want ErrDataDir", err)
	}
	if err := m.Rename(".", "../elsewhere"); !errors.Is(err, ErrDataDir) {
		t.Errorf("rename of the data directory: %v, want ErrDataDir", err)
	}
	if _, err := os.Stat(filepath.Join(env.dir, KeyDictName)); err != nil {
		t.Errorf("the key dictionary is gone: %v", err)
	}
	if _, err := m.OpenFile("x", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); !errors.Is(err, ErrAppendUnsupported) {
		t.Errorf("O_APPEND: %v", err)
	}
	// The directory can be moved: entries are relative.
	m.Close()
	moved := filepath.Join(filepath.Dir(env.dir), "moved")
	if err := os.Rename(env.dir, moved); err != nil {
		t.Fatal(err)
	}
	env.dir = moved
	m = env.open(ctr.AES128CTR)
	if got := readFile(t, m, "abs"); !bytes.Equal(got, content("abs", 10)) {
		t.Fatal("unreadable after moving the data directory")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create("after-close"); !errors.Is(err, ErrClosed) {
		t.Fatalf("create after close: %v", err)
	}
}

func TestMissingDictionaries(t *testing.T) {
	ctx := context.Background()
	t.Run("missing key dictionary", func(t *testing.T) {
		env := newEnv(t)
		m := env.open(ctr.AES128CTR)
		writeFile(t, m, "f", content("f", 10))
		m.Close()
		os.Remove(filepath.Join(env.dir, KeyDictName))
		_, err := Open(ctx, env.dir, env.config(ctr.AES128CTR))
		if !errors.Is(err, ErrMissingKeyDictionary) {
			t.Fatalf("%v", err)
		}
		if _, err := os.Stat(filepath.Join(env.dir, "f")); err != nil {
			t.Fatal("file touched")
		}
	})
	t.Run("missing file dictionary", func(t *testing.T) {
		env := newEnv(t)
		env.open(ctr.AES128CTR).Close()
		os.Remove(filepath.Join(env.dir, FileDictName))
		_, err := Open(ctx, env.dir, env.config(ctr.AES128CTR))
		if !errors.Is(err, ErrMissingFileDictionary) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("empty orphan file dictionary", func(t *testing.T) {
		env := newEnv(t)
		env.open(ctr.AES128CTR).Close()
		os.Remove(filepath.Join(env.dir, KeyDictName)) // as if the first start crashed
		m := env.open(ctr.AES128CTR)
		defer m.Close()
		writeFile(t, m, "f", content("f", 10))
		if got := readFile(t, m, "f"); !bytes.Equal(got, content("f", 10)) {
			t.Fatal("unreadable")
		}
	})
	t.Run("wrong master key", func(t *testing.T) {
		env := newEnv(t)
		m := env.open(ctr.AES128CTR)
		writeFile(t, m, "f", content("f", 10))
		m.Close()
		keyBefore, _ := os.ReadFile(filepath.Join(env.dir, KeyDictName))
		os.WriteFile(env.keyPath, []byte(strings.Repeat("77", 32)+"\n"), 0o600)
		_, err := Open(ctx, env.dir, env.config(ctr.AES128CTR))
		if !errors.Is(err, keyenv.ErrWrongMasterKey) {
			t.Fatalf("%v", err)
		}
		keyAfter, _ := os.ReadFile(filepath.Join(env.dir, KeyDictName))
		if !bytes.Equal(keyBefore, keyAfter) {
			t.Fatal("key dictionary changed by a failed open")
		}
	})
}

// TestWithExistingDictionaries: opened WithExistingDictionaries, a data
// directory with both dictionaries opens as usual, and any other is refused
// with ErrNotInitialized (a single dictionary also with the error naming
// it) before the master keys are opened, and left exactly as it was.
func TestWithExistingDictionaries(t *testing.T) {
	// Each setup leaves a data file, encrypted or not, beside whatever it
	// leaves of the dictionaries.
	encrypted := func(t *testing.T, env *testEnv) {
		m := env.open(ctr.AES128CTR)
		writeFile(t, m, "f", content("f", 10))
		m.Close()
	}
	plainOnly := func(t *testing.T, env *testEnv) { writeRaw(t, env, "f") }
	// What a first start that crashed between its two dictionaries leaves.
	crashedFirstStart := func(t *testing.T, env *testEnv) {
		env.open(ctr.AES128CTR).Close()
		if err := os.Remove(filepath.Join(env.dir, KeyDictName)); err != nil {
			t.Fatal(err)
		}
		writeRaw(t, env, "f")
	}
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, env *testEnv)
		method ctr.Method
		opts   []Option
		// noKey: the master key file is missing, so only a check made
		// before opening it can give the error wanted.
		noKey bool
		want  []error // nil: opens
	}{
		{name: "both present", setup: encrypted, method: ctr.AES128CTR},
		{name: "both present, inspecting", setup: encrypted, method: ctr.AES128CTR, opts: []Option{WithInspection()}},
		{name: "neither present", setup: plainOnly, method: ctr.AES128CTR,
			want: []error{ErrNotInitialized}},
		{name: "neither present, plaintext method", setup: plainOnly, method: ctr.Plaintext,
			want: []error{ErrNotInitialized}},
		{name: "neither present, inspecting", setup: plainOnly, method: ctr.AES128CTR,
			opts: []Option{WithInspection()}, want: []error{ErrNotInitialized}},
		{name: "neither present, no master key", setup: plainOnly, method: ctr.AES128CTR,
			noKey: true, want: []error{ErrNotInitialized}},
		{name: "key dictionary only", method: ctr.AES128CTR, setup: func(t *testing.T, env *testEnv) {
			encrypted(t, env)
			if err := os.Remove(filepath.Join(env.dir, FileDictName)); err != nil {
				t.Fatal(err)
			}
		}, want: []error{ErrNotInitialized, ErrMissingFileDictionary}},
		{name: "file dictionary only, recording files", method: ctr.AES128CTR, setup: func(t *testing.T, env *testEnv) {
			encrypted(t, env)
			if err := os.Remove(filepath.Join(env.dir, KeyDictName)); err != nil {
				t.Fatal(err)
			}
		}, want: []error{ErrNotInitialized, ErrMissingKeyDictionary}},
		// Without the option, Open removes the empty file dictionary and
		// starts again; with it, that is refused like any creation.
		{name: "file dictionary only, empty", setup: crashedFirstStart, method: ctr.AES128CTR,
			want: []error{ErrNotInitialized, ErrMissingKeyDictionary}},
		{name: "file dictionary only, empty, plaintext method", setup: crashedFirstStart, method: ctr.Plaintext,
			want: []error{ErrNotInitialized, ErrMissingKeyDictionary}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			tc.setup(t, env)
			cfg := env.config(tc.method)
			if tc.noKey {
				cfg.MasterKey.Path = filepath.Join(t.TempDir(), "nosuch.key")
			}
			before := dirContents(t, env.dir)
			m, err := Open(context.Background(), env.dir, cfg, append([]Option{WithExistingDictionaries()}, tc.opts...)...)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if !m.Encrypted() {
					t.Error("opened as never encrypted")
				}
				if got := readFile(t, m, "f"); !bytes.Equal(got, content("f", 10)) {
					t.Error("f reads back wrong")
				}
				return
			}
			if err == nil {
				m.Close()
				t.Fatal("opened")
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q does not match %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), env.dir) {
				t.Errorf("error %q does not name the directory", err)
			}
			if after := dirContents(t, env.dir); !maps.Equal(before, after) {
				t.Errorf("a refused open changed the directory:\n%v\nbecame\n%v", before, after)
			}
		})
	}
}

// writeRaw writes a data file behind the Manager's back, as a plaintext
// file written before encryption was turned on.
func writeRaw(t *testing.T, env *testEnv, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(env.dir, name), content(name, 10), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dirContents maps every file under dir (relative path) to its content.
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// enable-file-dictionary-log = false writes version 1; true goes back to 3,
// the log format (fileOptions asks for 2, which means 3).
func TestFileDictionaryVersions(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	writeFile(t, m, "f", content("f", 10))
	m.Close()
	for _, logOn := range []bool{false, true, false} {
		c := env.config(ctr.AES128CTR)
		c.EnableFileDictionaryLog = logOn
		m, err := Open(context.Background(), env.dir, c)
		if err != nil {
			t.Fatal(err)
		}
		st := m.files.Stats()
		want := 1
		if logOn {
			want = 3
		}
		if st.Version != want {
			t.Fatalf("log=%v: version %d", logOn, st.Version)
		}
		if got := readFile(t, m, "f"); !bytes.Equal(got, content("f", 10)) {
			t.Fatal("unreadable after a format change")
		}
		m.Close()
	}
}

// Many goroutines creating, writing, renaming and removing files while
// the data key rotates (run with -race).
func TestConcurrentOperations(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				name := fmt.Sprintf("g%d-%d", g, i)
				data := content(name, 777)
				f, err := m.Create(name)
				if err != nil {
					errs <- err
					return
				}
				f.Write(data)
				f.Close()
				if i%3 == 0 {
					if err := m.Rename(name, name+".r"); err != nil {
						errs <- err
						return
					}
					name += ".r"
				}
				f, err = m.Open(name)
				if err != nil {
					errs <- err
					return
				}
				got, _ := io.ReadAll(f)
				f.Close()
				if !bytes.Equal(got, data) {
					errs <- fmt.Errorf("%s differs", name)
					return
				}
				if i%2 == 0 {
					if err := m.Remove(name); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 5 {
			if err := m.RotateDataKey(context.Background()); err != nil {
				errs <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every key that files use is still there.
	ids, _ := m.DataKeys()
	have := map[uint64]bool{}
	for _, id := range ids {
		have[id] = true
	}
	m.files.Range(func(name string, e Entry) bool {
		if e.Method != ctr.Plaintext && !have[e.KeyID] {
			t.Errorf("%s uses dropped key %d", name, e.KeyID)
		}
		return true
	})
}

// Every open takes the name locks: they must not allocate.
func TestLockNamesAllocatesNothing(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	if n := testing.AllocsPerRun(100, func() { m.lockNames("a", "b").unlock(); m.lockNames("c", "c").unlock() }); n != 0 {
		t.Fatalf("%v allocations per lockNames", n)
	}
}
