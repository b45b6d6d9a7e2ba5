package awskms

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrest/atrest/keyenv"
)

// newFileBackend returns a key-file backend, the other master key of the
// fallback and reseal tests.
func newFileBackend(t *testing.T) keyenv.Backend {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := keyenv.OpenKeyFile(path)
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
