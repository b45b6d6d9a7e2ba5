package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kmipgo "github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/azurekvtest"
	"github.com/atrest/atrest/internal/gcpkmstest"
	"github.com/atrest/atrest/internal/kmiptest"
	"github.com/atrest/atrest/internal/kmstest"
	"github.com/atrest/atrest/internal/vaulttest"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/keyenv/azurekms"
	"github.com/atrest/atrest/keyenv/gcpkms"
	"github.com/atrest/atrest/operator"
)

// The Google and Azure fakes are reached with Go client options that no
// configuration key can carry (the gRPC fake's CA; the Entra ID authority
// host, instance discovery and the challenge's resource check of the Key
// Vault fake), so this test registers each under a vendor of its own that
// opens the real backend (gcpkms.Open, azurekms.Open) with the settings a
// section gives plus the fake's options. The TOML parser refuses those
// vendors, so in this process keys of theirs are configured as
// keyenv.MasterKeyConfig and rotated through operator.RotateMasterKey, the
// function encctl's rotate-master-key calls. The Google key also has a
// real TOML file (vendor "gcp", endpoint, credential-file-path): the
// rotation into it runs the encctl binary, whose only help is the
// environment's SSL_CERT_FILE naming the fake's certificate, as a system
// CA would.
const (
	gcpFakeVendor   = "gcp-in-process-fake"
	azureFakeVendor = "azure-in-process-fake"
)

// clouds holds the fakes the registered vendors point at.
var clouds struct {
	sync.Mutex
	gcp   *gcpkmstest.Server
	azure *azurekvtest.Server
}

func init() {
	keyenv.RegisterBackend(keyenv.KindKMS, gcpFakeVendor, func(ctx context.Context, mk keyenv.MasterKeyConfig, opts ...keyenv.Option) (keyenv.Backend, error) {
		clouds.Lock()
		srv := clouds.gcp
		clouds.Unlock()
		return gcpkms.Open(ctx, gcpkms.Config{KeyName: mk.KeyID, CredentialFilePath: mk.GCP.CredentialFilePath, Endpoint: mk.Endpoint,
			ClientOptions: srv.ClientOptions()}, opts...)
	})
	keyenv.RegisterBackend(keyenv.KindKMS, azureFakeVendor, func(ctx context.Context, mk keyenv.MasterKeyConfig, opts ...keyenv.Option) (keyenv.Backend, error) {
		clouds.Lock()
		srv := clouds.azure
		clouds.Unlock()
		return azurekms.Open(ctx, azurekms.Config{KeyID: mk.KeyID, Azure: mk.Azure, ClientOptions: srv.ClientOptions(),
			DisableInstanceDiscovery: true, DisableChallengeResourceVerification: true}, opts...)
	})
}

// chainKey is one master key of the rotation chain: a TOML file when its
// configuration can say everything, else a configuration built in Go.
type chainKey struct {
	name string
	toml string // the configuration file; "" when cfg was built in Go
	cfg  keyenv.Config
	// env, when set, is what the encctl binary needs in its environment
	// to use toml (this process cannot: cfg is what it uses).
	env []string
}

