package vaulttransit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/internal/vaulttest"
	"github.com/atrest/atrest/keyenv"
)

// fastVault keeps retries real but short.
var fastVault = []keyenv.Option{keyenv.WithKMSAttempts(3), keyenv.WithKMSTimeouts(5*time.Second, 300*time.Millisecond),
	keyenv.WithKMSMaxBackoff(5 * time.Millisecond)}

// newVault starts a fake Vault with a derived key "atrest" and returns it
// with a token file for a token allowed everything.
func newVault(t *testing.T, o vaulttest.Options) (*vaulttest.Server, string) {
	t.Helper()
	srv := vaulttest.New(o)
	t.Cleanup(srv.Close)
	srv.CreateKey("atrest", true)
	return srv, writeFile(t, "token", srv.NewToken())
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func open(t *testing.T, s keyenv.VaultSettings, opts ...keyenv.Option) keyenv.Backend {
	t.Helper()
	b, err := Open(context.Background(), s, append(append([]keyenv.Option{}, fastVault...), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// newFileBackend returns a key-file backend, the other master key of the
// rotation tests.
func newFileBackend(t *testing.T) keyenv.Backend {
	t.Helper()
	b, err := keyenv.OpenKeyFile(writeFile(t, "master.key", strings.Repeat("5a", 32)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func mustSeal(t *testing.T, b keyenv.Backend, label string, secret []byte) []byte {
	t.Helper()
	blob, err := b.Seal(context.Background(), label, secret)
	if err != nil {
		t.Fatalf("%s: seal: %v", b.ID(), err)
	}
	return blob
}

func mustUnseal(t *testing.T, b keyenv.Backend, label string, blob, want []byte) {
	t.Helper()
	s, err := b.Unseal(context.Background(), label, blob)
	if err != nil {
		t.Fatalf("%s: unseal: %v", b.ID(), err)
	}
	defer s.Release()
	if !bytes.Equal(s.Bytes(), want) {
		t.Fatalf("%s: unsealed %x, want %x", b.ID(), s.Bytes(), want)
	}
}

func wantErr(t *testing.T, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", targets)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Fatalf("error %q does not wrap %q", err, target)
		}
	}
}
