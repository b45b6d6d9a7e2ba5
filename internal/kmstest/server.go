// Package kmstest runs a small AWS KMS stand-in for tests.
//
// The server speaks the AWS JSON 1.1 protocol that the aws-sdk-go-v2 KMS
// client uses, checks each request's Signature Version 4 signature against
// the one set of credentials it was given, and implements the three
// symmetric operations the key layer needs: Encrypt, Decrypt and
// GenerateDataKey. Point a real client at it with kms.Options.BaseEndpoint
// set to Server.URL.
//
// Ciphertext blobs use a format of this package's own: they are opaque to
// callers, name the key that sealed them and are authenticated with
// AES-256-GCM over the encryption context, so tampering, a wrong context or
// a wrong key is reported the way KMS reports it.
//
// Faults can be injected (InjectFaults) to exercise a client's retry and
// timeout handling, and counters (Calls, Requests, SignatureFailures) let a
// test see what reached the server.
package kmstest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server.
type Options struct {
	// Region is the only region the server answers for; a request whose
	// signature is scoped to another region is rejected. Required.
	Region string
	// AccessKeyID is the only access key id the server knows. Required.
	AccessKeyID string
	// SecretAccessKey is the secret belonging to AccessKeyID. Required.
	SecretAccessKey string
	// Account is the account id used in ARNs; "111122223333" if empty.
	Account string
}

// defaultAccount is the account id used in ARNs when Options.Account is
// empty.
const defaultAccount = "111122223333"

// defaultHoldCap bounds how long FaultTimeout holds a request whose client
// never gives up.
const defaultHoldCap = 30 * time.Second

// maxBody bounds a request body; KMS requests are small.
const maxBody = 1 << 20

// Server is a running KMS stand-in. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, such as http://127.0.0.1:41234; use it
	// as the KMS client's BaseEndpoint.
	URL string

	opts Options
	ts   *httptest.Server

	done      chan struct{} // closed by Close to release held requests
	closeOnce sync.Once
	holding   atomic.Int64 // requests currently held by FaultTimeout
	holdCap   atomic.Int64 // how long FaultTimeout holds at most, in ns; tests shorten it

	mu          sync.Mutex
	keys        map[string]*key   // by key id
	aliases     map[string]string // "alias/name" -> key id
	fault       Fault
	faultsLeft  int // < 0: unlimited
	calls       map[string]int
	requests    int
	sigFailures int
}

// key is one symmetric KMS key.
type key struct {
	id         string
	materialID string
	aead       cipher.AEAD
	disabled   bool // DisableKey
	denied     bool // DenyKey
}

// New starts a Server on a loopback port. It panics if Region, AccessKeyID
// or SecretAccessKey is empty. Call Close when done.
func New(opts Options) *Server {
	if opts.Region == "" || opts.AccessKeyID == "" || opts.SecretAccessKey == "" {
		panic("kmstest: Options.Region, AccessKeyID and SecretAccessKey are required")
	}
	if opts.Account == "" {
		opts.Account = defaultAccount
	}
	s := &Server{
		opts:    opts,
		done:    make(chan struct{}),
		keys:    make(map[string]*key),
		aliases: make(map[string]string),
		calls:   make(map[string]int),
	}
	s.holdCap.Store(int64(defaultHoldCap))
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.ts.URL
	return s
}

// Close releases any request held by FaultTimeout, shuts the server down
// and waits for its handlers to return. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.ts.Close()
	})
}

