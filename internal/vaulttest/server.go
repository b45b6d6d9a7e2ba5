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
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// transit serves the Transit engine's paths (rest is the path below the
// mount).
func (s *Server) transit(w http.ResponseWriter, r *http.Request, rest string, body map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tokenKeys, valid := s.tokenKeys(r)
	parts := strings.Split(rest, "/")
	var name string
	switch {
	case len(parts) == 2 && (parts[0] == "keys" || parts[0] == "encrypt" || parts[0] == "decrypt"):
		name = parts[1]
	case len(parts) == 3 && parts[0] == "keys" && (parts[2] == "config" || parts[2] == "rotate"):
		name = parts[1]
	case len(parts) == 3 && parts[0] == "datakey" && (parts[1] == "plaintext" || parts[1] == "wrapped"):
		name = parts[2]
	default:
		if !valid {
			writeErrors(w, http.StatusForbidden, "permission denied")
			return
		}
		writeErrors(w, http.StatusNotFound, "no handler for route \""+s.opts.Mount+"/"+rest+"\". route entry not found.")
		return
	}
	if !valid || (tokenKeys != nil && !tokenKeys[name]) {
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	k := s.keys[name]
	switch parts[0] {
	case "keys":
		s.keyAdmin(w, r, parts, name, k, body)
	case "datakey":
		if k == nil {
			writeErrors(w, http.StatusBadRequest, "encryption key not found")
			return
		}
		plain := randomKey()
		ct, err := k.encrypt(plain, body)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, err.Error())
			return
		}
		data := map[string]any{"ciphertext": ct, "key_version": len(k.versions)}
		if parts[1] == "plaintext" {
			data["plaintext"] = base64.StdEncoding.EncodeToString(plain)
		}
		writeData(w, data)
	case "encrypt":
		if k == nil {
			writeErrors(w, http.StatusBadRequest, "encryption key not found")
			return
		}
		plain, err := decodeField(body, "plaintext")
		if err != nil {
			writeErrors(w, http.StatusBadRequest, err.Error())
			return
		}
		ct, err := k.encrypt(plain, body)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, err.Error())
			return
		}
		writeData(w, map[string]any{"ciphertext": ct, "key_version": len(k.versions)})
	case "decrypt":
		if k == nil {
			writeErrors(w, http.StatusBadRequest, "encryption key not found")
			return
		}
		plain, err := k.decrypt(body)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, err.Error())
			return
		}
		writeData(w, map[string]any{"plaintext": base64.StdEncoding.EncodeToString(plain)})
	}
}

// keyAdmin serves keys/<name> (create, delete), keys/<name>/config and
// keys/<name>/rotate; s.mu is held.
func (s *Server) keyAdmin(w http.ResponseWriter, r *http.Request, parts []string, name string, k *transitKey, body map[string]any) {
	switch {
	case len(parts) == 2 && r.Method == http.MethodDelete:
		if k == nil {
			writeErrors(w, http.StatusBadRequest, "could not delete key; not found")
			return
		}
		if !k.deletionAllowed {
			writeErrors(w, http.StatusBadRequest, "deletion is not allowed for this key")
			return
		}
		delete(s.keys, name)
		w.WriteHeader(http.StatusNoContent)
	case len(parts) == 2:
		if k == nil {
			derived, _ := body["derived"].(bool)
			s.keys[name] = &transitKey{derived: derived, versions: [][]byte{randomKey()}, minDecryption: 1}
		}
		w.WriteHeader(http.StatusNoContent)
	case k == nil:
		writeErrors(w, http.StatusBadRequest, "encryption key not found")
	case parts[2] == "rotate":
		k.versions = append(k.versions, randomKey())
		w.WriteHeader(http.StatusNoContent)
	default: // config
		if v, ok := body["min_decryption_version"]; ok {
			n, _ := v.(float64)
			if int(n) < 1 || int(n) > len(k.versions) {
				writeErrors(w, http.StatusBadRequest, "cannot set min decryption version greater than the latest version")
				return
			}
			k.minDecryption = int(n)
		}
		if v, ok := body["deletion_allowed"].(bool); ok {
			k.deletionAllowed = v
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// aead returns the GCM of key version v, derived with the request's
// context for derived keys (non-derived keys ignore a context, as Vault's
// do).
func (k *transitKey) aead(v int, body map[string]any) (cipher.AEAD, error) {
	key := k.versions[v-1]
	if k.derived {
		ctx, err := decodeField(body, "context")
		if err != nil || len(ctx) == 0 {
			return nil, errString("missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key")
		}
		if key, err = hkdf.Key(sha256.New, key, nil, string(ctx), 32); err != nil {
			return nil, err
		}
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (k *transitKey) encrypt(plain []byte, body map[string]any) (string, error) {
	v := len(k.versions)
	g, err := k.aead(v, body)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce)
	return "vault:v" + strconv.Itoa(v) + ":" + base64.StdEncoding.EncodeToString(g.Seal(nonce, nonce, plain, nil)), nil
}

func (k *transitKey) decrypt(body map[string]any) ([]byte, error) {
	ct, _ := body["ciphertext"].(string)
	rest, ok := strings.CutPrefix(ct, "vault:v")
	if !ok {
		return nil, errString("invalid ciphertext: no prefix")
	}
	vs, b64, ok := strings.Cut(rest, ":")
	v, err := strconv.Atoi(vs)
	if !ok || err != nil {
		return nil, errString("invalid ciphertext: version number could not be decoded")
	}
	if v > len(k.versions) || v < 1 {
		return nil, errString("invalid key version")
	}
	if v < k.minDecryption {
		return nil, errString("ciphertext or signature version is disallowed by policy (too old)")
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errString("invalid ciphertext: could not decode base64")
	}
	g, err := k.aead(v, body)
	if err != nil {
		return nil, err
	}
	if len(raw) < g.NonceSize() {
		return nil, errString("invalid ciphertext length")
	}
	plain, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], nil)
	if err != nil {
		return nil, errString("cipher: message authentication failed")
	}
	return plain, nil
}

type errString string

func (e errString) Error() string { return string(e) }

func decodeField(body map[string]any, field string) ([]byte, error) {
	v, _ := body[field].(string)
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, errString("failed to base64-decode " + field)
	}
	return b, nil
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
