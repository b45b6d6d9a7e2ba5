// Package vaulttransit is the HashiCorp Vault / OpenBao Transit master-key
// backend of keyenv, in a package of its own so that only a program that
// imports it links Vault's API client. Importing it registers the backend
// for master-key sections of type "vault":
//
//	import _ "github.com/atrest/atrest/keyenv/vaulttransit"
//
// Each seal asks Transit for a fresh 256-bit data key
// (transit/datakey/plaintext/<key>); the blob keeps Vault's ciphertext of
// it ("vault:v1:…") as its key reference, and unsealing asks
// transit/decrypt/<key> for the data key again. Both calls carry a
// context naming the blob's label and format version: with a key created
// with derived=true, Vault derives a key per context, so a data key moved
// to another label does not decrypt. (Transit's datakey endpoint takes a
// context but no associated_data, so context it is; a non-derived key
// ignores the context, and the label is then bound by keyenv's own
// AES-GCM alone.)
//
// Errors wrap keyenv's sentinels: keyenv.ErrWrongMasterKey,
// keyenv.ErrKMSUnreachable, keyenv.ErrKMSKeyNotFound,
// keyenv.ErrKMSKeyDisabled, keyenv.ErrKMSAccessDenied, keyenv.ErrConfig.
package vaulttransit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	vault "github.com/hashicorp/vault/api"

	"github.com/atrest/atrest/keyenv"
)

func init() {
	keyenv.RegisterBackend(keyenv.KindVault, "", openSection)
}

func openSection(ctx context.Context, mk keyenv.MasterKeyConfig, opts ...keyenv.Option) (keyenv.Backend, error) {
	return Open(ctx, mk.Vault, opts...)
}

// Open returns the backend for the Transit key s names. It logs in with
// exactly one of: the token in s.TokenFile (read again at every call, so a
// Vault Agent sink that renews it works), the token in the variable
// s.TokenEnv, or AppRole (s.RoleID with the secret id in s.SecretIDFile,
// logging in at the first call and again when Vault refuses the token).
// s.Namespace goes in the X-Vault-Namespace header; s.CAFile and
// s.TLSServerName configure TLS. Calls are bounded by keyenv's KMS
// options: keyenv.WithKMSTimeouts (the whole call, each attempt),
// keyenv.WithKMSAttempts (5xx and 429 are retried) and
// keyenv.WithKMSMaxBackoff.
//
// Open does not call Vault: a Vault that cannot be reached shows at the
// first Seal or Unseal, as an error wrapping keyenv.ErrKMSUnreachable.
func Open(_ context.Context, s keyenv.VaultSettings, opts ...keyenv.Option) (keyenv.Backend, error) {
	if s.Mount == "" {
		s.Mount = "transit"
	}
	if s.AppRoleMount == "" {
		s.AppRoleMount = "approle"
	}
	s.Mount, s.AppRoleMount, s.Namespace = strings.Trim(s.Mount, "/"), strings.Trim(s.AppRoleMount, "/"), strings.Trim(s.Namespace, "/")
	if err := checkSettings(s); err != nil {
		return nil, fmt.Errorf("keyenv: %w: vault master key: %w", keyenv.ErrConfig, err)
	}
	o := keyenv.ApplyOptions(opts...)
	tlsConfig, err := tlsConfig(s)
	if err != nil {
		return nil, err
	}
	// The client is configured here alone: vault.DefaultConfig would take
	// VAULT_ADDR, VAULT_CACERT, VAULT_SKIP_VERIFY and more from the
	// environment.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	cfg := &vault.Config{
		Address: s.Address,
		HttpClient: &http.Client{Transport: transport, Timeout: o.KMSAttemptTimeout,
			// Vault's client follows Vault's redirects itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		Timeout:      o.KMSTimeout,
		MaxRetries:   o.KMSAttempts - 1,
		MinRetryWait: 500 * time.Millisecond,
		MaxRetryWait: 1500 * time.Millisecond,
		Backoff:      retryablehttp.RateLimitLinearJitterBackoff,
	}
	if o.KMSMaxBackoff > 0 {
		cfg.MaxRetryWait = o.KMSMaxBackoff
		cfg.MinRetryWait = min(cfg.MinRetryWait, o.KMSMaxBackoff)
	}
	client, err := vault.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("keyenv: %w: vault client: %w", keyenv.ErrConfig, err)
	}
	// NewClient takes VAULT_TOKEN and VAULT_NAMESPACE from the
	// environment; only the configuration counts here.
	client.ClearToken()
	client.ClearNamespace()
	if s.Namespace != "" {
		client.SetNamespace(s.Namespace)
	}
	return keyenv.NewEnvelope(&transitKey{s: s, client: client, opts: o}), nil
}