// CreateKey creates a symmetric encryption key (AES-256 key material) and
// returns its key id, a random UUID. Its ARN is
// arn:aws:kms:<region>:<account>:key/<id>.
func (s *Server) CreateKey() (keyID string) {
	material := make([]byte, 32)
	randRead(material)
	block, err := aes.NewCipher(material)
	if err != nil {
		panic("kmstest: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("kmstest: " + err.Error())
	}
	mid := make([]byte, 32)
	randRead(mid)
	k := &key{id: newUUID(), materialID: hex.EncodeToString(mid), aead: aead}
	s.mu.Lock()
	s.keys[k.id] = k
	s.mu.Unlock()
	return k.id
}

// CreateAlias points alias, which must look like "alias/name", at the key
// keyID, replacing any earlier target of the same alias. It panics if the
// alias is malformed or the key does not exist.
func (s *Server) CreateAlias(alias, keyID string) {
	if !strings.HasPrefix(alias, "alias/") || len(alias) == len("alias/") {
		panic(fmt.Sprintf("kmstest: alias %q does not have the form alias/name", alias))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[keyID]; !ok {
		panic(fmt.Sprintf("kmstest: CreateAlias: no key %q", keyID))
	}
	s.aliases[alias] = keyID
}

// DisableKey disables the key keyID, as KMS's DisableKey does: every
// operation with it then fails with DisabledException (HTTP 400), naming
// its ARN. It panics if the key does not exist.
func (s *Server) DisableKey(keyID string) { s.setKey(keyID, func(k *key) { k.disabled = true }) }

// DenyKey makes every operation with the key keyID fail with
// AccessDeniedException (HTTP 400), as KMS answers a caller whose key
// policy or IAM policy lacks the permission. It panics if the key does not
// exist.
func (s *Server) DenyKey(keyID string) { s.setKey(keyID, func(k *key) { k.denied = true }) }

func (s *Server) setKey(keyID string, f func(*key)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[keyID]
	if !ok {
		panic(fmt.Sprintf("kmstest: no key %q", keyID))
	}
	f(k)
}

// usable refuses a disabled or denied key; s.mu is held.
func (s *Server) usableLocked(k *key) *apiError {
	switch {
	case k.denied:
		return errorf(http.StatusBadRequest, "AccessDeniedException", "User is not authorized to perform this operation on %s", s.ARN(k.id))
	case k.disabled:
		return errorf(http.StatusBadRequest, "DisabledException", "%s is disabled.", s.ARN(k.id))
	}
	return nil
}

// ARN returns the key ARN of keyID in the server's region and account. It
// does not check that the key exists.
func (s *Server) ARN(keyID string) string {
	return s.arnPrefix() + "key/" + keyID
}

func (s *Server) arnPrefix() string {
	return "arn:aws:kms:" + s.opts.Region + ":" + s.opts.Account + ":"
}

// Fault selects how InjectFaults makes requests fail.
type Fault int

const (
	// FaultNone injects nothing.
	FaultNone Fault = iota
	// FaultTimeout holds the request without answering until the client
	// gives up (the request's context ends), the server is closed (then it
	// answers HTTP 503 ServiceUnavailableException), or 30 s have passed
	// (then it answers HTTP 503 DependencyTimeoutException).
	FaultTimeout
	// FaultInternal answers HTTP 500 with error code KMSInternalException.
	FaultInternal
	// FaultUnavailable answers HTTP 503 with error code
	// ServiceUnavailableException; the SDK retries any 503.
	FaultUnavailable
	// FaultThrottle answers HTTP 400 with error code ThrottlingException,
	// which the SDK retries as a throttling error.
	FaultThrottle
)

// InjectFaults makes the next n correctly signed requests, of any
// operation, fail with f. A negative n makes every such request fail until
// InjectFaults(FaultNone, 0); f == FaultNone or n == 0 clears any pending
// fault. Requests rejected for their signature do not use up a fault.
func (s *Server) InjectFaults(f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == FaultNone || n == 0 {
		s.fault, s.faultsLeft = FaultNone, 0
		return
	}
	if n < 0 {
		n = -1
	}
	s.fault, s.faultsLeft = f, n
}

// Calls returns how many requests for the operation op (such as "Encrypt",
// "Decrypt" or "GenerateDataKey", the part of X-Amz-Target after
// "TrentService.") reached the server, counting those that were faulted or
// rejected.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Requests returns how many HTTP requests reached the server in all.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// SignatureFailures returns how many requests were rejected because their
// SigV4 signature was missing, incomplete, made with unknown credentials,
// scoped to the wrong region or service, or did not match.
func (s *Server) SignatureFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sigFailures
}

// takeFault uses up one injected fault, if any is pending.
func (s *Server) takeFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault == FaultNone || s.faultsLeft == 0 {
		return FaultNone
	}
	if s.faultsLeft > 0 {
		s.faultsLeft--
	}
	return s.fault
}

