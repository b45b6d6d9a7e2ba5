package azurekms

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/internal/azurekvtest"
	"github.com/atrest/atrest/internal/backendtest"
	"github.com/atrest/atrest/keyenv"
)

// A TiKV configuration opens the key through keyenv.OpenMasterKeys: the
// client secret gets a token from Entra ID once, one seal is a GetKey and
// a WrapKey, one unseal one UnwrapKey, and neither the secret nor the data
// key shows in the blob.
func TestFromConfig(t *testing.T) {
	srv := newServer(t)
	srv.CreateKey("tikv-master", azurekvtest.RSA)
	m := backendtest.OpenConfig(t, "[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n"+azureSection("master-key", "tikv-master", srv), fast...)
	if want := "azure-kms:" + srv.URL + "/keys/tikv-master"; m.Current.ID() != want || m.Current.Kind() != keyenv.KindKMS || !m.Current.Secure() {
		t.Fatalf("id %q, want %q", m.Current.ID(), want)
	}
	secret := []byte("key dictionary under Key Vault")
	var blobs [][]byte
	for range 2 {
		blob := backendtest.MustSeal(t, m.Current, "key-dictionary", secret)
		s, resealed, err := m.Unseal(context.Background(), "key-dictionary", blob)
		if err != nil || resealed != nil {
			t.Fatalf("unseal: %v", err)
		}
		if !bytes.Equal(s.Bytes(), secret) {
			t.Fatal("unsealed another secret")
		}
		s.Release()
		blobs = append(blobs, blob)
	}
	for op, want := range map[string]int{"GetKey": 2, "WrapKey": 2, "UnwrapKey": 2, "Token": 1} {
		if got := srv.Calls(op); got != want {
			t.Errorf("%d %s calls for two seals and unseals, want %d", got, op, want)
		}
	}
	dataKeys := srv.Plaintexts()
	if len(dataKeys) != 2 || len(dataKeys[0]) != keyenv.SealingKeyBytes || bytes.Equal(dataKeys[0], dataKeys[1]) {
		t.Fatalf("WrapKey saw %d data keys, want two different ones", len(dataKeys))
	}
	for i, blob := range blobs {
		if bytes.Contains(blob, secret) || bytes.Contains(blob, dataKeys[i]) || bytes.Contains(blob, []byte(testSecret)) {
			t.Fatal("the blob shows the secret, the data key or the client secret")
		}
	}
}

// Rotation by configuration alone, between two Key Vault keys and between
// Key Vault and a key file both ways; and a new version of the key: blobs
// of the old version keep opening, new blobs use the new one.
func TestRotation(t *testing.T) {
	srv := newServer(t)
	srv.CreateKey("k1", azurekvtest.RSA)
	srv.CreateKey("k2", azurekvtest.RSAHSM)
	filePath := backendtest.KeyFile(t)
	fileSection := func(table string) string {
		return fmt.Sprintf("[security.encryption.%s]\ntype = \"file\"\npath = %q\n", table, filePath)
	}
	for _, tt := range []struct{ name, old, new string }{
		{"azure to azure", azureSection("master-key", "k1", srv), azureSection("master-key", "k2", srv) + azureSection("previous-master-key", "k1", srv)},
		{"file to azure", fileSection("master-key"), azureSection("master-key", "k2", srv) + fileSection("previous-master-key")},
		{"azure to file", azureSection("master-key", "k1", srv), fileSection("master-key") + azureSection("previous-master-key", "k1", srv)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const header = "[security.encryption]\ndata-encryption-method = \"aes128-ctr\"\n"
			backendtest.CheckConfigRotation(t, backendtest.OpenConfig(t, header+tt.old, fast...), backendtest.OpenConfig(t, header+tt.new, fast...))
		})
	}
	t.Run("new key version", func(t *testing.T) {
		b := openKey(t, srv, "k1")
		old := backendtest.MustSeal(t, b, "l", []byte("s"))
		v2 := srv.RotateKey("k1")
		fresh := backendtest.MustSeal(t, b, "l", []byte("s"))
		if !bytes.Contains(fresh, []byte("/keys/k1/"+v2)) || bytes.Contains(old, []byte(v2)) {
			t.Fatal("a new blob does not record the new version")
		}
		backendtest.MustUnseal(t, b, "l", old, []byte("s"))
		backendtest.MustUnseal(t, b, "l", fresh, []byte("s"))
		pinned := openKey(t, srv, "k1/"+v2)
		backendtest.MustUnseal(t, pinned, "l", old, []byte("s"))
		sb, err := keyenv.ParseSealedBlob(old)
		if err != nil {
			t.Fatal(err)
		}
		kid, _, _, _ := parseRef(sb.KeyRef)
		_, _, v1, _ := parseKID(kid)
		srv.RotateKey("k1")
		pinnedOld := openKey(t, srv, "k1/"+v1)
		if blob := backendtest.MustSeal(t, pinnedOld, "l", []byte("s")); !bytes.Contains(blob, []byte("/keys/k1/"+v1)) {
			t.Fatal("a key pinned to a version seals under another")
		}
	})
}

