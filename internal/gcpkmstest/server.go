// Package gcpkmstest runs a fake Google Cloud KMS for tests.
//
// It is a fake because no Google Cloud KMS can be reached from where
// atrest's tests run (no network beyond package registries) and Google
// ships no KMS emulator. It follows the Cloud KMS client's documented test
// route instead: a gRPC server implementing kmspb.KeyManagementServiceServer
// on a local listener, which the real client (cloud.google.com/go/kms/apiv1)
// reaches with the options ClientOptions returns.
//
// The server implements the two symmetric operations an envelope needs,
// Encrypt and Decrypt, with real AES-256-GCM under a secret per CryptoKey
// and the request's additional authenticated data, and checks and answers
// the CRC32C integrity fields as Cloud KMS documents them. Ciphertexts are
// in a format of this package's own; like Cloud KMS's they are opaque and
// only the key that made them decrypts them.
//
// Errors are answered with the gRPC codes and the kind of messages Cloud
// KMS uses: NotFound for an unknown key, FailedPrecondition for a disabled
// or destroyed key version, PermissionDenied for a key the caller may not
// use, InvalidArgument "Decryption failed" for a ciphertext of another key
// or another AAD. Fail, Hang and CorruptChecksums inject faults; Calls
// counts what reached the server. NewWithOptions makes a server that
// serves TLS and requires the self-signed JWT a client makes from a
// service account's credentials file.
package gcpkmstest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"hash/crc32"
	"net"
	"regexp"
	"sync"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Project, Location and KeyRing are where CreateKey puts its keys.
const (
	Project  = "atrest-test"
	Location = "global"
	KeyRing  = "atrest"
)

// State is a key's primary version's state.
type State int

// The states a key's primary version can be in; only Enabled encrypts and
// decrypts.
const (
	Enabled State = iota
	Disabled
	Destroyed
)

// String is the state as Cloud KMS names it (ENABLED, DISABLED, DESTROYED).
func (s State) String() string {
	switch s {
	case Enabled:
		return "ENABLED"
	case Disabled:
		return "DISABLED"
	case Destroyed:
		return "DESTROYED"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Server is a running fake Cloud KMS. Its methods are safe for concurrent
// use.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string

	grpc *grpc.Server
	lis  net.Listener

	mu      sync.Mutex
	keys    map[string]*cryptoKey // by CryptoKey resource name
	fault   fault
	calls   map[string]int
	corrupt int      // responses left whose checksum is wrong; < 0: all
	seen    [][]byte // plaintexts Encrypt was given

	saKey *rsa.PublicKey // the service account calls must be signed by, or nil
	roots *x509.CertPool // trusts the server's certificate, when it serves TLS
}

type cryptoKey struct {
	aead   cipher.AEAD
	state  State
	denied bool
}

// fault is what the next n calls answer instead of doing their work.
type fault struct {
	code codes.Code // codes.OK: none
	hang bool       // hold the call until the client gives up
	n    int        // calls left; < 0: all
}

// Options configure a server made by NewWithOptions.
type Options struct {
	// ServiceAccountKey, when set, makes the server serve TLS and require
	// of every call the self-signed JWT a client makes from a service
	// account's credentials file, signed by this key; other calls are
	// answered Unauthenticated.
	ServiceAccountKey *rsa.PublicKey
}

// New starts a server on 127.0.0.1 that serves plaintext gRPC and asks
// for no credentials. Close stops it.
func New() *Server { return NewWithOptions(Options{}) }

// NewWithOptions starts a server on 127.0.0.1 configured by o.
func NewWithOptions(o Options) *Server {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("gcpkmstest: listen: %v", err))
	}
	s := &Server{
		Addr:  lis.Addr().String(),
		lis:   lis,
		keys:  map[string]*cryptoKey{},
		calls: map[string]int{},
		saKey: o.ServiceAccountKey,
	}
	var opts []grpc.ServerOption
	if o.ServiceAccountKey != nil {
		cert, pool := selfSignedCert()
		s.roots = pool
		opts = append(opts, grpc.Creds(credentials.NewServerTLSFromCert(&cert)), grpc.UnaryInterceptor(s.authenticate))
	}
	s.grpc = grpc.NewServer(opts...)
	kmspb.RegisterKeyManagementServiceServer(s.grpc, &service{s: s})
	go func() { _ = s.grpc.Serve(lis) }()
	return s
}