// apiError is an error answered to the client in the AWS JSON form.
type apiError struct {
	status  int
	code    string
	message string
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

const (
	targetPrefix = "TrentService."
	jsonType     = "application/x-amz-json-1.1"
)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", newUUID())

	target := r.Header.Get("X-Amz-Target")
	op, isKMS := strings.CutPrefix(target, targetPrefix)
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))

	s.mu.Lock()
	s.requests++
	if isKMS {
		s.calls[op]++
	}
	s.mu.Unlock()

	if readErr != nil {
		writeError(w, errorf(http.StatusBadRequest, "SerializationException", "reading the request body: %v", readErr))
		return
	}
	if e := s.verifySignature(r, body, time.Now()); e != nil {
		s.mu.Lock()
		s.sigFailures++
		s.mu.Unlock()
		writeError(w, e)
		return
	}
	if f := s.takeFault(); f != FaultNone {
		s.applyFault(w, r, f)
		return
	}

	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, errorf(http.StatusNotFound, "UnknownOperationException", "KMS takes POST /, not %s %s", r.Method, r.URL.Path))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != jsonType {
		writeError(w, errorf(http.StatusBadRequest, "SerializationException", "Content-Type must be %s", jsonType))
		return
	}
	var handler func([]byte) (any, *apiError)
	if isKMS {
		switch op {
		case "Encrypt":
			handler = s.encrypt
		case "Decrypt":
			handler = s.decrypt
		case "GenerateDataKey":
			handler = s.generateDataKey
		}
	}
	if handler == nil {
		writeError(w, errorf(http.StatusBadRequest, "UnknownOperationException", "unknown or unsupported operation %q", target))
		return
	}
	out, e := handler(body)
	if e != nil {
		writeError(w, e)
		return
	}
	payload, err := json.Marshal(out)
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, "KMSInternalException", "encoding the response: %v", err))
		return
	}
	w.Header().Set("Content-Type", jsonType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(payload)
}

func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f {
	case FaultTimeout:
		s.holding.Add(1)
		defer s.holding.Add(-1)
		limit := time.Duration(s.holdCap.Load())
		t := time.NewTimer(limit)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			// The client gave up; nobody is left to answer.
		case <-s.done:
			writeError(w, errorf(http.StatusServiceUnavailable, "ServiceUnavailableException", "kmstest: server closed while the request was held"))
		case <-t.C:
			writeError(w, errorf(http.StatusServiceUnavailable, "DependencyTimeoutException", "kmstest: request held for %v by fault injection", limit))
		}
	case FaultInternal:
		writeError(w, errorf(http.StatusInternalServerError, "KMSInternalException", "kmstest: injected internal error"))
	case FaultUnavailable:
		writeError(w, errorf(http.StatusServiceUnavailable, "ServiceUnavailableException", "kmstest: injected unavailability"))
	case FaultThrottle:
		writeError(w, errorf(http.StatusBadRequest, "ThrottlingException", "kmstest: injected throttling; rate exceeded"))
	default:
		writeError(w, errorf(http.StatusInternalServerError, "KMSInternalException", "kmstest: unknown fault %d", int(f)))
	}
}

// writeError answers e in the AWS JSON 1.1 form: the code both in the
// X-Amzn-ErrorType header (which the SDK prefers) and in the body's __type.
func writeError(w http.ResponseWriter, e *apiError) {
	payload, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.code, e.message})
	h := w.Header()
	h.Set("Content-Type", jsonType)
	h.Set("X-Amzn-ErrorType", e.code)
	w.WriteHeader(e.status)
	_, _ = w.Write(payload)
}

// resolveKey finds the key named by a bare key id, a key ARN, an alias name
// or an alias ARN.
func (s *Server) resolveKey(ref string) (*key, *apiError) {
	notFound := func() (*key, *apiError) {
		return nil, errorf(http.StatusBadRequest, "NotFoundException", "Key '%s' does not exist", ref)
	}
	if ref == "" {
		return nil, errorf(http.StatusBadRequest, "ValidationException", "KeyId is required")
	}
	name := ref
	if strings.HasPrefix(ref, "arn:") {
		rest, ok := strings.CutPrefix(ref, s.arnPrefix())
		if !ok {
			return notFound()
		}
		switch {
		case strings.HasPrefix(rest, "key/"):
			name = strings.TrimPrefix(rest, "key/")
		case strings.HasPrefix(rest, "alias/"):
			name = rest
		default:
			return nil, errorf(http.StatusBadRequest, "InvalidArnException", "ARN '%s' names neither a key nor an alias", ref)
		}
		if name == "" || name == "alias/" {
			return notFound()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasPrefix(name, "alias/") {
		id, ok := s.aliases[name]
		if !ok {
			return notFound()
		}
		name = id
	}
	k, ok := s.keys[name]
	if !ok {
		return notFound()
	}
	if e := s.usableLocked(k); e != nil {
		return nil, e
	}
	return k, nil
}

// lookupKey finds the key a ciphertext names: nil if there is none, an
// error if it is disabled or denied.
func (s *Server) lookupKey(id string) (*key, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[id]
	if k == nil {
		return nil, nil
	}
	return k, s.usableLocked(k)
}

// randRead fills b from crypto/rand, which does not fail on supported
// platforms.
func randRead(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic("kmstest: crypto/rand: " + err.Error())
	}
}

// newUUID returns a random (version 4) UUID in its 36-character text form.
func newUUID() string {
	var u [16]byte
	randRead(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