// A Managed HSM key: a symmetric oct-HSM key wraps with A256KW; hsm-url
// and hsm-name say where it is.
func TestManagedHSM(t *testing.T) {
	srv := newServer(t)
	srv.CreateKey("hsm-key", azurekvtest.OctHSM)
	c := Config{KeyID: "hsm-key", Azure: keyenv.AzureSettings{TenantID: testTenant, ClientID: testClient, ClientSecret: testSecret, HSMURL: srv.URL + "/"}}
	pointAt(srv, &c)
	b, err := Open(context.Background(), c, fast...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	blob := backendtest.MustSeal(t, b, "l", []byte("under the HSM"))
	backendtest.MustUnseal(t, b, "l", blob, []byte("under the HSM"))
	sb, err := keyenv.ParseSealedBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	if _, alg, wrapped, ok := parseRef(sb.KeyRef); !ok || alg != "A256KW" || len(wrapped) != keyenv.SealingKeyBytes+8 {
		t.Fatalf("reference: alg %q, %d wrapped bytes", alg, len(wrapped))
	}
	byName, err := Open(context.Background(), Config{KeyID: "k", Azure: keyenv.AzureSettings{HSMName: "contoso-hsm"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "azure-kms:https://contoso-hsm.managedhsm.azure.net/keys/k"; byName.ID() != want {
		t.Fatalf("id %q, want %q", byName.ID(), want)
	}
}

// Every error class: which sentinel, how many calls reached the vault
// (retried classes are retried, the others are not), and what the message
// says; no message shows a secret.
func TestErrorMatrix(t *testing.T) {
	srv := newServer(t)
	srv.CreateKey("matrix", azurekvtest.RSA)
	srv.CreateKey("other", azurekvtest.RSA)
	b := openKey(t, srv, "matrix")
	ownBlob := backendtest.MustSeal(t, b, "l", []byte("s"))
	otherBlob := backendtest.MustSeal(t, openKey(t, srv, "other"), "l", []byte("s"))
	// A wrapped key the key cannot unwrap: the last byte of the blob's
	// wrapped data key flipped.
	sb, err := keyenv.ParseSealedBlob(ownBlob)
	if err != nil {
		t.Fatal(err)
	}
	badWrap := bytes.Clone(ownBlob)
	badWrap[bytes.Index(ownBlob, sb.KeyRef)+len(sb.KeyRef)-1] ^= 1
	for _, tt := range []struct {
		name   string
		setup  func()
		key    string // default: "matrix", already opened
		fresh  bool   // a backend of its own, which has sealed once before setup
		unseal []byte // nil: seal
		want   error  // nil: success
		calls  int    // of the operation: GetKey and WrapKey for a seal, UnwrapKey for an unseal
		says   string
	}{
		{name: "unknown key", key: "missing", want: keyenv.ErrKMSKeyNotFound, calls: 1, says: "KeyNotFound"},
		{name: "unknown version", key: "matrix/0123456789abcdef0123456789abcdef", want: keyenv.ErrKMSKeyNotFound, calls: 1, says: "no such key or key version"},
		{name: "disabled key, seal", setup: func() { srv.SetEnabled("matrix", false) }, want: keyenv.ErrKMSKeyDisabled, calls: 1, says: "could not be opened"},
		{name: "disabled key, unseal", setup: func() { srv.SetEnabled("matrix", false) }, unseal: ownBlob, want: keyenv.ErrKMSKeyDisabled, calls: 1, says: "not allowed on a disabled key"},
		{name: "no permission", setup: func() { srv.Deny("matrix", true) }, want: keyenv.ErrKMSAccessDenied, calls: 1, says: "does not have keys get permission"},
		{name: "no permission, unseal", setup: func() { srv.Deny("matrix", true) }, unseal: ownBlob, want: keyenv.ErrKMSAccessDenied, calls: 1, says: "HTTP 403"},
		{name: "token refused", fresh: true, setup: srv.RevokeLastToken, want: keyenv.ErrKMSAccessDenied, calls: 0, says: "HTTP 401"},
		{name: "another key's blob", unseal: otherBlob, want: keyenv.ErrWrongMasterKey, calls: 0, says: "/keys/other\""},
		{name: "a wrapped key this key cannot unwrap", unseal: badWrap, want: keyenv.ErrWrongMasterKey, calls: 1, says: "BadParameter"},
		{name: "throttled twice, then served", setup: func() { srv.Fail(http.StatusTooManyRequests, 2) }, calls: 4},
		{name: "503 twice, then served", setup: func() { srv.Fail(http.StatusServiceUnavailable, 2) }, unseal: ownBlob, calls: 3},
		{name: "500 once, then served", setup: func() { srv.Fail(http.StatusInternalServerError, 1) }, calls: 3},
		{name: "an attempt times out, then served", setup: func() { srv.Hang(1) }, calls: 3},
		{name: "always throttled", setup: func() { srv.Fail(http.StatusTooManyRequests, -1) }, want: keyenv.ErrKMSUnreachable, calls: 3, says: "HTTP 429"},
		{name: "always 503", setup: func() { srv.Fail(http.StatusServiceUnavailable, -1) }, unseal: ownBlob, want: keyenv.ErrKMSUnreachable, calls: 3, says: "after 3 attempts"},
		{name: "always timing out", setup: func() { srv.Hang(-1) }, want: keyenv.ErrKMSUnreachable, calls: 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bk := b
			if tt.key != "" {
				bk = openKey(t, srv, tt.key)
			}
			if tt.fresh {
				bk = openKey(t, srv, "matrix")
				backendtest.MustSeal(t, bk, "l", []byte("s"))
			}
			if tt.setup != nil {
				tt.setup()
			}
			defer func() {
				srv.Fail(0, 0)
				srv.SetEnabled("matrix", true)
				srv.Deny("matrix", false)
			}()
			op := "WrapKey"
			calls := func() int { return srv.Calls("GetKey") + srv.Calls("WrapKey") }
			if tt.unseal != nil {
				op = "UnwrapKey"
				calls = func() int { return srv.Calls("UnwrapKey") }
			}
			before := calls()
			start := time.Now()
			var err error
			if tt.unseal != nil {
				var s *keyenv.Secret
				if s, err = bk.Unseal(context.Background(), "l", tt.unseal); err == nil {
					s.Release()
				}
			} else {
				_, err = bk.Seal(context.Background(), "l", []byte("s"))
			}
			if took := time.Since(start); took > callTimeout+slack {
				t.Errorf("took %v: retries are not bounded", took)
			}
			if calls := calls() - before; calls != tt.calls {
				t.Errorf("%d %s calls, want %d", calls, op, tt.calls)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("not retried: %v", err)
				}
				return
			}
			backendtest.WantOnly(t, err, tt.want)
			if !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), "azure-kms:") {
				t.Errorf("error %q does not name the key or say %q", err, tt.says)
			}
			if n := strings.Count(err.Error(), "keyenv:"); n != 1 {
				t.Errorf("%q says keyenv: %d times", err, n)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("a message of many lines: %q", err)
			}
			noSecrets(t, srv, err.Error())
			t.Log(err)
		})
	}
}

