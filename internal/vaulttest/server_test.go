package vaulttest

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

func client(t *testing.T, srv *Server, token string) *vault.Client {
	t.Helper()
	cfg := &vault.Config{Address: srv.URL, MaxRetries: 0}
	c, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// The answers Vault's API documentation gives, through Vault's own client.
func TestTransitAnswers(t *testing.T) {
	srv := New(Options{})
	defer srv.Close()
	srv.CreateKey("derived", true)
	srv.CreateKey("plain", false)
	c := client(t, srv, srv.NewToken())

	dk, err := c.Logical().Write("transit/datakey/plaintext/derived", map[string]any{"context": b64("a")})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := base64.StdEncoding.DecodeString(dk.Data["plaintext"].(string))
	ct := dk.Data["ciphertext"].(string)
	if len(plain) != 32 || ct[:9] != "vault:v1:" {
		t.Fatalf("datakey answered %d key bytes and ciphertext %q", len(plain), ct)
	}
	dec, err := c.Logical().Write("transit/decrypt/derived", map[string]any{"ciphertext": ct, "context": b64("a")})
	if err != nil || dec.Data["plaintext"] != dk.Data["plaintext"] {
		t.Fatalf("decrypt: %v", err)
	}
	wrapped, err := c.Logical().Write("transit/datakey/wrapped/plain", nil)
	if err != nil || wrapped.Data["plaintext"] != nil || wrapped.Data["ciphertext"] == nil {
		t.Fatalf("wrapped datakey: %v %v", wrapped, err)
	}
	// A non-derived key ignores the context, as Vault's do.
	enc, err := c.Logical().Write("transit/encrypt/plain", map[string]any{"plaintext": b64("x"), "context": b64("a")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("transit/decrypt/plain", map[string]any{"ciphertext": enc.Data["ciphertext"], "context": b64("b")}); err != nil {
		t.Fatalf("non-derived key with another context: %v", err)
	}

	for _, tt := range []struct {
		name, path string
		body       map[string]any
		token      string
		status     int
		says       string
	}{
		{"other context", "transit/decrypt/derived", map[string]any{"ciphertext": ct, "context": b64("b")}, "", 400, "cipher: message authentication failed"},
		{"no context", "transit/decrypt/derived", map[string]any{"ciphertext": ct}, "", 400, "missing 'context' for key derivation"},
		{"no such key", "transit/datakey/plaintext/absent", nil, "", 400, "encryption key not found"},
		{"no prefix", "transit/decrypt/derived", map[string]any{"ciphertext": "abc", "context": b64("a")}, "", 400, "invalid ciphertext: no prefix"},
		{"future version", "transit/decrypt/derived", map[string]any{"ciphertext": "vault:v9:AAAA", "context": b64("a")}, "", 400, "invalid key version"},
		{"bad token", "transit/datakey/plaintext/derived", nil, "hvs.bad", 403, "permission denied"},
		{"token of another key", "transit/datakey/plaintext/derived", map[string]any{"context": b64("a")}, srv.NewToken("plain"), 403, "permission denied"},
		{"no such mount", "kv/datakey/plaintext/derived", nil, "", 404, "no handler for route"},
		{"min_decryption_version above the latest", "transit/keys/derived/config", map[string]any{"min_decryption_version": 5}, "", 400, "min decryption version"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cc := c
			if tt.token != "" {
				cc = client(t, srv, tt.token)
			}
			_, err := cc.Logical().Write(tt.path, tt.body)
			var re *vault.ResponseError
			if !errors.As(err, &re) || re.StatusCode != tt.status || len(re.Errors) != 1 || !strings.Contains(re.Errors[0], tt.says) {
				t.Fatalf("%v, want %d %q", err, tt.status, tt.says)
			}
		})
	}
	if _, err := c.Logical().Delete("transit/keys/plain"); err == nil {
		t.Fatal("deleted a key without deletion_allowed")
	}
}

func TestAppRoleLoginAndNamespace(t *testing.T) {
	srv := New(Options{Namespace: "ns1", AppRoleMount: "ar"})
	defer srv.Close()
	srv.CreateKey("k", false)
	roleID, secretID := srv.NewAppRole("k")
	c := client(t, srv, "")
	c.SetNamespace("ns1")
	sec, err := c.Logical().Write("auth/ar/login", map[string]any{"role_id": roleID, "secret_id": secretID})
	if err != nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		t.Fatalf("login: %v", err)
	}
	c.SetToken(sec.Auth.ClientToken)
	if _, err := c.Logical().Write("transit/datakey/plaintext/k", nil); err != nil {
		t.Fatal(err)
	}
	c.SetNamespace("ns2")
	if _, err := c.Logical().Write("transit/datakey/plaintext/k", nil); err == nil {
		t.Fatal("a token of ns1 worked in ns2")
	}
	c.SetNamespace("ns1")
	if _, err := c.Logical().Write("auth/ar/login", map[string]any{"role_id": roleID, "secret_id": "x"}); err == nil {
		t.Fatal("logged in with a wrong secret id")
	}
}

func TestFaults(t *testing.T) {
	srv := New(Options{})
	defer srv.Close()
	srv.CreateKey("k", false)
	c := client(t, srv, srv.NewToken())
	for _, tt := range []struct {
		f      Fault
		status int
	}{{FaultUnavailable, 503}, {FaultThrottle, 429}, {FaultInternal, 500}} {
		srv.InjectFaults(tt.f, 1)
		_, err := c.Logical().Write("transit/datakey/plaintext/k", nil)
		var re *vault.ResponseError
		if !errors.As(err, &re) || re.StatusCode != tt.status {
			t.Errorf("fault %d: %v", tt.f, err)
		}
		if _, err := c.Logical().Write("transit/datakey/plaintext/k", nil); err != nil {
			t.Errorf("fault %d injected more than once: %v", tt.f, err)
		}
	}
	if srv.Calls("datakey") != 6 {
		t.Errorf("%d datakey calls counted, want 6", srv.Calls("datakey"))
	}
}
