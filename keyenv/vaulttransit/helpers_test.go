package vaulttransit

import (
	"context"
	"os"
	"path/filepath"
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