// Credentials in TiKV's order: an inline certificate (PEM or base64
// PKCS#12), a certificate file, a client secret, else
// DefaultAzureCredential (here: from the environment). Each gets a token
// the fake accepts; wrong ones are refused with their own error, and no
// message shows the secret, the password or the key.
func TestCredentials(t *testing.T) {
	srv := newServer(t)
	srv.CreateKey("k", azurekvtest.RSA)
	_, bundle := clientCert()
	dir := t.TempDir()
	pemPath := filepath.Join(dir, "client.pem")
	if err := os.WriteFile(pemPath, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	_, otherBundle := newCert("not-registered")
	base := keyenv.AzureSettings{TenantID: testTenant, ClientID: testClient, KeyVaultURL: srv.URL}
	with := func(f func(*keyenv.AzureSettings)) keyenv.AzureSettings {
		a := base
		f(&a)
		return a
	}
	pfxOnce := ""
	pfx := func() string {
		if pfxOnce == "" {
			pfxOnce = pkcs12File(t, bundle, testPassword)
		}
		return pfxOnce
	}
	for _, tt := range []struct {
		name  string
		azure func() keyenv.AzureSettings
		env   map[string]string
		want  error // nil: works
		says  string
	}{
		{name: "client secret", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) { a.ClientSecret = testSecret })
		}},
		{name: "inline PEM certificate", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) { a.ClientCertificate = string(bundle) })
		}},
		{name: "PEM certificate file", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) { a.ClientCertificatePath = pemPath })
		}},
		{name: "PKCS#12 file with password", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) {
				a.ClientCertificatePath, a.ClientCertificatePassword = pfx(), testPassword
			})
		}},
		{name: "inline base64 PKCS#12 with password", azure: func() keyenv.AzureSettings {
			der, err := os.ReadFile(pfx())
			if err != nil {
				t.Fatal(err)
			}
			return with(func(a *keyenv.AzureSettings) {
				a.ClientCertificate, a.ClientCertificatePassword = base64.StdEncoding.EncodeToString(der), testPassword
			})
		}},
		{name: "certificate wins over secret", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) { a.ClientCertificatePath, a.ClientSecret = pemPath, "not-the-secret" })
		}},
		{name: "default credential from the environment", azure: func() keyenv.AzureSettings { return base },
			env: map[string]string{"AZURE_TENANT_ID": testTenant, "AZURE_CLIENT_ID": testClient, "AZURE_CLIENT_SECRET": testSecret}},
		{name: "wrong client secret", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) { a.ClientSecret = testSecret + "-old" })
		}, want: keyenv.ErrKMSAccessDenied, says: "AADSTS7000215"},
		{name: "certificate not registered", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) { a.ClientCertificate = string(otherBundle) })
		}, want: keyenv.ErrKMSAccessDenied, says: "AADSTS700027"},
		{name: "wrong tenant", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) {
				a.TenantID, a.ClientSecret = "0d7a3f00-aaaa-4bbb-8ccc-0000000000ff", testSecret
			})
		}, want: keyenv.ErrKMSAccessDenied, says: "isn't configured to acquire tokens for tenant"},
		{name: "no credentials at all", azure: func() keyenv.AzureSettings { return base }, want: keyenv.ErrKMSAccessDenied, says: "cannot get a token"},
		{name: "wrong PKCS#12 password", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) {
				a.ClientCertificatePath, a.ClientCertificatePassword = pfx(), testPassword+"x"
			})
		}, want: keyenv.ErrConfig, says: "password is wrong"},
		{name: "certificate file missing", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) { a.ClientCertificatePath = filepath.Join(dir, "absent.pem") })
		}, want: keyenv.ErrConfig, says: "does not exist"},
		{name: "inline certificate garbage", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) { a.ClientCertificate = testSecret + "!" })
		}, want: keyenv.ErrConfig, says: "neither PEM nor base64"},
		{name: "certificate without its key", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) {
				a.ClientCertificate = string(bundle[:bytes.Index(bundle, []byte("-----BEGIN PRIVATE"))])
			})
		}, want: keyenv.ErrConfig, says: "not a certificate with its private key"},
		{name: "secret without tenant", azure: func() keyenv.AzureSettings {
			return with(func(a *keyenv.AzureSettings) { a.ClientSecret, a.TenantID = testSecret, "" })
		}, want: keyenv.ErrConfig, says: "need tenant-id and client-id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c := Config{KeyID: "k", Azure: tt.azure()}
			pointAt(srv, &c)
			b, err := Open(context.Background(), c, fast...)
			if err == nil {
				defer b.Close()
				var blob []byte
				if blob, err = b.Seal(context.Background(), "l", []byte("s")); err == nil {
					backendtest.MustUnseal(t, b, "l", blob, []byte("s"))
				}
			}
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			backendtest.WantOnly(t, err, tt.want)
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
			noSecrets(t, srv, err.Error())
		})
	}
}