// tlsConfig trusts the CA in s.CAFile (the system's when empty) for the
// name s.TLSServerName (the address's host when empty).
func tlsConfig(s keyenv.VaultSettings) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.TLSServerName}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("keyenv: %w: vault ca-file: %w", keyenv.ErrConfig, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("keyenv: %w: vault ca-file %s holds no PEM certificate", keyenv.ErrConfig, s.CAFile)
		}
	}
	return cfg, nil
}

func checkSettings(s keyenv.VaultSettings) error {
	u, err := url.Parse(s.Address)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("address %q is not an http(s) URL", s.Address)
	}
	if s.KeyName == "" || strings.Contains(s.KeyName, "/") {
		return fmt.Errorf("key-name %q is not a Transit key name", s.KeyName)
	}
	ways := 0
	for _, set := range []bool{s.TokenFile != "", s.TokenEnv != "", s.RoleID != "" || s.SecretIDFile != ""} {
		if set {
			ways++
		}
	}
	if ways != 1 || (s.RoleID == "") != (s.SecretIDFile == "") {
		return fmt.Errorf("needs exactly one of token-file, token-env and role-id with secret-id-file")
	}
	return nil
}

// transitKey is the keyenv.KeySource of a Transit key.
type transitKey struct {
	s      keyenv.VaultSettings
	client *vault.Client
	opts   keyenv.Settings

	mu    sync.Mutex
	token string // the AppRole login's token, "" until logged in
}

func (k *transitKey) Kind() keyenv.Kind { return keyenv.KindVault }

// ID names the key: address, namespace, mount and key name.
func (k *transitKey) ID() string {
	return "vault:" + strings.TrimRight(k.s.Address, "/") + " " + k.keyPath()
}

// KeyIdentity is what a blob records of the key: namespace, mount and key
// name, without the address, so that a Vault reached at another address
// (a new load balancer, say) still opens the blobs it sealed.
func (k *transitKey) KeyIdentity([]byte) []byte { return []byte(k.keyPath()) }

// HoldsKey reports whether a blob's recorded identity names this key.
func (k *transitKey) HoldsKey(identity []byte) bool { return string(identity) == k.keyPath() }

// keyPath is the key's namespace, mount and name.
func (k *transitKey) keyPath() string {
	ns := ""
	if k.s.Namespace != "" {
		ns = k.s.Namespace + "/"
	}
	return ns + k.s.Mount + "/keys/" + k.s.KeyName
}

func (k *transitKey) Close() error { return nil }

// contextFormat versions the derivation context. It is fixed, not the
// blob's format version: a data key must derive from the same context for
// as long as blobs sealed with it exist.
const contextFormat = "1"

// derivationContext binds the data key to the label: a derived Transit key
// is a different key for every context.
func derivationContext(label string) string {
	return base64.StdEncoding.EncodeToString([]byte("atrest-format=" + contextFormat + ";atrest-label=" + label))
}

func (k *transitKey) SealingKey(ctx context.Context, label string) (*keyenv.Secret, []byte, error) {
	data, err := k.write(ctx, "datakey", k.s.Mount+"/datakey/plaintext/"+k.s.KeyName,
		map[string]any{"context": derivationContext(label), "bits": keyenv.SealingKeyBytes * 8})
	if err != nil {
		return nil, nil, err
	}
	ct, _ := data["ciphertext"].(string)
	key, err := decodeKey(data, "plaintext")
	if err != nil || !strings.HasPrefix(ct, "vault:") {
		return nil, nil, fmt.Errorf("keyenv: %s: datakey returned no usable key and ciphertext", k.ID())
	}
	return key, []byte(ct), nil
}

func (k *transitKey) UnsealingKey(ctx context.Context, label string, ref []byte) (*keyenv.Secret, error) {
	if !strings.HasPrefix(string(ref), "vault:v") {
		return nil, fmt.Errorf("keyenv: %s: %w: the key reference is not a Vault ciphertext", k.ID(), keyenv.ErrWrongMasterKey)
	}
	data, err := k.write(ctx, "decrypt", k.s.Mount+"/decrypt/"+k.s.KeyName,
		map[string]any{"ciphertext": string(ref), "context": derivationContext(label)})
	if err != nil {
		return nil, err
	}
	key, err := decodeKey(data, "plaintext")
	if err != nil {
		return nil, fmt.Errorf("keyenv: %s: %w: decrypt returned no %d-byte key", k.ID(), keyenv.ErrCorruptBlob, keyenv.SealingKeyBytes)
	}
	return key, nil
}

