package vaulttransit

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/atrest/atrest/internal/backendtest"
	"github.com/atrest/atrest/internal/vaulttest"
	"github.com/atrest/atrest/keyenv"
)

func TestVaultFromConfig(t *testing.T) {
	srv, tokenFile := newVault(t, vaulttest.Options{})
	c, err := keyenv.ParseConfig([]byte(`[security.encryption]
data-encryption-method = "aes256-ctr"
[security.encryption.master-key]
type = "vault"
address = "` + srv.URL + `"
key-name = "atrest"
token-file = "` + tokenFile + `"
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := keyenv.OpenMasterKeys(context.Background(), c, fastVault...)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Current.Kind() != keyenv.KindVault || m.Current.ID() != "vault:"+srv.URL+" transit/keys/atrest" {
		t.Fatalf("kind %v id %q", m.Current.Kind(), m.Current.ID())
	}
	secret := []byte("key dictionary under Vault")
	blob := backendtest.MustSeal(t, m.Current, "key-dictionary", secret)
	s, resealed, err := m.Unseal(context.Background(), "key-dictionary", blob)
	if err != nil || resealed != nil {
		t.Fatalf("unseal: %v (resealed %v)", err, resealed != nil)
	}
	defer s.Release()
	if !bytes.Equal(s.Bytes(), secret) || bytes.Contains(blob, secret) {
		t.Fatalf("unsealed %q; secret in blob: %v", s.Bytes(), bytes.Contains(blob, secret))
	}
	sb, err := keyenv.ParseSealedBlob(blob)
	if err != nil || !strings.HasPrefix(string(sb.KeyRef), "vault:v1:") {
		t.Fatalf("key reference %q: %v", sb.KeyRef, err)
	}
	if srv.Calls("datakey") != 1 || srv.Calls("decrypt") != 1 {
		t.Fatalf("%d datakey and %d decrypt calls for one seal and one unseal", srv.Calls("datakey"), srv.Calls("decrypt"))
	}
}

// Rotation by configuration: the new key is the master key, the old one
// the previous master key; a blob of the old key opens and is resealed
// under the new one. The same between a key file and Vault, both ways.
func TestVaultRotationByConfiguration(t *testing.T) {
	srv, tokenFile := newVault(t, vaulttest.Options{})
	srv.CreateKey("atrest-2026", true)
	oldKey := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile})
	newKey := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest-2026", TokenFile: tokenFile})
	file := backendtest.NewFileBackend(t)
	for _, tt := range []struct {
		name              string
		previous, current keyenv.Backend
	}{
		{"vault key to vault key", oldKey, newKey},
		{"key file to vault", file, newKey},
		{"vault to key file", oldKey, file},
	} {
		t.Run(tt.name, func(t *testing.T) { backendtest.CheckRotation(t, tt.previous, tt.current) })
	}
}

func TestVaultLogins(t *testing.T) {
	srv, tokenFile := newVault(t, vaulttest.Options{Namespace: "team-a", AppRoleMount: "approle-atrest"})
	roleID, secretID := srv.NewAppRole("atrest")
	t.Run("token file, read at every call", func(t *testing.T) {
		b := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile, Namespace: "team-a"})
		blob := backendtest.MustSeal(t, b, "l", []byte("s"))
		// A Vault Agent sink replaces the token: the next call uses the new one.
		old, _ := os.ReadFile(tokenFile)
		srv.RevokeToken(strings.TrimSpace(string(old)))
		if err := os.WriteFile(tokenFile, []byte(srv.NewToken("atrest")), 0o600); err != nil {
			t.Fatal(err)
		}
		backendtest.MustUnseal(t, b, "l", blob, []byte("s"))
	})
	t.Run("token env", func(t *testing.T) {
		tok := srv.NewToken()
		getenv := func(k string) string {
			if k == "ATREST_VAULT_TOKEN" {
				return tok
			}
			return ""
		}
		b := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenEnv: "ATREST_VAULT_TOKEN", Namespace: "team-a"},
			keyenv.WithGetenv(getenv))
		backendtest.MustUnseal(t, b, "l", backendtest.MustSeal(t, b, "l", []byte("s")), []byte("s"))
	})
	t.Run("approle, logging in again when the token is refused", func(t *testing.T) {
		b := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", RoleID: roleID, Namespace: "/team-a/",
			SecretIDFile: writeFile(t, "secret-id", secretID), AppRoleMount: "approle-atrest"})
		before := srv.Calls("login")
		blob := backendtest.MustSeal(t, b, "l", []byte("s"))
		backendtest.MustUnseal(t, b, "l", blob, []byte("s"))
		if n := srv.Calls("login") - before; n != 1 {
			t.Fatalf("%d logins for two calls, want 1", n)
		}
		// Every token revoked (the login's expired): the next call logs in again.
		srv.RevokeAllTokens()
		backendtest.MustUnseal(t, b, "l", blob, []byte("s"))
		if n := srv.Calls("login") - before; n != 2 {
			t.Fatalf("%d logins after the token was revoked, want 2", n)
		}
	})
}

// secrets are what no error message may contain.
type secrets []string

func (s secrets) check(t *testing.T, err error) {
	t.Helper()
	for _, secret := range s {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q contains a secret", err)
		}
	}
}

// admin changes a Transit key as an operator would, through Vault's API
// (transit/keys/<path>; a nil body deletes the key unless path is a
// rotation).
func admin(t *testing.T, srv *vaulttest.Server, path string, body map[string]any) {
	t.Helper()
	c, err := vault.NewClient(&vault.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(srv.NewToken())
	if body == nil && !strings.HasSuffix(path, "/rotate") {
		_, err = c.Logical().Delete("transit/keys/" + path)
	} else {
		_, err = c.Logical().Write("transit/keys/"+path, body)
	}
	if err != nil {
		t.Fatalf("transit/keys/%s: %v", path, err)
	}
}

// Every error class, each with its own sentinel and a message naming the
// key, and none saying a token or secret id.
func TestVaultErrorMatrix(t *testing.T) {
	srv, tokenFile := newVault(t, vaulttest.Options{})
	srv.CreateKey("other", true)
	srv.CreateKey("rotated", true)
	srv.CreateKey("doomed", true)
	roleID, secretID := srv.NewAppRole("atrest")
	tok, _ := os.ReadFile(tokenFile)
	limited := srv.NewToken("other")
	hide := secrets{strings.TrimSpace(string(tok)), limited, secretID}

	good := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile})
	other := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "other", TokenFile: tokenFile})
	blob := backendtest.MustSeal(t, good, "key-dictionary", []byte("dict"))
	rotated := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "rotated", TokenFile: tokenFile})
	rotatedBlob := backendtest.MustSeal(t, rotated, "key-dictionary", []byte("dict"))
	admin(t, srv, "rotated/rotate", nil)
	admin(t, srv, "rotated/config", map[string]any{"min_decryption_version": 2})
	doomed := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "doomed", TokenFile: tokenFile})
	doomedBlob := backendtest.MustSeal(t, doomed, "key-dictionary", []byte("dict"))
	admin(t, srv, "doomed/config", map[string]any{"deletion_allowed": true})
	admin(t, srv, "doomed", nil)
	forged := bytes.Replace(blob, []byte("key-dictionary"), []byte("key-dictionarz"), 1)
	sb, _ := keyenv.ParseSealedBlob(blob)
	flipped := bytes.Replace(blob, sb.KeyRef, append([]byte("vault:v1:AAAA"), sb.KeyRef[13:]...), 1)

	unseal := func(b keyenv.Backend, label string, blob []byte) error {
		_, err := b.Unseal(context.Background(), label, blob)
		return err
	}
	seal := func(b keyenv.Backend) error {
		_, err := b.Seal(context.Background(), "key-dictionary", []byte("dict"))
		return err
	}
	settings := func(mod func(*keyenv.VaultSettings)) keyenv.Backend {
		s := keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile}
		mod(&s)
		return open(t, s)
	}
	for _, tt := range []struct {
		name     string
		err      error
		sentinel error
		says     string
	}{
		{"blob of another key", unseal(other, "key-dictionary", blob), keyenv.ErrWrongMasterKey, "sealed by the vault key \"transit/keys/atrest\""},
		{"altered Vault ciphertext", unseal(good, "key-dictionary", flipped), keyenv.ErrWrongMasterKey, "not sealed by this Transit key"},
		{"label forged in the header", unseal(good, "key-dictionarz", forged), keyenv.ErrWrongMasterKey, "decrypt"},
		{"no such key", seal(settings(func(s *keyenv.VaultSettings) { s.KeyName = "absent" })), keyenv.ErrKMSKeyNotFound, "encryption key not found"},
		{"deleted key", unseal(doomed, "key-dictionary", doomedBlob), keyenv.ErrKMSKeyNotFound, "no such Transit key"},
		{"no Transit engine at the mount", seal(settings(func(s *keyenv.VaultSettings) { s.Mount = "kv" })), keyenv.ErrKMSKeyNotFound, "mount kv"},
		{"key version disabled", unseal(rotated, "key-dictionary", rotatedBlob), keyenv.ErrKMSKeyDisabled, "min_decryption_version"},
		{"token without permission on the key", seal(settings(func(s *keyenv.VaultSettings) { s.TokenFile = writeFile(t, "limited", limited) })),
			keyenv.ErrKMSAccessDenied, "permission denied"},
		{"revoked token", seal(settings(func(s *keyenv.VaultSettings) { s.TokenFile = writeFile(t, "revoked", "hvs.revoked") })),
			keyenv.ErrKMSAccessDenied, "HTTP 403"},
		{"wrong namespace", seal(settings(func(s *keyenv.VaultSettings) { s.Namespace = "team-b" })), keyenv.ErrKMSAccessDenied, "permission denied"},
		{"missing token file", seal(settings(func(s *keyenv.VaultSettings) { s.TokenFile = "/nonexistent/token" })), keyenv.ErrKMSAccessDenied, "/nonexistent/token"},
		{"unset token variable", seal(settings(func(s *keyenv.VaultSettings) { s.TokenFile, s.TokenEnv = "", "ATREST_UNSET_VARIABLE" })),
			keyenv.ErrKMSAccessDenied, "ATREST_UNSET_VARIABLE"},
		{"wrong secret id", seal(settings(func(s *keyenv.VaultSettings) {
			s.TokenFile, s.RoleID, s.SecretIDFile = "", roleID, writeFile(t, "wrong-secret", secretID+"x")
		})), keyenv.ErrKMSAccessDenied, "invalid role or secret ID"},
		{"no AppRole mount", seal(settings(func(s *keyenv.VaultSettings) {
			s.TokenFile, s.RoleID, s.SecretIDFile, s.AppRoleMount = "", roleID, writeFile(t, "secret", secretID), "ldap"
		})), keyenv.ErrKMSAccessDenied, "auth/ldap"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Log(tt.err)
			backendtest.WantErr(t, tt.err, tt.sentinel)
			for _, s := range []string{tt.says, "/keys/", "vault:" + srv.URL} {
				if !strings.Contains(tt.err.Error(), s) {
					t.Errorf("error %q does not say %q", tt.err, s)
				}
			}
			if n := strings.Count(tt.err.Error(), "keyenv:"); n != 1 {
				t.Errorf("%q says keyenv: %d times", tt.err, n)
			}
			hide.check(t, tt.err)
		})
	}
}

// 503, 429 and 500 are retried a bounded number of times, then fail with
// keyenv.ErrKMSUnreachable; so do hanging requests.
func TestVaultFaults(t *testing.T) {
	srv, tokenFile := newVault(t, vaulttest.Options{})
	b := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile})
	for _, tt := range []struct {
		name  string
		fault vaulttest.Fault
		n     int
		ok    bool
		says  string
	}{
		{"sealed twice, then served", vaulttest.FaultUnavailable, 2, true, ""},
		{"throttled twice, then served", vaulttest.FaultThrottle, 2, true, ""},
		{"500 once, then served", vaulttest.FaultInternal, 1, true, ""},
		{"hanging once, then served", vaulttest.FaultHang, 1, true, ""},
		{"always sealed", vaulttest.FaultUnavailable, -1, false, "Vault is sealed"},
		{"always throttled", vaulttest.FaultThrottle, -1, false, "HTTP 429"},
		{"always 500", vaulttest.FaultInternal, -1, false, "after 3 attempts"},
		{"always hanging", vaulttest.FaultHang, -1, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv.InjectFaults(tt.fault, tt.n)
			defer srv.InjectFaults(vaulttest.FaultNone, 0)
			before := srv.Calls("datakey")
			start := time.Now()
			blob, err := b.Seal(context.Background(), "l", []byte("s"))
			took := time.Since(start)
			want := 3
			if tt.ok {
				want = tt.n + 1
			}
			if calls := srv.Calls("datakey") - before; calls != want {
				t.Errorf("%d attempts, want %d", calls, want)
			}
			if took > 3*time.Second {
				t.Errorf("took %v: retries are not bounded", took)
			}
			if tt.ok {
				if err != nil {
					t.Fatalf("not retried: %v", err)
				}
				srv.InjectFaults(vaulttest.FaultNone, 0)
				backendtest.MustUnseal(t, b, "l", blob, []byte("s"))
				return
			}
			t.Log(err)
			backendtest.WantErr(t, err, keyenv.ErrKMSUnreachable)
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}

// The whole-call timeout bounds a call however many attempts are left.
func TestVaultCallTimeout(t *testing.T) {
	srv, tokenFile := newVault(t, vaulttest.Options{})
	b, err := Open(context.Background(), keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile},
		keyenv.WithKMSAttempts(10), keyenv.WithKMSTimeouts(400*time.Millisecond, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	srv.InjectFaults(vaulttest.FaultHang, -1)
	defer srv.InjectFaults(vaulttest.FaultNone, 0)
	start := time.Now()
	_, err = b.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantErr(t, err, keyenv.ErrKMSUnreachable)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("a 400 ms call took %v", took)
	}
}

// An unreachable Vault is not a wrong master key: keyenv.MasterKeys does
// not fall back to the previous key.
func TestVaultUnreachable(t *testing.T) {
	srv, tokenFile := newVault(t, vaulttest.Options{})
	live := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile})
	blob := backendtest.MustSeal(t, live, "l", []byte("s"))
	dead := "http://" + backendtest.ClosedAddr(t)
	b := open(t, keyenv.VaultSettings{Address: dead, KeyName: "atrest", TokenFile: tokenFile})
	m := &keyenv.MasterKeys{Current: b, Previous: backendtest.NewFileBackend(t)}
	start := time.Now()
	_, _, err := m.Unseal(context.Background(), "l", blob)
	t.Log(err)
	backendtest.WantErr(t, err, keyenv.ErrKMSUnreachable)
	if errors.Is(err, keyenv.ErrBothMasterKeysFailed) {
		t.Fatal("fell back to the previous key because Vault was down")
	}
	_, err = b.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantErr(t, err, keyenv.ErrKMSUnreachable)
	if !strings.Contains(err.Error(), "network error after 3 attempts") {
		t.Errorf("error %q does not say how many attempts", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("two calls to a closed port took %v", took)
	}

	// A server that hangs up on every connection: each attempt connects.
	hangUp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hangUp.Close()
	accepted := make(chan struct{}, 100)
	go func() {
		for {
			c, err := hangUp.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	b = open(t, keyenv.VaultSettings{Address: "http://" + hangUp.Addr().String(), KeyName: "atrest", TokenFile: tokenFile})
	_, err = b.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantErr(t, err, keyenv.ErrKMSUnreachable)
	if n := len(accepted); n != 3 {
		t.Errorf("%d connections for 3 attempts", n)
	}
}

// TLS: the server's certificate is checked against ca-file, under the
// name tls-server-name gives, whatever VAULT_CACERT and VAULT_SKIP_VERIFY
// say.
func TestVaultTLS(t *testing.T) {
	srv, tokenFile := newVault(t, vaulttest.Options{TLS: true})
	ca := writeFile(t, "ca.pem", string(srv.CertificatePEM()))
	t.Setenv("VAULT_CACERT", ca)
	t.Setenv("VAULT_SKIP_VERIFY", "true")
	ok := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile, CAFile: ca})
	backendtest.MustUnseal(t, ok, "l", backendtest.MustSeal(t, ok, "l", []byte("s")), []byte("s"))
	named := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile, CAFile: ca, TLSServerName: "example.com"})
	backendtest.MustUnseal(t, named, "l", backendtest.MustSeal(t, named, "l", []byte("s")), []byte("s"))

	for _, tt := range []struct {
		name string
		s    keyenv.VaultSettings
	}{
		{"no ca-file", keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile}},
		{"another name", keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile, CAFile: ca, TLSServerName: "vault.example.org"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Calls("datakey")
			_, err := open(t, tt.s).Seal(context.Background(), "l", []byte("s"))
			backendtest.WantErr(t, err, keyenv.ErrKMSUnreachable)
			if !strings.Contains(err.Error(), "not trusted") || srv.Calls("datakey") != before {
				t.Fatalf("error %q, %d requests served", err, srv.Calls("datakey")-before)
			}
		})
	}
	_, err := Open(context.Background(), keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile, CAFile: tokenFile})
	backendtest.WantErr(t, err, keyenv.ErrConfig)
}

func TestVaultBadSettings(t *testing.T) {
	for _, s := range []keyenv.VaultSettings{
		{KeyName: "k", TokenFile: "/t"},
		{Address: "vault.example:8200", KeyName: "k", TokenFile: "/t"},
		{Address: "https://v", TokenFile: "/t"},
		{Address: "https://v", KeyName: "a/b", TokenFile: "/t"},
		{Address: "https://v", KeyName: "k"},
		{Address: "https://v", KeyName: "k", TokenFile: "/t", TokenEnv: "T"},
		{Address: "https://v", KeyName: "k", RoleID: "r"},
	} {
		if _, err := Open(context.Background(), s); !errors.Is(err, keyenv.ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", s, err)
		}
	}
}

// Importing the package registers it for type "vault".
func TestRegistered(t *testing.T) {
	srv, tokenFile := newVault(t, vaulttest.Options{})
	mk := keyenv.MasterKeyConfig{Type: keyenv.KindVault, Vault: keyenv.VaultSettings{Address: srv.URL, Mount: "transit", KeyName: "atrest", TokenFile: tokenFile}}
	b := backendtest.OpenRegistered(t, mk, fastVault...)
	if b.Kind() != keyenv.KindVault || !b.Secure() {
		t.Fatalf("kind %v secure %v", b.Kind(), b.Secure())
	}
}

// Vault's own key rotation is transparent (new blobs use the new version,
// old ones keep opening), a key created without derived=true works too,
// and VAULT_TOKEN, VAULT_NAMESPACE and VAULT_ADDR are ignored.
func TestVaultKeyVersionsAndEnvironment(t *testing.T) {
	srv, tokenFile := newVault(t, vaulttest.Options{})
	srv.CreateKey("plain", false)
	b := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile})
	v1 := backendtest.MustSeal(t, b, "l", []byte("one"))
	admin(t, srv, "atrest/rotate", nil)
	v2 := backendtest.MustSeal(t, b, "l", []byte("two"))
	backendtest.MustUnseal(t, b, "l", v1, []byte("one"))
	backendtest.MustUnseal(t, b, "l", v2, []byte("two"))
	if sb, _ := keyenv.ParseSealedBlob(v2); !strings.HasPrefix(string(sb.KeyRef), "vault:v2:") {
		t.Fatalf("a blob sealed after the rotation names %q", sb.KeyRef[:9])
	}

	plain := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "plain", TokenFile: tokenFile})
	backendtest.MustUnseal(t, plain, "l", backendtest.MustSeal(t, plain, "l", []byte("s")), []byte("s"))

	t.Setenv("VAULT_TOKEN", srv.NewToken())
	t.Setenv("VAULT_NAMESPACE", "elsewhere")
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	env := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: tokenFile})
	backendtest.MustUnseal(t, env, "l", backendtest.MustSeal(t, env, "l", []byte("s")), []byte("s"))
	revoked := open(t, keyenv.VaultSettings{Address: srv.URL, KeyName: "atrest", TokenFile: writeFile(t, "revoked", "hvs.revoked")})
	_, err := revoked.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantErr(t, err, keyenv.ErrKMSAccessDenied)
}

// An answer that says no is not retried.
func TestVaultRefusalsNotRetried(t *testing.T) {
	srv, tokenFile := newVault(t, vaulttest.Options{})
	for _, s := range []keyenv.VaultSettings{
		{Address: srv.URL, KeyName: "absent", TokenFile: tokenFile},
		{Address: srv.URL, KeyName: "atrest", TokenFile: writeFile(t, "revoked", "hvs.revoked")},
	} {
		before := srv.Calls("datakey")
		if _, err := open(t, s).Seal(context.Background(), "l", []byte("s")); err == nil {
			t.Fatal("no error")
		}
		if n := srv.Calls("datakey") - before; n != 1 {
			t.Errorf("%s: %d requests for a refusal, want 1", s.KeyName, n)
		}
	}
}

// A blob records the key's mount and name, not the address: the same Vault
// reached at another address (localhost for 127.0.0.1 here) opens it, and
// the record names no address.
func TestVaultRecordOmitsAddress(t *testing.T) {
	srv, tokenFile := newVault(t, vaulttest.Options{})
	s := keyenv.VaultSettings{Address: srv.URL, Mount: "transit", KeyName: "atrest", TokenFile: tokenFile, AppRoleMount: "approle"}
	blob := backendtest.MustSeal(t, open(t, s), "key-dictionary", []byte("secret"))
	sb, err := keyenv.ParseSealedBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := sb.Record(); !ok || string(r.Identity) != "transit/keys/atrest" {
		got := string(r.Identity)
		t.Fatalf("recorded identity %q", got)
	}
	s.Address = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	backendtest.MustUnseal(t, open(t, s), "key-dictionary", blob, []byte("secret"))
}
