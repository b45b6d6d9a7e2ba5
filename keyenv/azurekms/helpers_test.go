package azurekms

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrest/atrest/internal/azurekvtest"
	"github.com/atrest/atrest/keyenv"
)

// Recognisable secrets: no error message may show them.
const (
	testTenant   = "0d7a3f00-aaaa-4bbb-8ccc-000000000001"
	testClient   = "5e1b2c00-dddd-4eee-8fff-000000000002"
	testSecret   = "atrest-azure-client-secret-Q7x9"
	testPassword = "atrest-pfx-password-W3k8"
)

// fast keeps retries real but short: 3 attempts of at most
// testAttemptTimeout, a call of at most callTimeout.
var fast = []keyenv.Option{keyenv.WithKMSAttempts(3), keyenv.WithKMSTimeouts(callTimeout, testAttemptTimeout), keyenv.WithKMSMaxBackoff(5 * time.Millisecond)}

const (
	callTimeout        = 5 * time.Second
	testAttemptTimeout = 800 * time.Millisecond
	// slack is what a loaded machine may add to a bound the backend
	// enforces: a call that outlives its bound by more is not bounded.
	slack = 2 * time.Second
)

// clientCert is the client certificate the fake accepts: the certificate
// and its PKCS#8 key, PEM encoded, generated once per test binary.
var clientCert = sync.OnceValues(func() (*x509.Certificate, []byte) {
	return newCert("atrest-test-client")
})

func newCert(cn string) (*x509.Certificate, []byte) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	bundle := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
	return cert, bundle
}

// pkcs12File writes the PEM bundle as a PKCS#12 file encrypted with
// password, with openssl and the legacy algorithms the SDK's decoder reads.
func pkcs12File(t *testing.T, bundle []byte, password string) string {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("SKIPPED: the PKCS#12 test needs the openssl command (apt-get install openssl)")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.pfx")
	if err := os.WriteFile(in, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(openssl, "pkcs12", "-export", "-in", in, "-out", out, "-passout", "env:PFX_PASSWORD",
		"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1")
	cmd.Env = append(os.Environ(), "PFX_PASSWORD="+password)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs12: %v\n%s", err, msg)
	}
	return out
}

// newServer starts the fake, which knows the test client by its secret
// and its certificate, and points configuration sections at it. The
// process environment gets no Azure credentials.
func newServer(t *testing.T) *azurekvtest.Server {
	t.Helper()
	cert, _ := clientCert()
	srv := azurekvtest.New(azurekvtest.Options{TenantID: testTenant, ClientID: testClient, ClientSecret: testSecret, ClientCert: cert})
	t.Cleanup(srv.Close)
	sectionOptions = func(c *Config) { pointAt(srv, c) }
	t.Cleanup(func() { sectionOptions = nil })
	for _, v := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	// DefaultAzureCredential may only try the environment: managed
	// identity would call an address off this machine.
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
	return srv
}

func pointAt(srv *azurekvtest.Server, c *Config) {
	c.ClientOptions = srv.ClientOptions()
	c.DisableInstanceDiscovery = true
	c.DisableChallengeResourceVerification = true
}

// secretSettings are the sub-table settings of the test client with its
// secret, for the vault at srv.
func secretSettings(srv *azurekvtest.Server) keyenv.AzureSettings {
	return keyenv.AzureSettings{TenantID: testTenant, ClientID: testClient, ClientSecret: testSecret, KeyVaultURL: srv.URL}
}

func openKey(t *testing.T, srv *azurekvtest.Server, keyID string) keyenv.Backend {
	t.Helper()
	c := Config{KeyID: keyID, Azure: secretSettings(srv)}
	pointAt(srv, &c)
	b, err := Open(context.Background(), c, fast...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// azureSection is a master-key section for the key in the vault at srv,
// with the client secret.
func azureSection(table, keyID string, srv *azurekvtest.Server) string {
	return fmt.Sprintf("[security.encryption.%s]\ntype = \"kms\"\nvendor = \"azure\"\nkey-id = %q\n[security.encryption.%s.azure]\ntenant-id = %q\nclient-id = %q\nkeyvault-url = %q\nclient-secret = %q\n",
		table, keyID, table, testTenant, testClient, srv.URL, testSecret)
}

// noSecrets fails if msg shows a credential, a token or a data key.
func noSecrets(t *testing.T, srv *azurekvtest.Server, msg string) {
	t.Helper()
	_, bundle := clientCert()
	keyLine := strings.Split(string(bundle[bytes.Index(bundle, []byte("PRIVATE KEY-----")):]), "\n")[1]
	for _, s := range []string{testSecret, testPassword, keyLine, "fake-token-"} {
		if strings.Contains(msg, s) {
			t.Fatalf("message shows a secret (%.12s...): %s", s, msg)
		}
	}
	if srv != nil {
		for _, dk := range srv.Plaintexts() {
			if strings.Contains(msg, string(dk)) || strings.Contains(msg, fmt.Sprintf("%x", dk)) {
				t.Fatalf("message shows a data key: %s", msg)
			}
		}
	}
}