// A vault that cannot be reached (a closed port, or a listener that
// accepts connections and never answers) fails with ErrKMSUnreachable
// within the configured bound, and MasterKeys does not take it for a
// wrong key.
func TestUnreachable(t *testing.T) {
	srv := newServer(t)
	srv.CreateKey("k", azurekvtest.RSA)
	blob := backendtest.MustSeal(t, openKey(t, srv, "k"), "l", []byte("s"))
	file := backendtest.NewFileBackend(t)
	closedAddr := backendtest.ClosedAddr(t)
	silent := backendtest.SilentAddr(t)
	for _, addr := range []string{closedAddr, silent} {
		t.Run(addr, func(t *testing.T) {
			a := secretSettings(srv)
			a.KeyVaultURL = "https://" + addr
			c := Config{KeyID: "k", Azure: a}
			pointAt(srv, &c)
			b, err := Open(context.Background(), c, fast...)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			start := time.Now()
			_, err = b.Seal(context.Background(), "l", []byte("s"))
			backendtest.WantOnly(t, err, keyenv.ErrKMSUnreachable)
			if took := time.Since(start); took > callTimeout+slack {
				t.Fatalf("a seal took %v", took)
			}
			// The blob names the vault at srv: to test the unseal path
			// against the dead address, the key must be that vault's.
			c.Azure.KeyVaultURL = srv.URL
			c.ClientOptions.Transport = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}}
			dead, err := Open(context.Background(), c, fast...)
			if err != nil {
				t.Fatal(err)
			}
			start = time.Now()
			m := &keyenv.MasterKeys{Current: dead, Previous: file}
			_, _, err = m.Unseal(context.Background(), "l", blob)
			backendtest.WantOnly(t, err, keyenv.ErrKMSUnreachable)
			if took := time.Since(start); took > callTimeout+slack {
				t.Fatalf("an unseal took %v", took)
			}
		})
	}
}