// Close stops the server, ending calls in progress.
func (s *Server) Close() { s.grpc.Stop() }

// ClientOptions are the options that point a Cloud KMS client at the
// server: its address and, for a server made by New, no credentials and
// plaintext gRPC; for one that requires a service account, TLS that trusts
// the server's certificate (the credentials are the caller's to add).
func (s *Server) ClientOptions() []option.ClientOption {
	if s.roots != nil {
		return []option.ClientOption{
			option.WithEndpoint(s.Addr),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(s.roots, ""))),
		}
	}
	return []option.ClientOption{
		option.WithEndpoint(s.Addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// KeyName is the resource name CreateKey gives the key id.
func KeyName(id string) string {
	return fmt.Sprintf("projects/%s/locations/%s/keyRings/%s/cryptoKeys/%s", Project, Location, KeyRing, id)
}

// CreateKey makes an enabled symmetric key with a fresh random secret and
// returns its resource name.
func (s *Server) CreateKey(id string) string {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	block, err := aes.NewCipher(secret)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	name := KeyName(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name] = &cryptoKey{aead: aead}
	return name
}

// SetState sets the state of the key's primary version.
func (s *Server) SetState(name string, st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name].state = st
}

// Deny makes the key refuse the caller with PermissionDenied, as Cloud
// KMS does for a caller without cloudkms.cryptoKeyVersions.useToEncrypt
// and useToDecrypt on it; Deny(name, false) lifts it.
func (s *Server) Deny(name string, denied bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name].denied = denied
}

// Fail makes the next n calls (all calls if n < 0) answer code with the
// kind of message Cloud KMS gives for it; codes.OK clears the fault.
func (s *Server) Fail(code codes.Code, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = fault{code: code, n: n}
}

// Hang makes the next n calls (all if n < 0) hold until the client gives
// up or the server closes: a server that does not answer in time.
func (s *Server) Hang(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = fault{code: codes.DeadlineExceeded, hang: true, n: n}
}

// CorruptChecksums makes the next n answers (all if n < 0) carry a wrong
// CRC32C, as if they had been altered in transit.
func (s *Server) CorruptChecksums(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corrupt = n
}

// Calls is how many calls of method ("Encrypt", "Decrypt") reached the
// server, faulted ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Plaintexts returns copies of the plaintexts Encrypt was given, so a
// test can check that no data key shows where it must not.
func (s *Server) Plaintexts() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.seen))
	for i, p := range s.seen {
		out[i] = append([]byte(nil), p...)
	}
	return out
}

// faultMessages are what Cloud KMS says with each code.
var faultMessages = map[codes.Code]string{
	codes.Unavailable:       "The service is currently unavailable.",
	codes.ResourceExhausted: "Quota exceeded for quota metric 'Cryptographic requests' and limit 'Cryptographic requests per minute'.",
	codes.Internal:          "Internal error encountered.",
	codes.DeadlineExceeded:  "Deadline exceeded.",
	codes.Unauthenticated:   "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
	codes.PermissionDenied:  "The caller does not have permission",
}

// begin counts a call and applies the fault in force, if any; it returns
// the key the call names, locked state read under s.mu.
func (s *Server) begin(ctx context.Context, method, name, permission string) (*cryptoKey, error) {
	s.mu.Lock()
	s.calls[method]++
	f := s.fault
	if f.code != codes.OK && f.n != 0 {
		if s.fault.n > 0 {
			s.fault.n--
		}
		s.mu.Unlock()
		if f.hang {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		msg, ok := faultMessages[f.code]
		if !ok {
			msg = f.code.String()
		}
		return nil, status.Error(f.code, msg)
	}
	k, ok := s.keys[name]
	var st State
	var denied bool
	if ok {
		st, denied = k.state, k.denied
	}
	s.mu.Unlock()
	switch {
	case !keyNamePattern.MatchString(name):
		return nil, status.Errorf(codes.InvalidArgument, "Resource name [%s] does not represent a valid CryptoKey.", name)
	case !ok:
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found.", name)
	case denied:
		return nil, status.Errorf(codes.PermissionDenied, "Permission '%s' denied on resource '%s' (or it may not exist).", permission, name)
	case st != Enabled:
		return nil, status.Errorf(codes.FailedPrecondition, "%s/cryptoKeyVersions/1 is not enabled, current state is: %s.", name, st)
	}
	return k, nil
}

// takeCorrupt reports whether this answer's checksum is to be wrong.
func (s *Server) takeCorrupt() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.corrupt == 0 {
		return false
	}
	if s.corrupt > 0 {
		s.corrupt--
	}
	return true
}