// TestRotateThroughEveryBackend rotates one data directory's master key
// along a chain through every backend, file → vault → kmip → aws → gcp
// → azure → keyring → file, each key at its test server (the fakes in this
// process; PyKMIP's server, skipped loudly when pykmip-server is not
// installed unless ATREST_REQUIRE_PYKMIP is set). A step between two keys
// a TOML file describes runs encctl rotate-master-key --to NEXT.toml (in
// this process, or the binary for the Google key); a step from the Google
// key or to or from the Azure key calls operator.RotateMasterKey (see
// gcpFakeVendor). After each step the
// directory opens with only the new key configured and every file reads
// back byte for byte, and the old key alone fails with
// keyenv.ErrWrongMasterKey (through encctl too when it has a TOML file).
func TestRotateThroughEveryBackend(t *testing.T) {
	ctx := context.Background()
	files := map[string][]byte{
		"000001.sst":        randomBytes(70 << 10),
		"000002.log":        []byte("a write-ahead log record\n"),
		"sub/MANIFEST-0001": randomBytes(4 << 10),
	}
	d := newDataDir(t, "aes256-ctr", files)
	keys := t.TempDir()
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/atrest-test")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/atrest-test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(keys, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tomlKey := func(name, section string) chainKey {
		t.Helper()
		path := write(name+".toml", "[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n[security.encryption.master-key]\n"+section)
		cfg, err := keyenv.LoadConfig(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return chainKey{name: name, toml: path, cfg: cfg}
	}
	goKey := func(name string, mk keyenv.MasterKeyConfig) chainKey {
		cfg := keyenv.DefaultConfig()
		cfg.DataEncryptionMethod = ctr.AES256CTR
		cfg.MasterKey = mk
		return chainKey{name: name, cfg: cfg}
	}

	// file: the key the directory was made with.
	chain := []chainKey{{name: "file", toml: d.config, cfg: d.cfg}}

	// vault: Transit over HTTPS, the token in a file, the CA in ca-file.
	vault := vaulttest.New(vaulttest.Options{TLS: true})
	t.Cleanup(vault.Close)
	vault.CreateKey("atrest", true)
	chain = append(chain, tomlKey("vault", fmt.Sprintf("type = \"vault\"\naddress = %q\nkey-name = \"atrest\"\ntoken-file = %q\nca-file = %q\n",
		vault.URL, write("vault-token", vault.NewToken()+"\n"), write("vault-ca.pem", string(vault.CertificatePEM())))))

	// kmip: PyKMIP's server, mutual TLS.
	if k, ok := kmipKey(t, keys); ok {
		chain = append(chain, tomlKey("kmip", k))
	}

	// aws: the in-repo KMS fake, static credentials in the [aws] table.
	aws := kmstest.New(kmstest.Options{Region: "us-west-2", AccessKeyID: "AKIDATRESTCHAIN", SecretAccessKey: "atrest-chain-secret-access-key"})
	t.Cleanup(aws.Close)
	chain = append(chain, tomlKey("aws", fmt.Sprintf("type = \"kms\"\nvendor = \"aws\"\nkey-id = %q\nregion = \"us-west-2\"\nendpoint = %q\n[security.encryption.master-key.aws]\naccess-key = \"AKIDATRESTCHAIN\"\nsecret-access-key = \"atrest-chain-secret-access-key\"\n",
		aws.CreateKey(), aws.URL)))

	// gcp: the fake over TLS, signed in with a service account's file.
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	gcp := gcpkmstest.NewWithOptions(gcpkmstest.Options{ServiceAccountKey: &saKey.PublicKey})
	t.Cleanup(gcp.Close)
	azure := azurekvtest.New(azurekvtest.Options{TenantID: "0d7a3f00-aaaa-4bbb-8ccc-000000000001", ClientID: "5e1b2c00-dddd-4eee-8fff-000000000002",
		ClientSecret: "atrest-chain-client-secret"})
	t.Cleanup(azure.Close)
	clouds.Lock()
	clouds.gcp, clouds.azure = gcp, azure
	clouds.Unlock()
	gcpName, gcpCreds := gcp.CreateKey("tikv"), write("gcp-sa.json", serviceAccountFile(t, saKey))
	gcpKey := goKey("gcp", keyenv.MasterKeyConfig{Type: keyenv.KindKMS, Vendor: gcpFakeVendor, KeyID: gcpName,
		GCP: keyenv.GCPSettings{CredentialFilePath: gcpCreds}})
	gcpKey.toml = tomlKey("gcp", fmt.Sprintf("type = \"kms\"\nvendor = \"gcp\"\nkey-id = %q\nendpoint = %q\n[security.encryption.master-key.gcp]\ncredential-file-path = %q\n",
		gcpName, gcp.Addr, gcpCreds)).toml
	gcpKey.env = []string{"SSL_CERT_FILE=" + write("gcp-fake-ca.pem", serverCertPEM(t, gcp.Addr))}
	chain = append(chain, gcpKey)

	// azure: Key Vault with the client-secret credential.
	chain = append(chain, goKey("azure", keyenv.MasterKeyConfig{Type: keyenv.KindKMS, Vendor: azureFakeVendor, KeyID: azure.CreateKey("tikv", azurekvtest.RSA),
		Azure: keyenv.AzureSettings{TenantID: "0d7a3f00-aaaa-4bbb-8ccc-000000000001", ClientID: "5e1b2c00-dddd-4eee-8fff-000000000002",
			ClientSecret: "atrest-chain-client-secret", KeyVaultURL: azure.URL}}))

	// keyring: a password-protected keyring file, the password in the
	// environment.
	const password = "correct horse battery staple"
	t.Setenv("ATREST_CHAIN_KEYRING_PASSWORD", password)
	krPath := filepath.Join(keys, "master.keyring")
	kr, err := keyenv.CreateKeyring(krPath, []byte(password), keyenv.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.AddKey("tikv"); err != nil {
		t.Fatal(err)
	}
	kr.Close()
	chain = append(chain, tomlKey("keyring", fmt.Sprintf("type = \"keyring\"\npath = %q\nkey-id = \"tikv\"\npassword-env = \"ATREST_CHAIN_KEYRING_PASSWORD\"\n", krPath)))

	// file again: another key file.
	last := filepath.Join(keys, "last.key")
	writeKeyFile(t, last)
	chain = append(chain, tomlKey("file2", fmt.Sprintf("type = \"file\"\npath = %q\n", last)))

	for i := 1; i < len(chain); i++ {
		from, to := chain[i-1], chain[i]
		t.Run(from.name+"→"+to.name, func(t *testing.T) {
			if from.toml != "" && to.toml != "" && (from.env == nil || to.env == nil) {
				if to.env != nil {
					// Without the help the binary cannot reach the key,
					// and the directory is left as it was.
					before := snapshot(t, d.dir)
					mustFail(t, encctl(t, nil, "", "--config", from.toml, "--data-dir", d.dir, "rotate-master-key", "--to", to.toml),
						exitFailure, "rotate-master-key without "+strings.Join(to.env, " "), "key service unreachable")
					checkUnchanged(t, "a failed rotate-master-key", before, snapshot(t, d.dir))
				}
				r := runEncctl(t, append(from.env, to.env...), "--config", from.toml, "--data-dir", d.dir, "rotate-master-key", "--to", to.toml)
				mustSucceed(t, r, "rotate-master-key")
				if !strings.Contains(r.stdout, "master key rotated") {
					t.Errorf("rotate-master-key: %v", r)
				}
			} else {
				m, err := dict.Open(ctx, d.dir, from.cfg)
				if err != nil {
					t.Fatalf("open with the %s key: %v", from.name, err)
				}
				err = operator.RotateMasterKey(ctx, m, to.cfg.MasterKey)
				if cerr := m.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					t.Fatalf("rotate to the %s key: %v", to.name, err)
				}
			}
			checkOpens(t, d.dir, to, files)
			checkRefused(t, d.dir, from)
		})
	}
	if t.Failed() {
		return
	}
	names := make([]string, len(chain))
	for i, k := range chain {
		names[i] = k.name
	}
	t.Logf("rotated through %s", strings.Join(names, " → "))
}

