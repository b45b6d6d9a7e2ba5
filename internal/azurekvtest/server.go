// Package azurekvtest runs a fake Azure Key Vault, with the Microsoft
// Entra ID token endpoint it needs, for tests.
//
// It is a fake because neither Azure Key Vault nor Entra ID can be reached
// from where atrest's tests run (no network beyond package registries) and
// Microsoft ships no Key Vault emulator. The server speaks the REST API the
// Azure SDK for Go calls (azkeys and azidentity), over HTTPS on 127.0.0.1,
// so the real SDK runs against it: ClientOptions returns what points the
// SDK at it.
//
// Entra ID: the OpenID configuration of a tenant and its token endpoint
// (/{tenant}/oauth2/v2.0/token), which issues bearer tokens for the client
// credentials grant to the one client it knows, by client secret or by a
// client assertion signed with the client certificate's key (the signature
// is checked). Key Vault: the challenge of an unauthenticated request (401
// with WWW-Authenticate naming the tenant), GetKey, WrapKey and UnwrapKey,
// with RSA-OAEP-256 under real RSA keys and A256KW (RFC 3394) under
// Managed HSM style "oct-HSM" keys, several versions per key.
//
// Errors are answered with the status codes and error codes Key Vault
// uses: 404 KeyNotFound, 403 Forbidden (no permission), 403 Forbidden with
// inner error KeyDisabled (UnwrapKey, or WrapKey under a symmetric key, on
// a disabled key: like Key Vault, the server still shows a disabled key,
// with "enabled": false, and still wraps under a disabled RSA key, a
// public-key operation), 401 for a bad token, 400
// BadParameter for a value the key cannot unwrap. Fail and Hang inject
// faults; Calls counts what reached the server.
package azurekvtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

// Options configure a Server: the one client it issues tokens to.
type Options struct {
	TenantID     string            // the one tenant; its challenge names it
	ClientID     string            // the one application (client) id
	ClientSecret string            // accepted secret; empty: none
	ClientCert   *x509.Certificate // accepted assertion signer; nil: none
}

// KeyType is the type of a key CreateKey makes.
type KeyType string

// The key types the server makes: RSA keys (Key Vault) and symmetric keys
// (Managed HSM).
const (
	RSA    KeyType = "RSA"
	RSAHSM KeyType = "RSA-HSM"
	OctHSM KeyType = "oct-HSM"
)

// Server is a running fake Key Vault and Entra ID. Its methods are safe
// for concurrent use.
type Server struct {
	// URL is the server's base URL, https://127.0.0.1:port: the vault URL
	// and the authority host at once.
	URL string

	opts      Options
	ts        *httptest.Server
	done      chan struct{} // closed by Close
	closeOnce sync.Once

	mu         sync.Mutex
	keys       map[string]*key
	tokens     map[string]bool
	last       string // the token issued last
	fault      fault
	tokenFault fault
	calls      map[string]int
	seen       [][]byte // values WrapKey was given
}

type key struct {
	kty      KeyType
	versions []*keyVersion // the last is current
	disabled bool
	denied   bool
}

type keyVersion struct {
	id  string
	rsa *rsa.PrivateKey
	oct []byte
}

// fault is what the next n Key Vault calls answer instead of their work.
type fault struct {
	status int  // 0: none
	hang   bool // hold until the client gives up
	n      int  // calls left; < 0: all
}

// New starts a server. Close stops it.
func New(opts Options) *Server {
	s := &Server{opts: opts, done: make(chan struct{}), keys: map[string]*key{}, tokens: map[string]bool{}, calls: map[string]int{}}
	s.ts = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	s.URL = s.ts.URL
	return s
}

// Close stops the server, releasing calls Hang holds.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// ClientOptions point the Azure SDK at the server: its certificate trusted
// by the transport, and its URL as the Entra ID authority host.
func (s *Server) ClientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Transport: s.ts.Client(),
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: s.URL + "/",
			Services:                     map[cloud.ServiceName]cloud.ServiceConfiguration{},
		},
	}
}