// Entra ID that cannot be reached, or answers 5xx or 429, is an
// unreachable key service too, not refused credentials.
func TestTokenEndpointUnreachable(t *testing.T) {
	srv := newServer(t)
	srv.CreateKey("k", azurekvtest.RSA)
	closedAddr := backendtest.ClosedAddr(t)
	c := Config{KeyID: "k", Azure: secretSettings(srv)}
	pointAt(srv, &c)
	c.ClientOptions.Cloud.ActiveDirectoryAuthorityHost = "https://" + closedAddr + "/"
	b, err := Open(context.Background(), c, fast...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantOnly(t, err, keyenv.ErrKMSUnreachable)
	noSecrets(t, srv, err.Error())
	t.Log(err)

	// Entra ID down or throttling, after the retries.
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		srv.FailTokens(status, -1)
		before := srv.Calls("Token")
		_, err = openKey(t, srv, "k").Seal(context.Background(), "l", []byte("s"))
		backendtest.WantOnly(t, err, keyenv.ErrKMSUnreachable)
		if n := srv.Calls("Token") - before; n != 3 {
			t.Errorf("%d token requests, want 3 (the attempts)", n)
		}
		if !strings.Contains(err.Error(), fmt.Sprint(status)) {
			t.Errorf("error %q does not say %d", err, status)
		}
		noSecrets(t, srv, err.Error())
		t.Log(err)
	}
	srv.FailTokens(0, 0)
	backendtest.MustSeal(t, openKey(t, srv, "k"), "l", []byte("s"))
}

