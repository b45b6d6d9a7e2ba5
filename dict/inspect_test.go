package dict

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/keyenv"
)

// TestInspect checks Entries and DataKeySecret against a
// directory whose state is known: files under two keys of two methods,
// one plaintext file, one removed file.
func TestInspect(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	key := writeKeyFile(t, root, "master.key", 0x77)
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

	var names []string
	methods := map[string]ctr.Method{}
	keyOf := map[string]uint64{}
	for name, e := range m.Entries() {
		names = append(names, name)
		methods[name], keyOf[name] = e.Method, e.KeyID
	}
	if want := []string{"a.sst", "b.sst", "sub/c.log"}; !slices.Equal(names, want) {
		t.Fatalf("entries %v, want %v (sorted, no removed or plaintext file)", names, want)
	}
	if methods["a.sst"] != ctr.AES128CTR || methods["sub/c.log"] != ctr.SM4CTR || keyOf["a.sst"] != keyOf["b.sst"] || keyOf["a.sst"] == keyOf["sub/c.log"] {
		t.Errorf("entries: methods %v, keys %v", methods, keyOf)
	}
	for range m.Entries() {
		break // stopping early is allowed
	}

	secret, ok := m.DataKeySecret(keyOf["sub/c.log"])
	k, _ := m.keys.Get(keyOf["sub/c.log"])
	if !ok || !bytes.Equal(secret, k.Bytes()) || len(secret) != ctr.SM4CTR.KeySize() {
		t.Errorf("secret of the current key: %x, %v", secret, ok)
	}
	secret[0] ^= 1 // a copy: the key itself is untouched
	if bytes.Equal(secret, k.Bytes()) {
		t.Error("DataKeySecret returned the key's own memory")
	}
	if _, ok := m.DataKeySecret(12345); ok {
		t.Error("a secret for an unknown id")
	}

	m.Close()
	if _, ok := m.DataKeySecret(keyOf["a.sst"]); ok {
		t.Error("a secret after Close")
	}
	for name := range m.Entries() {
		t.Errorf("entry %s after Close", name)
	}
}
