package dict

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
)

// TestInspect checks Maintenance.Entries, DataKey and DataKeySecret against a
// directory whose state is known: files under two keys of two methods,
// one plaintext file, one removed file.
func TestInspect(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	key := testenv.FileMasterKey(t, root, "master.key", 0x77)
	ctx := context.Background()
	open := func(method ctr.Method) *Manager {
		c := keyenv.DefaultConfig()
		c.DataEncryptionMethod, c.MasterKey = method, key
		m, err := Open(ctx, dir, c)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := open(ctr.AES128CTR)
	writeFile(t, m, "b.sst", []byte("b"))
	writeFile(t, m, "a.sst", []byte("a"))
	writeFile(t, m, "gone", []byte("gone"))
	if err := m.Remove("gone"); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if err := os.WriteFile(filepath.Join(dir, "plain.txt"), []byte("plain"), 0o644); err != nil {
		t.Fatal(err)
	}
	m = open(ctr.SM4CTR) // the method changed: a new current key
	defer m.Close()
	writeFile(t, m, "sub/c.log", []byte("c"))

	mt := m.Maintenance()
	var names []string
	methods := map[string]ctr.Method{}
	keyOf := map[string]uint64{}
	for name, e := range mt.Entries() {
		names = append(names, name)
		methods[name], keyOf[name] = e.Method, e.KeyID
	}
	if want := []string{"a.sst", "b.sst", "sub/c.log"}; !slices.Equal(names, want) {
		t.Fatalf("entries %v, want %v (sorted, no removed or plaintext file)", names, want)
	}
	if methods["a.sst"] != ctr.AES128CTR || methods["sub/c.log"] != ctr.SM4CTR || keyOf["a.sst"] != keyOf["b.sst"] || keyOf["a.sst"] == keyOf["sub/c.log"] {
		t.Errorf("entries: methods %v, keys %v", methods, keyOf)
	}
	for range mt.Entries() {
		break // stopping early is allowed
	}

	info, s, err := mt.DataKeySecret(keyOf["sub/c.log"])
	if err != nil {
		t.Fatalf("secret of the current key: %v", err)
	}
	secret := s.Bytes()
	k, _ := m.keys.Get(keyOf["sub/c.log"])
	if !bytes.Equal(secret, k.Bytes()) || len(secret) != ctr.SM4CTR.KeySize() || info.ID != k.ID || info.Method != ctr.SM4CTR {
		t.Errorf("secret of the current key: %x, %+v", secret, info)
	}
	secret[0] ^= 1 // a copy: the key itself is untouched
	if bytes.Equal(secret, k.Bytes()) {
		t.Error("DataKeySecret returned the key's own memory")
	}
	s.Release()
	if d, ok := mt.DataKey(keyOf["a.sst"]); !ok || d.Method != ctr.AES128CTR || d.ID != keyOf["a.sst"] {
		t.Errorf("DataKey of a.sst's key: %+v, %v", d, ok)
	}
	if _, _, err := mt.DataKeySecret(12345); !errors.Is(err, ErrDataKeyMissing) {
		t.Errorf("a secret for an unknown id: %v, want ErrDataKeyMissing", err)
	}
	if _, ok := mt.DataKey(12345); ok {
		t.Error("a description of an unknown id")
	}

	m.Close()
	if _, _, err := mt.DataKeySecret(keyOf["a.sst"]); !errors.Is(err, ErrClosed) {
		t.Errorf("a secret after Close: %v, want ErrClosed", err)
	}
	for name := range mt.Entries() {
		t.Errorf("entry %s after Close", name)
	}
}

// TestWithInspection checks an inspecting open changes nothing: no
// dictionaries made in a directory that has none, no rotation of a due key
// and no dropping of unused keys.
func TestWithInspection(t *testing.T) {
	env := newEnv(t)
	dir, cfg := env.dir, env.config(ctr.AES256CTR)
	ctx := context.Background()
	m, err := Open(ctx, dir, cfg, WithInspection())
	if err != nil {
		t.Fatal(err)
	}
	if m.Encrypted() {
		t.Error("inspection made dictionaries")
	}
	m.Close()
	if _, err := os.Stat(filepath.Join(dir, KeyDictName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("key dictionary after an inspecting open: %v", err)
	}

	m, err = Open(ctx, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, m, "f", []byte("x"))
	m.Close()
	before, _ := os.ReadFile(filepath.Join(dir, KeyDictName))

	// Another method: a normal open would rotate the data key.
	sm4 := cfg
	sm4.DataEncryptionMethod = ctr.SM4CTR
	m, err = Open(ctx, dir, sm4, WithInspection())
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.Stats()
	if err != nil || st.DataKeys != 1 || st.Keys[0].Method != ctr.AES256CTR {
		t.Errorf("inspection rotated: %+v, %v", st, err)
	}
	m.Close()
	after, _ := os.ReadFile(filepath.Join(dir, KeyDictName))
	if string(before) != string(after) {
		t.Error("an inspecting open rewrote the key dictionary")
	}
	m, err = Open(ctx, dir, sm4)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if st, _ := m.Stats(); st.DataKeys != 2 {
		t.Errorf("a normal open with another method: %d keys, want 2 (rotated)", st.DataKeys)
	}
}

// TestInspectionLeavesOrphan checks an inspecting open of a directory where
// a first start crashed (an empty file dictionary, no key dictionary)
// leaves it as it is.
func TestInspectionLeavesOrphan(t *testing.T) {
	env := newEnv(t)
	dir, cfg := env.dir, env.config(ctr.AES256CTR)
	ctx := context.Background()
	m, err := Open(ctx, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if err := os.Remove(filepath.Join(dir, KeyDictName)); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(dir, "."+KeyDictName+".tmp-orphan") // atomicfile's temporary name
	os.WriteFile(orphan, []byte("half-written"), 0o600)
	m, err = Open(ctx, dir, cfg, WithInspection())
	if err != nil {
		t.Fatal(err)
	}
	if m.Encrypted() {
		t.Error("inspection of a crashed first start shows dictionaries")
	}
	m.Close()
	if _, err := os.Stat(filepath.Join(dir, FileDictName)); err != nil {
		t.Errorf("inspection removed the orphan file dictionary: %v", err)
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Errorf("inspection removed a temporary file: %v", err)
	}
}
