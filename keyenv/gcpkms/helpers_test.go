package gcpkms

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/internal/gcpkmstest"
	"github.com/atrest/atrest/keyenv"
)

// fast keeps retries real but short: 3 attempts of at most
// testAttemptTimeout, a call of at most callTimeout.
var fast = []keyenv.Option{keyenv.WithKMSAttempts(3), keyenv.WithKMSTimeouts(callTimeout, testAttemptTimeout), keyenv.WithKMSMaxBackoff(5 * time.Millisecond)}

const (
	callTimeout        = 5 * time.Second
	testAttemptTimeout = 500 * time.Millisecond
	// slack is what a loaded machine may add to a bound the backend
	// enforces: a call that outlives its bound by more is not bounded.
	slack = 2 * time.Second
)

// newServer starts the fake and points configuration sections at it.
func newServer(t *testing.T) *gcpkmstest.Server {
	t.Helper()
	srv := gcpkmstest.New()
	t.Cleanup(srv.Close)
	sectionClientOptions = srv.ClientOptions()
	t.Cleanup(func() { sectionClientOptions = nil })
	return srv
}

func openKey(t *testing.T, srv *gcpkmstest.Server, name string) keyenv.Backend {
	t.Helper()
	b, err := Open(context.Background(), Config{KeyName: name, ClientOptions: srv.ClientOptions()}, fast...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// newFileBackend returns a key-file backend and the path of its file.
func newFileBackend(t *testing.T) (keyenv.Backend, string) {
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
	return b, path
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

// sentinels are the key-service errors; an error of the matrix wraps
// exactly the one it is about.
var sentinels = []error{keyenv.ErrWrongMasterKey, keyenv.ErrKMSUnreachable, keyenv.ErrKMSKeyNotFound,
	keyenv.ErrKMSKeyDisabled, keyenv.ErrKMSAccessDenied, keyenv.ErrConfig}

func wantOnly(t *testing.T, err error, target error) {
	t.Helper()
	wantErr(t, err, target)
	for _, s := range sentinels {
		if s != target && errors.Is(err, s) {
			t.Fatalf("error %q wraps %q besides %q", err, s, target)
		}
	}
}

// fixedSource is a KeySource of the kms kind that seals with a random key
// under a fixed reference and records id as its key (another vendor's
// key when id is not a CryptoKey this package opens).
type fixedSource struct {
	ref []byte
	id  string
}

func (fixedSource) Kind() keyenv.Kind { return keyenv.KindKMS }
func (f fixedSource) ID() string      { return f.id }
func (fixedSource) Close() error      { return nil }
func (f fixedSource) SealingKey(context.Context, string) (*keyenv.Secret, []byte, error) {
	k, err := keyenv.RandomSecret(keyenv.SealingKeyBytes)
	return k, f.ref, err
}
func (fixedSource) UnsealingKey(context.Context, string, []byte) (*keyenv.Secret, error) {
	return nil, errors.New("not used")
}

// serviceAccountKey makes a service account's RSA key and its PKCS#8 form.
func serviceAccountKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

// serviceAccount is a service account's credentials file with the given
// private key (PEM).
func serviceAccount(t *testing.T, privateKey string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"type": "service_account", "project_id": "p", "private_key_id": "1",
		"private_key": privateKey, "client_email": "sa@p.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": "https://oauth2.googleapis.com/token"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