// CreateKey makes a key of type kty with one version and returns its
// name.
func (s *Server) CreateKey(name string, kty KeyType) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name] = &key{kty: kty}
	s.addVersionLocked(name)
	return name
}

// RotateKey adds a version to the key, which becomes its current one, and
// returns the version's id.
func (s *Server) RotateKey(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addVersionLocked(name)
}

func (s *Server) addVersionLocked(name string) string {
	k := s.keys[name]
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	v := &keyVersion{id: hex.EncodeToString(id)}
	if k.kty == OctHSM {
		v.oct = make([]byte, 32)
		_, _ = rand.Read(v.oct)
	} else {
		var err error
		if v.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	}
	k.versions = append(k.versions, v)
	return v.id
}

// SetEnabled enables or disables a key, as its "enabled" attribute does.
func (s *Server) SetEnabled(name string, enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name].disabled = !enabled
}

// Deny makes the key refuse the client with 403 Forbidden, as Key Vault
// does for a caller without the permission; Deny(name, false) lifts it.
func (s *Server) Deny(name string, denied bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name].denied = denied
}

// Fail makes the next n Key Vault calls (all if n < 0) answer with HTTP
// status code; 0 clears the fault. 429 answers carry Retry-After: 0.
func (s *Server) Fail(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = fault{status: status, n: n}
}

// FailTokens makes the next n token requests (all if n < 0) answer with
// HTTP status code, as Entra ID does when it is down or throttling; 0
// clears the fault.
func (s *Server) FailTokens(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenFault = fault{status: status, n: n}
}

// Hang makes the next n Key Vault calls (all if n < 0) hold until the
// client gives up or the server closes.
func (s *Server) Hang(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = fault{status: http.StatusGatewayTimeout, hang: true, n: n}
}

// RevokeLastToken forgets the token issued last, as if it had been
// revoked: Key Vault calls with it are answered 401.
func (s *Server) RevokeLastToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, s.last)
}

// Plaintexts returns copies of the values WrapKey was given, so a test
// can check that no data key shows where it must not.
func (s *Server) Plaintexts() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.seen))
	for i, p := range s.seen {
		out[i] = append([]byte(nil), p...)
	}
	return out
}

// Calls is how many calls of op reached the server: "GetKey", "WrapKey",
// "UnwrapKey" with a valid token (faulted ones included), "Challenge" for
// Key Vault calls answered 401 for want of one, "Token" for token
// requests.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *Server) count(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
}

// takeFault returns the fault this call is to answer, if any, from *f.
func (s *Server) takeFault(f *fault) (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.status == 0 || f.n == 0 {
		return fault{}, false
	}
	taken := *f
	if f.n > 0 {
		f.n--
	}
	return taken, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 4 && parts[1] == "v2.0" && parts[2] == ".well-known" && parts[3] == "openid-configuration":
		s.openIDConfiguration(w, parts[0])
	case len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token" && r.Method == http.MethodPost:
		s.count("Token")
		s.token(w, r, parts[0])
	case len(parts) >= 2 && parts[0] == "keys":
		s.keyOperation(w, r, parts[1:])
	default:
		http.NotFound(w, r)
	}
}

// holdCap bounds how long Hang holds a call whose client never gives up.
const holdCap = 30 * time.Second

// hold waits for the client to give up, the server to close, or holdCap.
// It reads the request body first: only then does the server notice a
// client that closes the connection.
func (s *Server) hold(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	t := time.NewTimer(holdCap)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-s.done:
	case <-t.C:
	}
}

// vaultError answers a Key Vault error body.
func vaultError(w http.ResponseWriter, status int, code, message, inner string) {
	body := map[string]any{"code": code, "message": message}
	if inner != "" {
		body["innererror"] = map[string]string{"code": inner}
	}
	writeJSON(w, status, map[string]any{"error": body})
}

// challenge answers 401 with the Key Vault challenge that names the tenant
// and the resource to ask a token for.
func (s *Server) challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="%s/%s", resource="https://vault.azure.net"`, s.URL, s.opts.TenantID))
	vaultError(w, http.StatusUnauthorized, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", "")
}