// checkOpens opens dir with only k configured and reads every file back.
func checkOpens(t *testing.T, dir string, k chainKey, files map[string][]byte) {
	t.Helper()
	m, err := dict.Open(context.Background(), dir, k.cfg, dict.WithInspection())
	if err != nil {
		t.Fatalf("open with only the new (%s) key: %v", k.name, err)
	}
	defer m.Close()
	for name, want := range files {
		if got := readThrough(t, m, name); !bytes.Equal(got, want) {
			t.Errorf("with the %s key, %s reads back differently (%d bytes, want %d)", k.name, name, len(got), len(want))
		}
	}
	if k.toml != "" {
		mustSucceed(t, runEncctl(t, k.env, "--config", k.toml, "--data-dir", dir, "verify"), "verify with the new key")
	}
}

// checkRefused checks that the old key alone no longer opens dir.
func checkRefused(t *testing.T, dir string, k chainKey) {
	t.Helper()
	m, err := dict.Open(context.Background(), dir, k.cfg, dict.WithInspection())
	if err == nil {
		m.Close()
		t.Fatalf("the old (%s) key alone still opens the directory", k.name)
	}
	if !errors.Is(err, keyenv.ErrWrongMasterKey) {
		t.Fatalf("the old (%s) key alone: %v, want an error wrapping %q", k.name, err, keyenv.ErrWrongMasterKey)
	}
	if k.toml != "" {
		mustFail(t, runEncctl(t, k.env, "--config", k.toml, "--data-dir", dir, "dump-file"), exitFailure,
			"dump-file with the old key", "wrong master key")
	}
}