// The whole-call timeout bounds a call however many attempts are left.
func TestCallTimeout(t *testing.T) {
	srv := newServer(t)
	srv.CreateKey("k", azurekvtest.RSA)
	c := Config{KeyID: "k", Azure: secretSettings(srv)}
	pointAt(srv, &c)
	b, err := Open(context.Background(), c, keyenv.WithKMSAttempts(10), keyenv.WithKMSTimeouts(500*time.Millisecond, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv.Hang(-1)
	defer srv.Fail(0, 0)
	start := time.Now()
	_, err = b.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantOnly(t, err, keyenv.ErrKMSUnreachable)
	if took := time.Since(start); took > 500*time.Millisecond+slack {
		t.Fatalf("a 500 ms call took %v (10 attempts of 5 s were allowed)", took)
	}
}

// References: another vendor's is a wrong master key, found without a
// call; a malformed one of this package is a corrupt blob.
func TestReferences(t *testing.T) {
	srv := newServer(t)
	srv.CreateKey("k", azurekvtest.RSA)
	b := openKey(t, srv, "k")
	backendtest.MustSeal(t, b, "l", []byte("s")) // reads the key type
	calls := srv.Calls("UnwrapKey")
	foreign := backendtest.MustSeal(t, keyenv.NewEnvelope(backendtest.FixedSource{Ref: []byte("gcp1\x01ciphertext"), KeyID: "projects/p/locations/l/keyRings/r/cryptoKeys/k"}), "l", []byte("s"))
	_, err := b.Unseal(context.Background(), "l", foreign)
	backendtest.WantOnly(t, err, keyenv.ErrWrongMasterKey)
	// References that record this key but are not its own.
	self := strings.TrimPrefix(b.ID(), "azure-kms:")
	// The same key name in another vault.
	kid := "https://other-vault.vault.azure.net/keys/k/0123456789abcdef"
	otherVault := backendtest.MustSeal(t, keyenv.NewEnvelope(backendtest.FixedSource{Ref: append(append([]byte(refTag), 0, byte(len(kid))), kid+"\x01wrapped"...), KeyID: self}), "l", []byte("s"))
	_, err = b.Unseal(context.Background(), "l", otherVault)
	backendtest.WantOnly(t, err, keyenv.ErrWrongMasterKey)
	if !strings.Contains(err.Error(), "other-vault") {
		t.Errorf("error %q does not say which key wrapped the blob", err)
	}
	for _, ref := range []string{refTag, refTag + "\x00\x05https", refTag + "\x00\x03abc\x09xx", refTag + "\x00\x03abc\x01xx",
		refTag + "\x00\x1ehttps://h/keys/k/v1/extra/more\x01xx"} {
		bad := backendtest.MustSeal(t, keyenv.NewEnvelope(backendtest.FixedSource{Ref: []byte(ref), KeyID: self}), "l", []byte("s"))
		_, err := b.Unseal(context.Background(), "l", bad)
		if !errors.Is(err, keyenv.ErrCorruptBlob) {
			t.Errorf("reference %q: %v", ref, err)
		}
	}
	if srv.Calls("UnwrapKey") != calls {
		t.Fatal("asked Key Vault to unwrap a reference that is not its own")
	}
}

// Importing the package registers vendor "azure"; key-id and the vault's
// address are checked when the key is opened.
func TestRegisteredAndConfig(t *testing.T) {
	srv := newServer(t)
	srv.CreateKey("k", azurekvtest.RSA)
	backendtest.OpenRegistered(t, keyenv.MasterKeyConfig{Type: keyenv.KindKMS, Vendor: "azure", KeyID: "k", Azure: secretSettings(srv)}, fast...)
	for _, tt := range []struct {
		keyID string
		azure keyenv.AzureSettings
	}{
		{"", keyenv.AzureSettings{KeyVaultURL: "https://v.vault.azure.net"}},
		{"k/", keyenv.AzureSettings{KeyVaultURL: "https://v.vault.azure.net"}},
		{"k/v/x", keyenv.AzureSettings{KeyVaultURL: "https://v.vault.azure.net"}},
		{"k", keyenv.AzureSettings{}},
		{"k", keyenv.AzureSettings{KeyVaultURL: "http://v.vault.azure.net"}},
		{"k", keyenv.AzureSettings{KeyVaultURL: "v.vault.azure.net"}},
		{"k", keyenv.AzureSettings{HSMName: "evil.example/x"}},
		{"k", keyenv.AzureSettings{HSMURL: "https://user:" + testSecret + "@h.managedhsm.azure.net"}},
	} {
		_, err := Open(context.Background(), Config{KeyID: tt.keyID, Azure: tt.azure})
		backendtest.WantOnly(t, err, keyenv.ErrConfig)
		noSecrets(t, nil, err.Error())
	}
}
