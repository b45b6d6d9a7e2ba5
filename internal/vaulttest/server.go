// Package vaulttest is an in-process fake of the parts of the HashiCorp
// Vault (and OpenBao) HTTP API that keyenv/vaulttransit uses: the Transit
// secrets engine (keys, datakey, encrypt, decrypt, key config, rotate,
// delete), AppRole login, X-Vault-Token checks and the X-Vault-Namespace
// header, with fault injection (503, 429, hanging requests).
//
// It is a fake because no Vault or OpenBao server can be installed on the
// machines the tests run on: Debian has no package for either, and the Go
// module proxy refuses both modules as installable commands (OpenBao lists
// no version, and Vault's main module uses replace directives). It answers
// with the JSON shapes and status codes Vault's API documentation and source
// give: {"data": {...}} on success, {"errors": ["..."]} with 400 for a
// missing key ("encryption key not found"), a ciphertext that does not
// authenticate ("cipher: message authentication failed") or one below
// min_decryption_version ("ciphertext or signature version is disallowed
// by policy (too old)"), 403 "permission denied" for a bad token, 404 for
// a path no engine is mounted at, 429 and 503 when injected. Ciphertexts
// are "vault:v<version>:" and base64 of nonce and AES-256-GCM output, and
// derived keys use HKDF-SHA256 with the request's context, as Vault does.
package vaulttest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Fault is a failure the server injects instead of answering.
type Fault int

// The faults InjectFaults knows.
const (
	FaultNone        Fault = iota
	FaultUnavailable       // 503 {"errors":["Vault is sealed"]}
	FaultThrottle          // 429, as a rate-limit quota answers
	FaultInternal          // 500 {"errors":["internal error"]}
	FaultHang              // no answer until the client gives up
)

// Options configure a Server.
type Options struct {
	// Mount is where the Transit engine is mounted ("transit" when empty).
	Mount string
	// Namespace, when set, is the only namespace tokens are valid in
	// (requests must carry it in X-Vault-Namespace).
	Namespace string
	// AppRoleMount is where AppRole auth is mounted ("approle" when empty).
	AppRoleMount string
	// TLS serves HTTPS with httptest's certificate (for example.com and
	// 127.0.0.1); the client needs the Certificate as its CA.
	TLS bool
}

// Server is a running fake Vault. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's address, http://127.0.0.1:port (https with TLS).
	URL  string
	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	keys     map[string]*transitKey
	tokens   map[string]map[string]bool // token -> key names it may use (nil: all)
	roles    map[string]role            // role id -> secret id and key names
	calls    map[string]int
	fault    Fault
	faultsN  int // faults left to inject; -1: all requests
	hang     chan struct{}
	closeOne sync.Once
}

type transitKey struct {
	derived         bool
	versions        [][]byte // versions[i] is version i+1
	minDecryption   int
	deletionAllowed bool
}

type role struct {
	secretID string
	keys     []string
}

// New starts a fake Vault on 127.0.0.1.
func New(o Options) *Server {
	if o.Mount == "" {
		o.Mount = "transit"
	}
	if o.AppRoleMount == "" {
		o.AppRoleMount = "approle"
	}
	s := &Server{opts: o, keys: map[string]*transitKey{}, tokens: map[string]map[string]bool{},
		roles: map[string]role{}, calls: map[string]int{}, hang: make(chan struct{})}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Handshakes the tests make fail on purpose are not news.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if o.TLS {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	return s
}

// Close stops the server, releasing hanging requests first.
func (s *Server) Close() {
	s.closeOne.Do(func() { close(s.hang) })
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// CertificatePEM is the TLS server's certificate in PEM, the CA a client
// must trust (TLS servers only).
func (s *Server) CertificatePEM() []byte {
	c := s.srv.Certificate()
	if c == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// NewToken returns a token allowed to use the named keys (all keys when
// none are named).
func (s *Server) NewToken(keys ...string) string {
	tok := "hvs." + randomHex(12)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = allowed(keys)
	return tok
}

// RevokeToken makes tok invalid, as an expired or revoked token is.
func (s *Server) RevokeToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, tok)
}

// RevokeAllTokens makes every token invalid, as if they had all expired.
func (s *Server) RevokeAllTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// NewAppRole registers an AppRole whose logins get tokens for the named
// keys, and returns its role id and secret id.
func (s *Server) NewAppRole(keys ...string) (roleID, secretID string) {
	roleID, secretID = randomUUID(), randomUUID()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[roleID] = role{secretID: secretID, keys: keys}
	return roleID, secretID
}

// CreateKey creates an aes256-gcm96 Transit key, derived (needing a
// context) or not.
func (s *Server) CreateKey(name string, derived bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name] = &transitKey{derived: derived, versions: [][]byte{randomKey()}, minDecryption: 1}
}