// runEncctl runs encctl in this process, or the binary when env is set.
func runEncctl(t *testing.T, env []string, args ...string) result {
	t.Helper()
	if env != nil {
		return encctl(t, env, "", args...)
	}
	return inProcess(context.Background(), "", args...)
}

// serverCertPEM is the certificate the TLS server at addr presents, in
// PEM: what a client that trusts the server needs.
func serverCertPEM(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: conn.ConnectionState().PeerCertificates[0].Raw}))
}

// serviceAccountFile is a service account's JSON credentials file with
// key as its private key.
func serviceAccountFile(t *testing.T, key *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]string{"type": "service_account", "project_id": "p", "private_key_id": "1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "sa@p.iam.gserviceaccount.com", "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// kmipKey starts PyKMIP's server for the test, creates and activates an
// AES key owned by a client identity, and returns the master-key section
// naming it. Without pykmip-server it says so loudly and returns false,
// unless ATREST_REQUIRE_PYKMIP is set: then the test fails.
func kmipKey(t *testing.T, dir string) (string, bool) {
	t.Helper()
	srvDir := filepath.Join(dir, "pykmip")
	if err := os.Mkdir(srvDir, 0o700); err != nil {
		t.Fatal(err)
	}
	srv, err := kmiptest.Start(srvDir, 60*time.Second)
	if errors.Is(err, kmiptest.ErrNoServer) && os.Getenv("ATREST_REQUIRE_PYKMIP") == "" {
		t.Logf("*** the chain SKIPS its KMIP key: %v ***", err)
		return "", false
	}
	if err != nil {
		t.Fatalf("pykmip-server: %v", err)
	}
	t.Cleanup(srv.Close)
	cert, key, err := srv.ClientCert(dir, "atrest")
	if err != nil {
		t.Fatal(err)
	}
	c, err := kmipclient.Dial(srv.Addr, kmipclient.WithRootCAFile(srv.CAFile), kmipclient.WithClientCertFiles(cert, key),
		kmipclient.WithServerName(srv.ServerName))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Create().AES(256, kmipgo.CryptographicUsageEncrypt|kmipgo.CryptographicUsageDecrypt).Exec()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Activate(res.UniqueIdentifier).Exec(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("type = \"kmip\"\nendpoints = [%q]\nkey-id = %q\nclient-certificate = %q\nclient-key = %q\nca-file = %q\nserver-name = %q\n",
		srv.Addr, res.UniqueIdentifier, cert, key, srv.CAFile, srv.ServerName), true
}
