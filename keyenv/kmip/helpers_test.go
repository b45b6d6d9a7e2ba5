package kmip

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	kmipgo "github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"

	"github.com/atrest/atrest/internal/kmiptest"
	"github.com/atrest/atrest/keyenv"
)

// server is the package's PyKMIP server, nil when it is not installed;
// certs holds the client certificates the tests use.
var (
	server *kmiptest.Server
	certs  string
)

// TestMain starts one pykmip-server for the package (it takes seconds to
// start) and kills it at the end. Without pykmip-server the tests that
// need it skip, unless ATREST_REQUIRE_PYKMIP is set (CI sets it): then
// they fail.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "atrest-kmip")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server, err = kmiptest.Start(dir, 60*time.Second)
	switch {
	case errors.Is(err, kmiptest.ErrNoServer) && os.Getenv("ATREST_REQUIRE_PYKMIP") == "":
		fmt.Fprintf(os.Stderr, "\n*** SKIPPING the KMIP server tests: %v ***\n\n", err)
	case err != nil:
		fmt.Fprintln(os.Stderr, "pykmip-server:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	certs = filepath.Join(dir, "clients")
	os.Mkdir(certs, 0o700)
	code := m.Run()
	if server != nil {
		server.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// needServer skips the test, loudly, when pykmip-server is not installed.
func needServer(t *testing.T) *kmiptest.Server {
	t.Helper()
	if server == nil {
		t.Skipf("SKIPPED: %v", kmiptest.ErrNoServer)
	}
	return server
}

// fastKMIP keeps retries real but short.
var fastKMIP = []keyenv.Option{keyenv.WithKMSAttempts(3), keyenv.WithKMSTimeouts(10*time.Second, 2*time.Second),
	keyenv.WithKMSMaxBackoff(20 * time.Millisecond)}

// clientCert returns the certificate and key files of a client whose
// identity (certificate common name) is id.
func clientCert(t *testing.T, id string) (string, string) {
	t.Helper()
	cert, key := filepath.Join(certs, id+".pem"), filepath.Join(certs, id+".key")
	if _, err := os.Stat(cert); err == nil {
		return cert, key
	}
	cert, key, err := needServer(t).ClientCert(certs, id)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// settings are the settings of the key id for the client identity owner.
func settings(t *testing.T, owner, id string) keyenv.KMIPSettings {
	cert, key := clientCert(t, owner)
	srv := needServer(t)
	return keyenv.KMIPSettings{Endpoints: []string{srv.Addr}, KeyID: id, ClientCert: cert, ClientKey: key,
		CAFile: srv.CAFile, ServerName: srv.ServerName}
}

// admin is a KMIP client of the identity owner, for setting keys up as an
// operator would.
func admin(t *testing.T, owner string) *kmipclient.Client {
	t.Helper()
	srv := needServer(t)
	cert, key := clientCert(t, owner)
	c, err := kmipclient.Dial(srv.Addr, kmipclient.WithRootCAFile(srv.CAFile), kmipclient.WithClientCertFiles(cert, key),
		kmipclient.WithServerName(srv.ServerName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// createKey creates an AES-256 key for encryption and decryption owned
// by owner, activated or left Pre-Active, and returns its id.
func createKey(t *testing.T, owner string, activate bool) string {
	t.Helper()
	c := admin(t, owner)
	res, err := c.Create().AES(256, kmipgo.CryptographicUsageEncrypt|kmipgo.CryptographicUsageDecrypt).Exec()
	if err != nil {
		t.Fatal(err)
	}
	if activate {
		if _, err := c.Activate(res.UniqueIdentifier).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	return res.UniqueIdentifier
}

func open(t *testing.T, s keyenv.KMIPSettings, opts ...keyenv.Option) keyenv.Backend {
	t.Helper()
	b, err := Open(context.Background(), s, append(append([]keyenv.Option{}, fastKMIP...), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