// decodeKey takes the base64 data key in data[field], which must be
// SealingKeyBytes long.
func decodeKey(data map[string]any, field string) (*keyenv.Secret, error) {
	b64, _ := data[field].(string)
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != keyenv.SealingKeyBytes {
		clear(raw)
		return nil, fmt.Errorf("bad data key")
	}
	return keyenv.SecretFrom(raw)
}

// write sends one Transit request with the configured token, logging in
// (again) with AppRole when Vault refuses the token.
func (k *transitKey) write(ctx context.Context, op, path string, body map[string]any) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, k.opts.KMSTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		client, err := k.authenticated(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		sec, err := client.Logical().WriteWithContext(ctx, path, body)
		if err != nil {
			if attempt == 0 && k.s.RoleID != "" && statusOf(err) == 403 {
				continue // the AppRole token expired or was revoked
			}
			return nil, k.classify(op, err)
		}
		if sec == nil || sec.Data == nil {
			return nil, fmt.Errorf("keyenv: %s: %w: %s: Vault answered with no data (is %s a Transit mount?)", k.ID(), keyenv.ErrKMSKeyNotFound, op, k.s.Mount)
		}
		return sec.Data, nil
	}
}

// authenticated returns the client with a token set: the token file's or
// variable's, or the AppRole login's (a new login when relogin).
func (k *transitKey) authenticated(ctx context.Context, relogin bool) (*vault.Client, error) {
	switch {
	case k.s.TokenFile != "":
		b, err := os.ReadFile(k.s.TokenFile)
		tok := strings.TrimSpace(string(b))
		if err != nil || tok == "" {
			return nil, fmt.Errorf("keyenv: %s: %w: token-file %s is unreadable or empty", k.ID(), keyenv.ErrKMSAccessDenied, k.s.TokenFile)
		}
		return k.withToken(tok), nil
	case k.s.TokenEnv != "":
		tok := strings.TrimSpace(k.opts.Getenv(k.s.TokenEnv))
		if tok == "" {
			return nil, fmt.Errorf("keyenv: %s: %w: token-env %s is unset or empty", k.ID(), keyenv.ErrKMSAccessDenied, k.s.TokenEnv)
		}
		return k.withToken(tok), nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.token == "" || relogin {
		tok, err := k.login(ctx)
		if err != nil {
			return nil, err
		}
		k.token = tok
	}
	return k.withToken(k.token), nil
}

// withToken is a copy of the client (same configuration and transport)
// that sends tok, or no token when tok is "".
func (k *transitKey) withToken(tok string) *vault.Client {
	c := k.client.WithNamespace(k.s.Namespace)
	if tok == "" {
		c.ClearToken()
	} else {
		c.SetToken(tok)
	}
	return c
}

// login logs in with AppRole and returns the token.
func (k *transitKey) login(ctx context.Context) (string, error) {
	b, err := os.ReadFile(k.s.SecretIDFile)
	secretID := strings.TrimSpace(string(b))
	if err != nil || secretID == "" {
		return "", fmt.Errorf("keyenv: %s: %w: secret-id-file %s is unreadable or empty", k.ID(), keyenv.ErrKMSAccessDenied, k.s.SecretIDFile)
	}
	sec, err := k.withToken("").Logical().WriteWithContext(ctx, "auth/"+k.s.AppRoleMount+"/login",
		map[string]any{"role_id": k.s.RoleID, "secret_id": secretID})
	if err != nil {
		if s := statusOf(err); s == 400 || s == 403 || s == 404 {
			// Vault answers a wrong role or secret id with 400, a login
			// at a path no AppRole is mounted at with 403 or 404.
			return "", fmt.Errorf("keyenv: %s: %w: AppRole login at auth/%s refused: %s", k.ID(), keyenv.ErrKMSAccessDenied, k.s.AppRoleMount, vaultMessage(err))
		}
		return "", k.classify("AppRole login", err)
	}
	if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		return "", fmt.Errorf("keyenv: %s: %w: AppRole login at auth/%s returned no token", k.ID(), keyenv.ErrKMSAccessDenied, k.s.AppRoleMount)
	}
	return sec.Auth.ClientToken, nil
}