var keyNamePattern = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) int64 { return int64(crc32.Checksum(b, castagnoli)) }

// checkCRC answers InvalidArgument when a request's checksum does not
// match its data, as Cloud KMS does; it reports whether one was given.
func checkCRC(field string, data []byte, sum *wrapperspb.Int64Value) (bool, error) {
	if sum == nil {
		return false, nil
	}
	if sum.GetValue() != crc(data) {
		return false, status.Errorf(codes.InvalidArgument, "The checksum in field %s_crc32c did not match the data in field %s.", field, field)
	}
	return true, nil
}

// service is the gRPC service; it is apart from Server so that Server's
// documented methods are only the test controls.
type service struct {
	kmspb.UnimplementedKeyManagementServiceServer
	s *Server
}

func (v *service) Encrypt(ctx context.Context, req *kmspb.EncryptRequest) (*kmspb.EncryptResponse, error) {
	k, err := v.s.begin(ctx, "Encrypt", req.GetName(), "cloudkms.cryptoKeyVersions.useToEncrypt")
	if err != nil {
		return nil, err
	}
	if len(req.GetPlaintext()) == 0 || len(req.GetPlaintext()) > 64<<10 {
		return nil, status.Error(codes.InvalidArgument, "Plaintext must be between 1 and 65536 bytes.")
	}
	ptOK, err := checkCRC("plaintext", req.GetPlaintext(), req.GetPlaintextCrc32C())
	if err != nil {
		return nil, err
	}
	aadOK, err := checkCRC("additional_authenticated_data", req.GetAdditionalAuthenticatedData(), req.GetAdditionalAuthenticatedDataCrc32C())
	if err != nil {
		return nil, err
	}
	v.s.mu.Lock()
	v.s.seen = append(v.s.seen, append([]byte(nil), req.GetPlaintext()...))
	v.s.mu.Unlock()
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce)
	ct := k.aead.Seal(nonce, nonce, req.GetPlaintext(), req.GetAdditionalAuthenticatedData())
	sum := crc(ct)
	if v.s.takeCorrupt() {
		sum ^= 1
	}
	return &kmspb.EncryptResponse{
		Name:                    req.GetName() + "/cryptoKeyVersions/1",
		Ciphertext:              ct,
		CiphertextCrc32C:        wrapperspb.Int64(sum),
		VerifiedPlaintextCrc32C: ptOK,
		VerifiedAdditionalAuthenticatedDataCrc32C: aadOK,
		ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE,
	}, nil
}

func (v *service) Decrypt(ctx context.Context, req *kmspb.DecryptRequest) (*kmspb.DecryptResponse, error) {
	k, err := v.s.begin(ctx, "Decrypt", req.GetName(), "cloudkms.cryptoKeyVersions.useToDecrypt")
	if err != nil {
		return nil, err
	}
	if _, err := checkCRC("ciphertext", req.GetCiphertext(), req.GetCiphertextCrc32C()); err != nil {
		return nil, err
	}
	if _, err := checkCRC("additional_authenticated_data", req.GetAdditionalAuthenticatedData(), req.GetAdditionalAuthenticatedDataCrc32C()); err != nil {
		return nil, err
	}
	ct := req.GetCiphertext()
	n := k.aead.NonceSize()
	if len(ct) < n+k.aead.Overhead() {
		return nil, status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")
	}
	pt, err := k.aead.Open(nil, ct[:n], ct[n:], req.GetAdditionalAuthenticatedData())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "Decryption failed: verify that 'name' refers to the correct CryptoKey.")
	}
	sum := crc(pt)
	if v.s.takeCorrupt() {
		sum ^= 1
	}
	return &kmspb.DecryptResponse{
		Plaintext:       pt,
		PlaintextCrc32C: wrapperspb.Int64(sum),
		UsedPrimary:     true,
		ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE,
	}, nil
}
