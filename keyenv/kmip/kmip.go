// Package kmip is the KMIP master-key backend of keyenv, in a package of
// its own so that only a program that imports it links the KMIP client
// (github.com/ovh/kmip-go). Importing it registers the backend for
// master-key sections of type "kmip":
//
//	import _ "github.com/atrest/atrest/keyenv/kmip"
//
// The master key is a symmetric AES key in the KMIP server, named by its
// unique identifier; it never leaves the server. Each seal draws a fresh
// 256-bit data key from crypto/rand and has the server Encrypt it under
// the master key with AES-GCM (a 96-bit nonce from the client, a 128-bit
// tag, and associated data naming the key id, the label and the blob
// format); the blob keeps the key id, nonce, tag and ciphertext as its key
// reference, and unsealing has the server Decrypt them. A reference that
// names another key id is the wrong master key without asking the server;
// one the server cannot decrypt under the configured key (the same id on
// another server, say) is the wrong master key too.
//
// Errors wrap keyenv's sentinels: keyenv.ErrWrongMasterKey,
// keyenv.ErrKMSUnreachable, keyenv.ErrKMSKeyNotFound,
// keyenv.ErrKMSKeyDisabled, keyenv.ErrKMSAccessDenied, keyenv.ErrConfig.
package kmip

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	kmipgo "github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"

	"github.com/atrest/atrest/keyenv"
)

func init() {
	keyenv.RegisterBackend(keyenv.KindKMIP, "", openSection)
}

func openSection(ctx context.Context, mk keyenv.MasterKeyConfig, opts ...keyenv.Option) (keyenv.Backend, error) {
	s := mk.KMIP
	if s.KeyID == "" {
		s.KeyID = mk.KeyID
	}
	return Open(ctx, s, opts...)
}

// Open returns the backend for the KMIP key s names. It speaks KMIP over
// TLS (1.2 or later) to the first of s.Endpoints that answers, trusting
// the CA in s.CAFile (the system's when empty) for the name s.ServerName
// (the endpoint's host when empty), and presents the client certificate
// in s.ClientCert and s.ClientKey. Calls are bounded by keyenv's KMS
// options: keyenv.WithKMSTimeouts (the whole call, and each connection
// and request), keyenv.WithKMSAttempts (rounds over the endpoints when
// none answers) and keyenv.WithKMSMaxBackoff.
//
// Open reads the certificates but does not connect: a server that cannot
// be reached shows at the first Seal or Unseal, as an error wrapping
// keyenv.ErrKMSUnreachable.
func Open(_ context.Context, s keyenv.KMIPSettings, opts ...keyenv.Option) (keyenv.Backend, error) {
	if len(s.Endpoints) == 0 || s.KeyID == "" {
		return nil, fmt.Errorf("keyenv: %w: kmip master key needs endpoints and key-id", keyenv.ErrConfig)
	}
	for _, ep := range s.Endpoints {
		if _, port, err := net.SplitHostPort(ep); err != nil || port == "" {
			return nil, fmt.Errorf("keyenv: %w: kmip endpoint %q is not host:port", keyenv.ErrConfig, ep)
		}
	}
	cfg, err := tlsConfig(s)
	if err != nil {
		return nil, err
	}
	return keyenv.NewEnvelope(&kmipKey{s: s, tls: cfg, opts: keyenv.ApplyOptions(opts...)}), nil
}

// tlsConfig loads the CA and the client certificate. Its errors name the
// files, never their contents.
func tlsConfig(s keyenv.KMIPSettings) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("keyenv: %w: kmip ca-file: %w", keyenv.ErrConfig, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("keyenv: %w: kmip ca-file %s holds no PEM certificate", keyenv.ErrConfig, s.CAFile)
		}
	}
	if (s.ClientCert == "") != (s.ClientKey == "") {
		return nil, fmt.Errorf("keyenv: %w: kmip client-certificate and client-key go together", keyenv.ErrConfig)
	}
	if s.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(s.ClientCert, s.ClientKey)
		if err != nil {
			// crypto/tls's messages say what is wrong, not what the
			// files hold; keep only the cause's text.
			return nil, fmt.Errorf("keyenv: %w: kmip client-certificate %s and client-key %s do not load: %s",
				keyenv.ErrConfig, s.ClientCert, s.ClientKey, loadError(err))
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// loadError is the reason a key pair did not load, without any data.
func loadError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + " " + pe.Path + ": " + pe.Err.Error()
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

// kmipKey is the keyenv.KeySource of a KMIP key.
type kmipKey struct {
	s    keyenv.KMIPSettings
	tls  *tls.Config
	opts keyenv.Settings

	mu       sync.Mutex // serialises calls: one connection at a time
	client   *kmipclient.Client
	endpoint int // the endpoint client talks to, where the next call starts
}

func (k *kmipKey) Kind() keyenv.Kind { return keyenv.KindKMIP }

// ID names the key: the first endpoint and the key's unique identifier.
func (k *kmipKey) ID() string { return "kmip:" + k.s.Endpoints[0] + " key " + k.s.KeyID }

// KeyIdentity is what a blob records of the key: its unique identifier,
// without the endpoints, which an operator may change.
func (k *kmipKey) KeyIdentity([]byte) []byte { return []byte(k.s.KeyID) }

// HoldsKey reports whether a blob's recorded identity names this key.
func (k *kmipKey) HoldsKey(identity []byte) bool { return string(identity) == k.s.KeyID }

func (k *kmipKey) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.drop()
	return nil
}

