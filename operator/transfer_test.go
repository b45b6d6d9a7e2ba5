package operator

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/dict/exportdoc"
	"github.com/atrest/atrest/dict/keydict"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/internal/dicttest"
	"github.com/atrest/atrest/keyenv"
)

// transferEnv is a data directory whose master key file holds hexKey.
func transferEnv(t *testing.T, hexKey string) *testEnv {
	t.Helper()
	e := newEnv(t)
	if err := os.WriteFile(e.keyPath, []byte(hexKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

var (
	srcHexKey = strings.Repeat("5c", 32)
	dstHexKey = strings.Repeat("7e", 32)
)

// exportSource is a data directory with files under an AES-256 key, files
// under an SM4 key (the method changed at a reopen) and a plaintext file.
type exportSource struct {
	env   *testEnv
	m     *dict.Manager
	files map[string][]byte // relative name → content
}

func newExportSource(t *testing.T) *exportSource {
	t.Helper()
	env := transferEnv(t, srcHexKey)
	s := &exportSource{env: env, files: map[string][]byte{}}
	m := env.open(ctr.AES256CTR)
	s.write(t, m, "a.sst", content("a.sst", 5000))
	s.write(t, m, "sub/b.sst", content("sub/b.sst", 70000))
	m.Close()
	s.m = env.open(ctr.SM4CTR) // the method changed: a new current SM4 key
	t.Cleanup(func() { s.m.Close() })
	s.write(t, s.m, "sub/c.log", content("sub/c.log", 1234))
	s.write(t, s.m, "empty.sst", nil)
	s.files["plain.txt"] = []byte("written before encryption was turned on")
	if err := os.WriteFile(filepath.Join(env.dir, "plain.txt"), s.files["plain.txt"], 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *exportSource) write(t *testing.T, m *dict.Manager, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(s.env.dir, filepath.Dir(filepath.FromSlash(name))), 0o755); err != nil {
		t.Fatal(err)
	}
	dicttest.WriteFile(t, m, name, data)
	s.files[name] = data
}

func (s *exportSource) names() []string {
	names := make([]string, 0, len(s.files))
	for n := range s.files {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// export exports every file of the source.
func (s *exportSource) export(t *testing.T) (doc, transferKey []byte) {
	t.Helper()
	var buf bytes.Buffer
	key, err := Export(context.Background(), s.m, s.names(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), key
}

// copyFiles copies the named files from one data directory to another at
// the same relative paths under dstPrefix, as an operator would.
func copyFiles(t *testing.T, srcDir, dstDir, dstPrefix string, names []string) {
	t.Helper()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(srcDir, filepath.FromSlash(n)))
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dstDir, filepath.FromSlash(dstPrefix), filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// dirState is what an import that fails must leave as it was.
type dirState struct {
	keyDict, fileDict []byte
	keys              []uint64
	current           uint64
	entries           map[string]dict.Entry
}

func stateOf(t *testing.T, m *dict.Manager) dirState {
	t.Helper()
	var s dirState
	s.keyDict, _ = os.ReadFile(keyPath(m))
	s.fileDict, _ = os.ReadFile(filepath.Join(m.Dir(), dict.FileDictName))
	s.keys, s.current = m.DataKeys()
	s.entries = map[string]dict.Entry{}
	for name, e := range m.Maintenance().Entries() {
		s.entries[name] = e
	}
	return s
}

func (s dirState) check(t *testing.T, m *dict.Manager) {
	t.Helper()
	now := stateOf(t, m)
	switch {
	case !bytes.Equal(now.keyDict, s.keyDict):
		t.Fatal("the key dictionary file changed")
	case !bytes.Equal(now.fileDict, s.fileDict):
		t.Fatal("the file dictionary file changed")
	case !slices.Equal(now.keys, s.keys) || now.current != s.current:
		t.Fatalf("data keys %v (current %d), were %v (current %d)", now.keys, now.current, s.keys, s.current)
	case len(now.entries) != len(s.entries):
		t.Fatalf("%d entries, were %d", len(now.entries), len(s.entries))
	}
	for n, e := range s.entries {
		if now.entries[n] != e {
			t.Fatalf("the entry of %s changed", n)
		}
	}
}

// TestExportImportRoundTrip moves files under AES and SM4 keys and a
// plaintext file to a directory with another master key, reads them back
// there, and again after a reopen.
func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := newExportSource(t)
	// Names as the Manager takes them: relative, absolute, given twice.
	names := append(src.names(), filepath.Join(src.env.dir, "sub", "b.sst"), "a.sst")
	var buf bytes.Buffer
	transferKey, err := Export(ctx, src.m, names, &buf)
	if err != nil {
		t.Fatal(err)
	}
	doc := buf.Bytes()
	srcKeys, _ := src.m.DataKeys()
	if len(srcKeys) != 2 {
		t.Fatalf("source has %d data keys, want 2 (AES-256 and SM4)", len(srcKeys))
	}
	for _, id := range srcKeys {
		if bytes.Contains(doc, keyBytes(t, src.m, id)) {
			t.Fatalf("data key %d is in the document in the clear", id)
		}
	}

	dstEnv := transferEnv(t, dstHexKey)
	dst := dstEnv.open(ctr.AES128CTR)
	dicttest.WriteFile(t, dst, "own.sst", content("own.sst", 3000))
	ownKeys, _ := dst.DataKeys()
	copyFiles(t, src.env.dir, dstEnv.dir, "", src.names())

	got, err := Import(ctx, dst, bytes.NewReader(doc), transferKey)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, src.names()) {
		t.Fatalf("Import returned %v, want %v", got, src.names())
	}
	check := func(m *dict.Manager) {
		t.Helper()
		for name, want := range src.files {
			if b := readFile(t, m, name); !bytes.Equal(b, want) {
				t.Fatalf("%s reads back %d bytes, not the %d written", name, len(b), len(want))
			}
			se, sok, _ := src.m.Lookup(name)
			de, dok, _ := m.Lookup(name)
			if sok != dok || se.Method != de.Method || se.IV != de.IV {
				t.Fatalf("%s: entry %+v %v here, %+v %v at the source", name, de, dok, se, sok)
			}
			if sok {
				// The ids were free here, so they were kept.
				if se.KeyID != de.KeyID {
					t.Fatalf("%s: key id %d, was %d at the source", name, de.KeyID, se.KeyID)
				}
				sk, _ := src.m.Maintenance().DataKey(se.KeyID)
				dk, _ := m.Maintenance().DataKey(de.KeyID)
				if !dk.Created.Equal(sk.Created) || dk.Exposed != sk.Exposed || dk.Method != sk.Method {
					t.Fatalf("%s: key %+v, was %+v", name, dk, sk)
				}
			}
		}
		if b := readFile(t, m, "own.sst"); !bytes.Equal(b, content("own.sst", 3000)) {
			t.Fatal("the destination's own file changed")
		}
		keys, _ := m.DataKeys()
		if len(keys) != len(ownKeys)+len(srcKeys) {
			t.Fatalf("%d data keys, want %d", len(keys), len(ownKeys)+len(srcKeys))
		}
	}
	check(dst)
	if e, ok, _ := dst.Lookup("plain.txt"); ok {
		t.Fatalf("the plaintext file got an entry %+v", e)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}

	// The keys are in the destination's key dictionary, sealed by its own
	// master key: a reopen reads everything again, and the source's master
	// key does not open that dictionary.
	dst = dstEnv.open(ctr.AES128CTR)
	defer dst.Close()
	check(dst)
	srcMK := &keyenv.MasterKeys{Current: mustKeyFile(t, src.env.keyPath)}
	if _, _, err := keydict.Load(ctx, fsys.OS(), keyPath(dst), srcMK); !errors.Is(err, keyenv.ErrWrongMasterKey) {
		t.Fatalf("the source's master key on the destination's key dictionary: %v", err)
	}
}

func mustKeyFile(t *testing.T, path string) keyenv.Backend {
	t.Helper()
	b, err := keyenv.OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestExportTransferKeyIsFreshAndRandom(t *testing.T) {
	src := newExportSource(t)
	doc1, key1 := src.export(t)
	doc2, key2 := src.export(t)
	if len(key1) != TransferKeySize || len(key2) != TransferKeySize || TransferKeySize != 32 {
		t.Fatalf("transfer keys of %d and %d bytes", len(key1), len(key2))
	}
	if bytes.Equal(key1, key2) {
		t.Fatal("two exports gave the same transfer key")
	}
	if bytes.Equal(key1, make([]byte, 32)) {
		t.Fatal("a zero transfer key")
	}
	if bytes.Equal(doc1, doc2) {
		t.Fatal("two exports gave the same document")
	}
	if bytes.Contains(doc1, key1) {
		t.Fatal("the transfer key is in the document")
	}
	// Each document opens with its own key only.
	if d, err := exportdoc.Open(doc1, key1); err != nil {
		t.Fatal(err)
	} else {
		d.Release()
	}
	if _, err := exportdoc.Open(doc1, key2); !errors.Is(err, ErrTransferKey) {
		t.Fatalf("the other export's key: %v", err)
	}
}

// importTarget is a destination with its own file and the source's files
// copied in, and its state before any import.
func importTarget(t *testing.T, src *exportSource) (*testEnv, *dict.Manager, dirState) {
	t.Helper()
	env := transferEnv(t, dstHexKey)
	m := env.open(ctr.AES128CTR)
	t.Cleanup(func() { m.Close() })
	dicttest.WriteFile(t, m, "own.sst", content("own.sst", 3000))
	copyFiles(t, src.env.dir, env.dir, "", src.names())
	return env, m, stateOf(t, m)
}

func TestImportWrongTransferKey(t *testing.T) {
	src := newExportSource(t)
	doc, key := src.export(t)
	_, dst, before := importTarget(t, src)
	other := make([]byte, TransferKeySize)
	rand.Read(other)
	flipped := bytes.Clone(key)
	flipped[31] ^= 1
	for _, tc := range []struct {
		name string
		key  []byte
	}{
		{"another random key", other},
		{"one bit off", flipped},
		{"zero key", make([]byte, TransferKeySize)},
		{"too short", key[:16]},
		{"too long", append(bytes.Clone(key), 0)},
		{"none", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Import(context.Background(), dst, bytes.NewReader(doc), tc.key)
			if !errors.Is(err, ErrTransferKey) {
				t.Fatalf("Import = %v, want ErrTransferKey", err)
			}
			before.check(t, dst)
			for _, n := range src.names() {
				if _, ok, _ := dst.Lookup(n); ok {
					t.Fatalf("%s got an entry", n)
				}
			}
		})
	}
	// The right key still works afterwards.
	if _, err := Import(context.Background(), dst, bytes.NewReader(doc), key); err != nil {
		t.Fatal(err)
	}
}

// TestImportTamper flips every byte of a document in turn, then cuts it at
// every length: each fails cleanly, with the error of the field hit, and
// nothing changes.
func TestImportTamper(t *testing.T) {
	src := newExportSource(t)
	doc, key := src.export(t)
	_, dst, before := importTarget(t, src)
	ctx := context.Background()
	if len(doc) > 4096 {
		t.Fatalf("a %d-byte document: the loop below would be slow", len(doc))
	}
	want := func(pos int) error {
		switch {
		case pos < 4:
			return ErrCorruptExport // magic
		case pos == 4:
			return ErrExportVersion
		case pos < 13:
			return ErrTransferKey // the key check: it no longer matches the key
		}
		return ErrCorruptExport
	}
	bad := bytes.Clone(doc)
	for pos := range doc {
		bad[pos] ^= 1 << (pos % 8)
		names, err := Import(ctx, dst, bytes.NewReader(bad), key)
		bad[pos] = doc[pos]
		if !errors.Is(err, want(pos)) {
			t.Fatalf("byte %d flipped: Import = %v, %v; want %v", pos, names, err, want(pos))
		}
	}
	for n := range doc {
		if _, err := Import(ctx, dst, bytes.NewReader(doc[:n]), key); !errors.Is(err, ErrCorruptExport) {
			t.Fatalf("cut at %d of %d bytes: %v", n, len(doc), err)
		}
	}
	if _, err := Import(ctx, dst, bytes.NewReader(append(bytes.Clone(doc), 0)), key); !errors.Is(err, ErrCorruptExport) {
		t.Fatalf("a byte appended: %v", err)
	}
	before.check(t, dst)
	if _, err := Import(ctx, dst, bytes.NewReader(doc), key); err != nil {
		t.Fatalf("the intact document after all that: %v", err)
	}
}

func TestImportFutureVersion(t *testing.T) {
	src := newExportSource(t)
	doc, key := src.export(t)
	_, dst, before := importTarget(t, src)
	doc[4] = 2
	_, err := Import(context.Background(), dst, bytes.NewReader(doc), key)
	if !errors.Is(err, ErrExportVersion) || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("Import = %v, want ErrExportVersion naming version 2", err)
	}
	before.check(t, dst)
}

func TestImportNotAnExport(t *testing.T) {
	src := newExportSource(t)
	_, key := src.export(t)
	_, dst, before := importTarget(t, src)
	for _, in := range []string{"", "ATE", "hello, world", string(make([]byte, 100))} {
		if _, err := Import(context.Background(), dst, strings.NewReader(in), key); !errors.Is(err, ErrCorruptExport) {
			t.Fatalf("%q: %v", in, err)
		}
	}
	defer func(n int) { maxExportBytes = n }(maxExportBytes)
	maxExportBytes = 1 << 10
	big := io.MultiReader(strings.NewReader("ATEX\x01"), io.LimitReader(zeroReader{}, int64(maxExportBytes)))
	if _, err := Import(context.Background(), dst, big, key); !errors.Is(err, ErrCorruptExport) || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("an oversized document: %v", err)
	}
	readErr := errors.New("disk on fire")
	if _, err := Import(context.Background(), dst, io.MultiReader(strings.NewReader("AT"), errReader{readErr}), key); !errors.Is(err, readErr) {
		t.Fatalf("a failing reader: %v", err)
	}
	before.check(t, dst)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestImportConflicts: a destination that is missing, of another size or
// already recorded refuses the whole import and changes nothing.
func TestImportConflicts(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string, m *dict.Manager)
	}{
		{"missing file", func(t *testing.T, dir string, m *dict.Manager) {
			os.Remove(filepath.Join(dir, "sub", "c.log"))
		}},
		{"missing plaintext file", func(t *testing.T, dir string, m *dict.Manager) {
			os.Remove(filepath.Join(dir, "plain.txt"))
		}},
		{"incomplete copy", func(t *testing.T, dir string, m *dict.Manager) {
			os.Truncate(filepath.Join(dir, "sub", "b.sst"), 1000)
		}},
		{"a directory", func(t *testing.T, dir string, m *dict.Manager) {
			os.Remove(filepath.Join(dir, "empty.sst"))
			os.Mkdir(filepath.Join(dir, "empty.sst"), 0o755)
		}},
		{"name already recorded", func(t *testing.T, dir string, m *dict.Manager) {
			dicttest.WriteFile(t, m, "a.sst", content("another", 5000))
		}},
		{"plaintext name already recorded", func(t *testing.T, dir string, m *dict.Manager) {
			dicttest.WriteFile(t, m, "plain.txt", content("another", len("written before encryption was turned on")))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newExportSource(t)
			doc, key := src.export(t)
			env, dst, _ := importTarget(t, src)
			tc.setup(t, env.dir, dst)
			before := stateOf(t, dst)
			_, err := Import(ctx, dst, bytes.NewReader(doc), key)
			if !errors.Is(err, ErrImportConflict) {
				t.Fatalf("Import = %v, want ErrImportConflict", err)
			}
			t.Log(err)
			before.check(t, dst)
		})
	}
}

// TestImportTwice: a second import of the same document is a conflict and
// changes nothing; with ImportResume it is taken as done.
func TestImportTwice(t *testing.T) {
	ctx := context.Background()
	src := newExportSource(t)
	doc, key := src.export(t)
	_, dst, _ := importTarget(t, src)
	if _, err := Import(ctx, dst, bytes.NewReader(doc), key); err != nil {
		t.Fatal(err)
	}
	after := stateOf(t, dst)
	if _, err := Import(ctx, dst, bytes.NewReader(doc), key); !errors.Is(err, ErrImportConflict) {
		t.Fatalf("the second import: %v", err)
	}
	after.check(t, dst)
	names, err := Import(ctx, dst, bytes.NewReader(doc), key, ImportResume())
	if err != nil || !slices.Equal(names, src.names()) {
		t.Fatalf("the second import with ImportResume: %v, %v", names, err)
	}
	after.check(t, dst)
}

// TestImportResumeAfterCrash: a crash while recording entries leaves some
// files imported; the next open drops the keys only the others needed,
// a plain retry is a conflict, and ImportResume finishes the job.
func TestImportResumeAfterCrash(t *testing.T) {
	ctx := context.Background()
	src := newExportSource(t)
	doc, key := src.export(t)
	env, dst, before := importTarget(t, src)
	if _, err := Import(ctx, dst, bytes.NewReader(doc), key); err != nil {
		t.Fatal(err)
	}
	// The state of a crash after a.sst and sub/b.sst were recorded: the
	// SM4 files' entries are not there.
	for _, n := range []string{"sub/c.log", "empty.sst"} {
		// Forget drops the entry of a file that is gone: gone for a
		// moment.
		p := filepath.Join(env.dir, filepath.FromSlash(n))
		if err := os.Rename(p, p+".away"); err != nil {
			t.Fatal(err)
		}
		if _, dropped, err := dst.Maintenance().Forget(n); err != nil || !dropped {
			t.Fatalf("forget %s: %v, %v", n, dropped, err)
		}
		if err := os.Rename(p+".away", p); err != nil {
			t.Fatal(err)
		}
	}
	dst.Close()
	dst = env.open(ctr.AES128CTR)
	defer dst.Close()
	keys, _ := dst.DataKeys()
	if len(keys) != len(before.keys)+1 {
		t.Fatalf("%d data keys after the reopen, want the %d own and the AES-256 one", len(keys), len(before.keys))
	}
	if _, err := Import(ctx, dst, bytes.NewReader(doc), key); !errors.Is(err, ErrImportConflict) {
		t.Fatalf("a plain retry: %v", err)
	}
	if _, err := Import(ctx, dst, bytes.NewReader(doc), key, ImportResume()); err != nil {
		t.Fatal(err)
	}
	for name, want := range src.files {
		if b := readFile(t, dst, name); !bytes.Equal(b, want) {
			t.Fatalf("%s does not read back", name)
		}
	}
	if keys, _ := dst.DataKeys(); len(keys) != len(before.keys)+2 {
		t.Fatalf("%d data keys, want %d", len(keys), len(before.keys)+2)
	}
}

// TestImportCrashAfterKeyDictionary: the directory as a crash right after
// the key dictionary was stored leaves it holds the imported keys but no
// entry; the next open drops those keys, and the import can be done again.
func TestImportCrashAfterKeyDictionary(t *testing.T) {
	ctx := context.Background()
	src := newExportSource(t)
	doc, key := src.export(t)
	env, target, _ := importTarget(t, src)
	target.Close() // this test opens the directory with its own failpoint
	snap := filepath.Join(t.TempDir(), "data")
	var once sync.Once
	m, err := dict.Open(ctx, env.dir, env.config(ctr.AES128CTR), dict.WithClock(env.Now), dict.WithFailpoint(func(name string) {
		if name == "import.after-key-dict" {
			once.Do(func() { copyDir(t, env.dir, snap) })
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ownKeys, _ := m.DataKeys()
	if _, err := Import(ctx, m, bytes.NewReader(doc), key); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snap); err != nil {
		t.Fatal("the failpoint was not reached")
	}

	// What the crash left: the keys are stored...
	mk := &keyenv.MasterKeys{Current: mustKeyFile(t, env.keyPath)}
	kd, _, err := keydict.Load(ctx, fsys.OS(), filepath.Join(snap, dict.KeyDictName), mk)
	if err != nil {
		t.Fatal(err)
	}
	stored := kd.Len()
	kd.Release()
	if stored != len(ownKeys)+2 {
		t.Fatalf("the key dictionary holds %d keys at the failpoint, want %d", stored, len(ownKeys)+2)
	}
	// ...and the open that follows drops them, as keys no file uses.
	again, err := dict.Open(ctx, snap, env.config(ctr.AES128CTR), dict.WithClock(env.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if keys, _ := again.DataKeys(); !slices.Equal(keys, ownKeys) {
		t.Fatalf("data keys %v after the reopen, want the own ones %v", keys, ownKeys)
	}
	kd, _, err = keydict.Load(ctx, fsys.OS(), filepath.Join(snap, dict.KeyDictName), mk)
	if err != nil {
		t.Fatal(err)
	}
	if kd.Len() != len(ownKeys) {
		t.Fatalf("the stored key dictionary still holds %d keys", kd.Len())
	}
	kd.Release()
	for _, n := range src.names() {
		if _, ok, _ := again.Lookup(n); ok {
			t.Fatalf("%s has an entry", n)
		}
	}
	if _, err := Import(ctx, again, bytes.NewReader(doc), key); err != nil {
		t.Fatalf("importing again after the crash: %v", err)
	}
	for name, want := range src.files {
		if b := readFile(t, again, name); !bytes.Equal(b, want) {
			t.Fatalf("%s does not read back", name)
		}
	}
}

// copyDir copies a directory tree of regular files.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestImportKeyIDCollision: a source key with the id of another key here
// gets a fresh id; a key already here (same bytes) is reused.
func TestImportKeyIDCollision(t *testing.T) {
	ctx := context.Background()
	dstEnv := transferEnv(t, dstHexKey)
	dst := dstEnv.open(ctr.AES128CTR)
	defer dst.Close()
	dicttest.WriteFile(t, dst, "own.sst", content("own.sst", 3000))
	_, taken := dst.DataKeys()

	// A source key gets the id of the destination's key (added as an
	// import adds keys, which keeps a free id), and x.sst is written
	// under it: an empty file given its entry, then written through it.
	srcEnv := transferEnv(t, srcHexKey)
	src := srcEnv.open(ctr.SM4CTR)
	defer src.Close()
	if err := os.WriteFile(filepath.Join(srcEnv.dir, "x.sst"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := src.Maintenance().Lock()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := l.AddKeys(ctx, []exportdoc.Key{{ID: taken, Method: ctr.SM4CTR, Created: srcEnv.Now(), Bytes: bytes.Repeat([]byte{0x33}, 16)}})
	if err != nil || ids[taken] != taken {
		l.Unlock()
		t.Fatalf("AddKeys: %v, id %d", err, ids[taken])
	}
	err = l.Record(ctx, []dict.NamedEntry{{Name: "x.sst", Entry: dict.Entry{KeyID: taken, Method: ctr.SM4CTR, IV: [16]byte{15: 9}}}})
	l.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	data := content("x.sst", 10000)
	f, err := src.OpenFile("x.sst", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, f, data)
	if e, _, _ := src.Lookup("x.sst"); e.KeyID != taken {
		t.Fatalf("the source file uses key %d, want %d", e.KeyID, taken)
	}
	var buf bytes.Buffer
	key, err := Export(ctx, src, []string{"x.sst"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	doc := buf.Bytes()

	copyFiles(t, srcEnv.dir, dstEnv.dir, "", []string{"x.sst"})
	if _, err := Import(ctx, dst, bytes.NewReader(doc), key); err != nil {
		t.Fatal(err)
	}
	e, _, _ := dst.Lookup("x.sst")
	if e.KeyID == taken || e.KeyID == 0 {
		t.Fatalf("the imported file uses key %d; %d was taken", e.KeyID, taken)
	}
	if !bytes.Equal(readFile(t, dst, "x.sst"), data) || !bytes.Equal(readFile(t, dst, "own.sst"), content("own.sst", 3000)) {
		t.Fatal("a file does not read back")
	}
	keys, current := dst.DataKeys()
	if len(keys) != 2 || current != taken {
		t.Fatalf("data keys %v, current %d; want 2 keys, current still %d", keys, current, taken)
	}

	// The same document again, under another name: the key is found by
	// its bytes and reused, so the key dictionary does not change.
	keyDict, _ := os.ReadFile(keyPath(dst))
	copyFiles(t, srcEnv.dir, dstEnv.dir, "again", []string{"x.sst"})
	names, err := Import(ctx, dst, bytes.NewReader(doc), key, ImportUnder("again"))
	if err != nil || !slices.Equal(names, []string{"again/x.sst"}) {
		t.Fatalf("Import under again/: %v, %v", names, err)
	}
	e2, _, _ := dst.Lookup("again/x.sst")
	if e2.KeyID != e.KeyID {
		t.Fatalf("the second copy uses key %d, the first %d", e2.KeyID, e.KeyID)
	}
	if now, _ := os.ReadFile(keyPath(dst)); !bytes.Equal(now, keyDict) {
		t.Fatal("the key dictionary was stored again for a key it had")
	}
	if !bytes.Equal(readFile(t, dst, "again/x.sst"), data) {
		t.Fatal("again/x.sst does not read back")
	}
	dst.Close()
	dst = dstEnv.open(ctr.AES128CTR)
	for _, n := range []string{"x.sst", "again/x.sst"} {
		if !bytes.Equal(readFile(t, dst, n), data) {
			t.Fatalf("%s does not read back after a reopen", n)
		}
	}
}

func TestImportUnderInvalid(t *testing.T) {
	src := newExportSource(t)
	doc, key := src.export(t)
	_, dst, before := importTarget(t, src)
	if _, err := Import(context.Background(), dst, bytes.NewReader(doc), key, ImportUnder("../elsewhere")); !errors.Is(err, dict.ErrOutsideDir) {
		t.Fatalf("ImportUnder(../elsewhere): %v", err)
	}
	before.check(t, dst)
}

func TestExportErrors(t *testing.T) {
	src := newExportSource(t)
	outside := filepath.Join(filepath.Dir(src.env.dir), "outside.sst")
	os.WriteFile(outside, []byte("x"), 0o644)
	tests := []struct {
		name  string
		names []string
		want  error // nil: any error
	}{
		{"unknown file", []string{"a.sst", "nope.sst"}, fs.ErrNotExist},
		{"directory", []string{"sub"}, nil},
		{"key dictionary", []string{dict.KeyDictName}, dict.ErrReserved},
		{"file dictionary", []string{"./" + dict.FileDictName}, dict.ErrReserved},
		{"outside", []string{outside}, dict.ErrOutsideDir},
		{"relative outside", []string{"../outside.sst"}, dict.ErrOutsideDir},
		{"the data directory", []string{"."}, dict.ErrDataDir},
		{"no names", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			key, err := Export(context.Background(), src.m, tc.names, &buf)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Export = %v, want %v", err, tc.want)
			}
			if key != nil || buf.Len() != 0 {
				t.Fatal("a failed export returned a key or wrote a document")
			}
		})
	}
	t.Run("write fails", func(t *testing.T) {
		wErr := errors.New("full")
		key, err := Export(context.Background(), src.m, []string{"a.sst"}, failWriter{wErr})
		if !errors.Is(err, wErr) || key != nil {
			t.Fatalf("Export = %v, %v", key, err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Export(ctx, src.m, []string{"a.sst"}, io.Discard); !errors.Is(err, context.Canceled) {
			t.Fatalf("Export = %v", err)
		}
	})
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestTransferClosedManager(t *testing.T) {
	src := newExportSource(t)
	doc, key := src.export(t)
	env := transferEnv(t, dstHexKey)
	m := env.open(ctr.AES128CTR)
	m.Close()
	if _, err := Export(context.Background(), m, []string{"a.sst"}, io.Discard); !errors.Is(err, dict.ErrClosed) {
		t.Fatalf("Export: %v", err)
	}
	if _, err := Import(context.Background(), m, bytes.NewReader(doc), key); !errors.Is(err, dict.ErrClosed) {
		t.Fatalf("Import: %v", err)
	}
}

// TestImportNeverEncrypted: a directory without dictionaries refuses
// encrypted files (and stays without dictionaries) but takes plaintext
// ones, which need no entry.
func TestImportNeverEncrypted(t *testing.T) {
	ctx := context.Background()
	src := newExportSource(t)
	doc, key := src.export(t)
	env := transferEnv(t, dstHexKey)
	dst := env.open(ctr.Plaintext)
	defer dst.Close()
	copyFiles(t, src.env.dir, env.dir, "", src.names())
	if _, err := Import(ctx, dst, bytes.NewReader(doc), key); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("Import = %v, want ErrNotEncrypted", err)
	}
	if dst.Encrypted() {
		t.Fatal("the import turned encryption on")
	}
	if _, err := os.Stat(filepath.Join(env.dir, dict.KeyDictName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a key dictionary appeared: %v", err)
	}

	var buf bytes.Buffer
	key, err := Export(ctx, src.m, []string{"plain.txt"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	names, err := Import(ctx, dst, &buf, key)
	if err != nil || !slices.Equal(names, []string{"plain.txt"}) {
		t.Fatalf("a plaintext-only document: %v, %v", names, err)
	}
	if !bytes.Equal(readFile(t, dst, "plain.txt"), src.files["plain.txt"]) {
		t.Fatal("plain.txt does not read back")
	}
}

// An export from a directory that was never encrypted holds plaintext
// files only, which an encrypted directory imports without entries.
func TestExportNeverEncrypted(t *testing.T) {
	ctx := context.Background()
	env := transferEnv(t, srcHexKey)
	src := env.open(ctr.Plaintext)
	defer src.Close()
	data := []byte("plain data")
	os.WriteFile(filepath.Join(env.dir, "p.sst"), data, 0o644)
	var buf bytes.Buffer
	key, err := Export(ctx, src, []string{"p.sst"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	dstEnv := transferEnv(t, dstHexKey)
	dst := dstEnv.open(ctr.AES128CTR)
	defer dst.Close()
	before := stateOf(t, dst)
	copyFiles(t, env.dir, dstEnv.dir, "", []string{"p.sst"})
	if _, err := Import(ctx, dst, &buf, key); err != nil {
		t.Fatal(err)
	}
	before.check(t, dst)
	if !bytes.Equal(readFile(t, dst, "p.sst"), data) {
		t.Fatal("p.sst does not read back")
	}
}

// failingBackend is a master key whose Seal can be made to fail.
type failingBackend struct {
	keyenv.Backend
	mu   sync.Mutex
	fail bool
}

func (b *failingBackend) Seal(ctx context.Context, label string, secret []byte) ([]byte, error) {
	b.mu.Lock()
	fail := b.fail
	b.mu.Unlock()
	if fail {
		return nil, errors.New("KMS says no")
	}
	return b.Backend.Seal(ctx, label, secret)
}

// TestImportKeyDictionaryFails: when the key dictionary cannot be stored,
// the import changes nothing, on disk or in memory.
func TestImportKeyDictionaryFails(t *testing.T) {
	ctx := context.Background()
	src := newExportSource(t)
	doc, key := src.export(t)
	env := transferEnv(t, dstHexKey)
	b := &failingBackend{Backend: mustKeyFile(t, env.keyPath)}
	dst, err := dict.Open(ctx, env.dir, env.config(ctr.AES128CTR), dict.WithMasterKeys(&keyenv.MasterKeys{Current: b}), dict.WithClock(env.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	copyFiles(t, src.env.dir, env.dir, "", src.names())
	before := stateOf(t, dst)
	b.fail = true
	if _, err := Import(ctx, dst, bytes.NewReader(doc), key); err == nil {
		t.Fatal("Import succeeded without a key dictionary")
	}
	before.check(t, dst)
	b.fail = false
	if _, err := Import(ctx, dst, bytes.NewReader(doc), key); err != nil {
		t.Fatal(err)
	}
	for name, want := range src.files {
		if !bytes.Equal(readFile(t, dst, name), want) {
			t.Fatalf("%s does not read back", name)
		}
	}
}

// TestImportConcurrent imports while other files are created, written,
// read and removed (run with -race): both sides come out intact.
func TestImportConcurrent(t *testing.T) {
	ctx := context.Background()
	src := newExportSource(t)
	_, dst, _ := importTarget(t, src)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("busy-%d-%d", w, i%3)
				want := content(name, 100+i)
				if got, err := writeRead(dst, name, want); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s does not read back: %v", name, err)
					return
				}
				if i%2 == 0 {
					dst.Remove(name)
				}
			}
		})
	}
	// Exports of the source run alongside its own writers too.
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := writeRead(src.m, "src-busy", content("src-busy", 50+i)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	doc, key := src.export(t)
	time.Sleep(10 * time.Millisecond)
	_, err := Import(ctx, dst, bytes.NewReader(doc), key)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range src.files {
		if !bytes.Equal(readFile(t, dst, name), want) {
			t.Fatalf("%s does not read back", name)
		}
	}
}

// writeRead writes a file and reads it back, for goroutines other than
// the test's (which must not call t.Fatal).
func writeRead(m *dict.Manager, name string, data []byte) ([]byte, error) {
	f, err := m.Create(name)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(data)
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, err
	}
	if f, err = m.Open(name); err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// TestImportRefusesReservedName: a document that authenticates but names
// a dictionary file, which the codec cannot know is reserved here.
func TestImportRefusesReservedName(t *testing.T) {
	src := newExportSource(t)
	_, dst, before := importTarget(t, src)
	sm4 := exportdoc.Key{ID: 7, Method: ctr.SM4CTR, Created: time.Unix(1_700_000_000, 0), Bytes: bytes.Repeat([]byte{0x42}, 16)}
	for _, name := range []string{dict.KeyDictName, dict.FileDictName, dict.LockName, "." + dict.KeyDictName + ".tmp-1"} {
		f := exportdoc.File{Name: name, Entry: dict.Entry{KeyID: 7, Method: ctr.SM4CTR, IV: [16]byte{15: 1}}, Size: 3}
		doc, key, err := exportdoc.Seal([]exportdoc.File{f}, []exportdoc.Key{sm4})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Import(context.Background(), dst, bytes.NewReader(doc), key); !errors.Is(err, ErrCorruptExport) {
			t.Fatalf("%s: Import = %v, want ErrCorruptExport", name, err)
		}
	}
	before.check(t, dst)
}

// TestImportExposure: a key the document marks exposed (it was stored
// under a plaintext master key over there) stays marked here, also when
// it is a key this directory already has: then it is the current key,
// which the next create rotates away from.
func TestImportExposure(t *testing.T) {
	ctx := context.Background()
	env := transferEnv(t, dstHexKey)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	_, current := m.DataKeys()
	own := keyBytes(t, m, current)

	// A document whose file "mine" uses this directory's current key,
	// exposed, and whose file "new" uses a key this directory lacks.
	created := time.Unix(1_700_000_000, 0)
	doc, transferKey, err := exportdoc.Seal([]exportdoc.File{
		{Name: "mine", Entry: dict.Entry{KeyID: 5, Method: ctr.AES128CTR, IV: [16]byte{15: 1}}, Size: 10},
		{Name: "new", Entry: dict.Entry{KeyID: 6, Method: ctr.AES128CTR, IV: [16]byte{15: 2}}, Size: 20},
	}, []exportdoc.Key{
		{ID: 5, Method: ctr.AES128CTR, Created: created, Exposed: true, Bytes: own},
		{ID: 6, Method: ctr.AES128CTR, Created: created, Exposed: true, Bytes: bytes.Repeat([]byte{6}, 16)},
	})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(env.dir, "mine"), make([]byte, 10), 0o644)
	os.WriteFile(filepath.Join(env.dir, "new"), make([]byte, 20), 0o644)
	if _, err := Import(ctx, m, bytes.NewReader(doc), transferKey); err != nil {
		t.Fatal(err)
	}
	mine, _, _ := m.Lookup("mine")
	added, _, _ := m.Lookup("new")
	if mine.KeyID != current || added.KeyID == current {
		t.Fatalf("mine uses key %d, new key %d; the current key is %d", mine.KeyID, added.KeyID, current)
	}
	k1, _ := m.Maintenance().DataKey(mine.KeyID)
	k2, _ := m.Maintenance().DataKey(added.KeyID)
	exposed := k1.Exposed && k2.Exposed
	if !exposed {
		t.Fatal("an imported exposed key is not marked exposed")
	}
	dicttest.WriteFile(t, m, "after", []byte("x"))
	if _, now := m.DataKeys(); now == current {
		t.Fatal("the exposed current key was not rotated away from")
	}
	if !bytes.Equal(readFile(t, m, "after"), []byte("x")) {
		t.Fatal("after does not read back")
	}
}

// keyPath is m's key dictionary.
func keyPath(m *dict.Manager) string {
	return filepath.Join(m.Dir(), dict.KeyDictName)
}

// keyBytes returns a copy of m's data key id.
func keyBytes(t *testing.T, m *dict.Manager, id uint64) []byte {
	t.Helper()
	_, s, err := m.Maintenance().DataKeySecret(id)
	if err != nil {
		t.Fatalf("data key %d: %v", id, err)
	}
	defer s.Release()
	return bytes.Clone(s.Bytes())
}