// Calls is how many requests reached the endpoint op ("datakey",
// "decrypt", "encrypt", "login"), faults included.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// InjectFaults makes the next n requests (all when n < 0) fail with f;
// FaultNone stops injecting.
func (s *Server) InjectFaults(f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault, s.faultsN = f, n
	if f == FaultNone {
		s.faultsN = 0
	}
}

func allowed(keys []string) map[string]bool {
	if len(keys) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeErrors(w, http.StatusNotFound, "404 page not found")
		return
	}
	if r.Method != http.MethodPut && r.Method != http.MethodPost && r.Method != http.MethodDelete {
		writeErrors(w, http.StatusMethodNotAllowed, "unsupported operation")
		return
	}
	if f := s.takeFault(opOf(path, s.opts)); f != FaultNone {
		s.injectFault(w, r, f)
		return
	}
	var body map[string]any
	if r.Method != http.MethodDelete && r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
			return
		}
	}
	if login, ok := strings.CutPrefix(path, "auth/"+s.opts.AppRoleMount+"/"); ok && login == "login" {
		s.login(w, r, body)
		return
	}
	rest, ok := strings.CutPrefix(path, s.opts.Mount+"/")
	if !ok {
		s.mu.Lock()
		_, valid := s.tokenKeys(r)
		s.mu.Unlock()
		if !valid {
			writeErrors(w, http.StatusForbidden, "permission denied")
			return
		}
		writeErrors(w, http.StatusNotFound, "no handler for route \""+path+"\". route entry not found.")
		return
	}
	s.transit(w, r, rest, body)
}

// opOf names the operation a path is, for Calls and faults.
func opOf(path string, o Options) string {
	if strings.HasPrefix(path, "auth/"+o.AppRoleMount+"/login") {
		return "login"
	}
	rest := strings.TrimPrefix(path, o.Mount+"/")
	op, _, _ := strings.Cut(rest, "/")
	return op
}

// takeFault counts the call and returns the fault to inject, if any.
func (s *Server) takeFault(op string) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	if s.fault == FaultNone || s.faultsN == 0 {
		return FaultNone
	}
	if s.faultsN > 0 {
		s.faultsN--
	}
	return s.fault
}

func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f {
	case FaultUnavailable:
		writeErrors(w, http.StatusServiceUnavailable, "Vault is sealed")
	case FaultThrottle:
		writeErrors(w, http.StatusTooManyRequests, "request path \""+r.URL.Path+"\": rate limit quota exceeded")
	case FaultInternal:
		writeErrors(w, http.StatusInternalServerError, "internal error")
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.hang:
		}
	}
}

// tokenKeys checks the request's token and namespace; s.mu is held.
func (s *Server) tokenKeys(r *http.Request) (map[string]bool, bool) {
	if strings.Trim(r.Header.Get("X-Vault-Namespace"), "/") != s.opts.Namespace {
		return nil, false
	}
	keys, ok := s.tokens[r.Header.Get("X-Vault-Token")]
	return keys, ok
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, body map[string]any) {
	roleID, _ := body["role_id"].(string)
	secretID, _ := body["secret_id"].(string)
	s.mu.Lock()
	ro, ok := s.roles[roleID]
	nsOK := strings.Trim(r.Header.Get("X-Vault-Namespace"), "/") == s.opts.Namespace
	s.mu.Unlock()
	if roleID == "" {
		writeErrors(w, http.StatusBadRequest, "missing role_id")
		return
	}
	if !ok || !nsOK || ro.secretID != secretID {
		writeErrors(w, http.StatusBadRequest, "invalid role or secret ID")
		return
	}
	tok := s.NewToken(ro.keys...)
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id": randomUUID(), "lease_id": "", "renewable": false, "lease_duration": 0, "data": nil,
		"wrap_info": nil, "warnings": nil,
		"auth": map[string]any{"client_token": tok, "accessor": randomHex(12), "policies": []string{"default", "atrest"},
			"token_policies": []string{"default", "atrest"}, "metadata": map[string]string{"role_name": "atrest"},
			"lease_duration": 3600, "renewable": true, "entity_id": randomUUID(), "token_type": "service", "orphan": true},
	})
}

func writeData(w http.ResponseWriter, data map[string]any) {
	writeJSON(w, http.StatusOK, map[string]any{"request_id": randomUUID(), "lease_id": "", "renewable": false,
		"lease_duration": 0, "data": data, "wrap_info": nil, "warnings": nil, "auth": nil})
}

func writeErrors(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string][]string{"errors": {msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func randomKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randomUUID() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