// gcm are the cryptographic parameters of every Encrypt and Decrypt.
var gcm = kmipgo.CryptographicParameters{
	CryptographicAlgorithm: kmipgo.CryptographicAlgorithmAES,
	BlockCipherMode:        kmipgo.BlockCipherModeGCM,
	TagLength:              tagBytes,
}

// adFormat versions the associated data. It is fixed, not the blob's
// format version: a sealed data key must be decrypted with the associated
// data it was encrypted with.
const adFormat = "1"

// associatedData binds a sealed data key to its master key id and label.
func associatedData(keyID, label string) []byte {
	return []byte("atrest-kmip;format=" + adFormat + ";key=" + keyID + ";label=" + label)
}

func (k *kmipKey) SealingKey(ctx context.Context, label string) (*keyenv.Secret, []byte, error) {
	key, err := keyenv.NewSecret(keyenv.SealingKeyBytes)
	if err != nil {
		return nil, nil, err
	}
	r := ref{keyID: k.s.KeyID, nonce: make([]byte, nonceBytes)}
	if _, err := rand.Read(r.nonce); err != nil {
		key.Release()
		return nil, nil, err
	}
	item, err := k.call(ctx, "Encrypt", &payloads.EncryptRequestPayload{UniqueIdentifier: k.s.KeyID, CryptographicParameters: &gcm,
		Data: key.Bytes(), IVCounterNonce: r.nonce, AuthenticatedEncryptionAdditionalData: associatedData(k.s.KeyID, label)})
	if err != nil {
		key.Release()
		return nil, nil, err
	}
	out, ok := item.ResponsePayload.(*payloads.EncryptResponsePayload)
	if !ok || len(out.AuthenticatedEncryptionTag) != tagBytes || len(out.Data) != keyenv.SealingKeyBytes {
		key.Release()
		return nil, nil, fmt.Errorf("keyenv: %s: Encrypt answered without a %d-byte ciphertext and a %d-byte tag", k.ID(), keyenv.SealingKeyBytes, tagBytes)
	}
	r.tag, r.ciphertext = out.AuthenticatedEncryptionTag, out.Data
	return key, r.marshal(), nil
}

func (k *kmipKey) UnsealingKey(ctx context.Context, label string, b []byte) (*keyenv.Secret, error) {
	r, err := parseRef(b)
	if err != nil {
		return nil, fmt.Errorf("keyenv: %s: %w: %w", k.ID(), keyenv.ErrCorruptBlob, err)
	}
	if r.keyID != k.s.KeyID {
		return nil, fmt.Errorf("keyenv: %s: %w: the blob was sealed under KMIP key %q", k.ID(), keyenv.ErrWrongMasterKey, r.keyID)
	}
	item, err := k.call(ctx, "Decrypt", &payloads.DecryptRequestPayload{UniqueIdentifier: k.s.KeyID, CryptographicParameters: &gcm,
		Data: r.ciphertext, IVCounterNonce: r.nonce, AuthenticatedEncryptionAdditionalData: associatedData(k.s.KeyID, label),
		AuthenticatedEncryptionTag: r.tag})
	if err != nil {
		return nil, err
	}
	out, ok := item.ResponsePayload.(*payloads.DecryptResponsePayload)
	if !ok || len(out.Data) != keyenv.SealingKeyBytes {
		if ok {
			clear(out.Data)
		}
		return nil, fmt.Errorf("keyenv: %s: %w: Decrypt returned no %d-byte key", k.ID(), keyenv.ErrCorruptBlob, keyenv.SealingKeyBytes)
	}
	return keyenv.SecretFrom(out.Data)
}
