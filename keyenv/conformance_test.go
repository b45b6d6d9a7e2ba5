package keyenv_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrest/atrest/internal/backendtest"
	"github.com/atrest/atrest/keyenv"
)

// The key-file backend passes the conformance suite. A key file cannot be
// disabled, denied (the tests may run as root) or unreachable; the key's
// hex is the secret no message may show.
func TestFileConformance(t *testing.T) {
	dir := t.TempDir()
	keyHex := strings.Repeat("c0ffee", 10) + "abcd"
	write := func(name, hex string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(hex+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	working := write("working.key", keyHex)
	second := write("second.key", strings.Repeat("5e", 32))
	open := func(path string) backendtest.Opener {
		return func(*testing.T) (keyenv.Backend, error) { return keyenv.OpenKeyFile(path) }
	}
	backendtest.Run(t, backendtest.Env{
		Working:    open(working),
		Second:     open(second),
		Missing:    open(filepath.Join(dir, "missing.key")),
		MissingErr: keyenv.ErrBadKeyFile,
		Secret:     keyHex,
	})
}

// The keyring backend passes the conformance suite: two keyrings, a key
// name the keyring lacks; the password is the secret.
func TestKeyringConformance(t *testing.T) {
	const password = "correct horse battery staple"
	dir := t.TempDir()
	params := keyenv.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}
	var paths []string
	for _, name := range []string{"a", "b"} {
		p := filepath.Join(dir, name+".keyring")
		kr, err := keyenv.CreateKeyring(p, []byte(password), params)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kr.AddKey("tikv"); err != nil {
			t.Fatal(err)
		}
		kr.Close()
		paths = append(paths, p)
	}
	open := func(path, name string) backendtest.Opener {
		return func(*testing.T) (keyenv.Backend, error) {
			return keyenv.OpenKeyringBackend(path, name, []byte(password))
		}
	}
	backendtest.Run(t, backendtest.Env{
		Working:    open(paths[0], "tikv"),
		Second:     open(paths[1], "tikv"),
		Missing:    open(paths[0], "absent"),
		MissingErr: keyenv.ErrKeyringKeyNotFound,
		Secret:     password,
	})
}
