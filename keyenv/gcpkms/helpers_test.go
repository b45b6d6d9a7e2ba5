package gcpkms

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
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
