// Package gcpkms is the Google Cloud KMS master-key backend of keyenv, in
// a package of its own so that only a program that imports it links the
// Google Cloud client. Importing it registers the backend for master-key
// sections of type "kms" with vendor "gcp", as TiKV configures them:
//
//	import _ "github.com/atrest/atrest/keyenv/gcpkms"
//
//	[security.encryption.master-key]
//	type = "kms"
//	vendor = "gcp"
//	key-id = "projects/p/locations/global/keyRings/r/cryptoKeys/k"
//	[security.encryption.master-key.gcp]
//	credential-file-path = "/etc/tikv/gcp-sa.json"  # else Application Default Credentials
//
// Open opens a key directly. Errors wrap keyenv's sentinels:
// keyenv.ErrWrongMasterKey, keyenv.ErrKMSUnreachable,
// keyenv.ErrKMSKeyNotFound, keyenv.ErrKMSKeyDisabled,
// keyenv.ErrKMSAccessDenied, keyenv.ErrConfig.
package gcpkms

import (
	"context"
	"fmt"
	"hash/crc32"
	"regexp"
	"strings"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/atrest/atrest/keyenv"
)

func init() {
	keyenv.RegisterBackend(keyenv.KindKMS, "gcp", openSection)
}

// sectionClientOptions are added to the client options of every key a
// configuration section opens. Only this package's tests set it, to point
// sections at a local fake.
var sectionClientOptions []option.ClientOption

// openSection opens the key a master-key section names.
func openSection(ctx context.Context, mk keyenv.MasterKeyConfig, opts ...keyenv.Option) (keyenv.Backend, error) {
	return Open(ctx, Config{
		KeyName:            mk.KeyID,
		CredentialFilePath: mk.GCP.CredentialFilePath,
		Endpoint:           mk.Endpoint,
		ClientOptions:      sectionClientOptions,
	}, opts...)
}

// Config names a Cloud KMS key, as the master-key section does.
type Config struct {
	// KeyName is the CryptoKey's resource name,
	// projects/P/locations/L/keyRings/R/cryptoKeys/K (key-id). Encrypt
	// uses its primary version; Decrypt finds the version in the
	// ciphertext, so blobs sealed under older versions keep opening.
	KeyName string
	// CredentialFilePath is a JSON credentials file (a service account
	// key, an authorized user, an external account or an impersonated
	// service account); empty means Application Default Credentials.
	CredentialFilePath string
	// Endpoint is an optional host:port of another Cloud KMS endpoint (a
	// Private Service Connect endpoint, say).
	Endpoint string
	// ClientOptions are added after those Config makes: another token
	// source, a quota project, a test server's options.
	ClientOptions []option.ClientOption
}

var keyNamePattern = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)

// Open returns the backend for a Cloud KMS key. Each blob is sealed under
// a fresh 256-bit data key from crypto/rand; Cloud KMS Encrypt wraps it
// under the key, with the blob's label and format version as additional
// authenticated data (so Cloud KMS itself refuses to unwrap a data key
// moved to another label), and the blob keeps the wrapped copy. Unsealing
// asks Cloud KMS to Decrypt it. Requests and answers carry CRC32C
// checksums, checked as Google documents. Calls time out and are retried a
// bounded number of times on Unavailable, ResourceExhausted,
// DeadlineExceeded and Internal (keyenv.WithKMSTimeouts,
// keyenv.WithKMSAttempts, keyenv.WithKMSMaxBackoff).
//
// Open reads the credentials file but does not call Cloud KMS: a service
// that cannot be reached shows at the first Seal or Unseal, as an error
// wrapping keyenv.ErrKMSUnreachable.
func Open(ctx context.Context, c Config, opts ...keyenv.Option) (keyenv.Backend, error) {
	if !keyNamePattern.MatchString(c.KeyName) {
		hint := ""
		if strings.Contains(c.KeyName, "/cryptoKeyVersions/") {
			hint = " (name the CryptoKey, not one of its versions)"
		}
		return nil, fmt.Errorf("keyenv: %w: gcp kms key-id %q is not a CryptoKey resource name projects/P/locations/L/keyRings/R/cryptoKeys/K%s",
			keyenv.ErrConfig, c.KeyName, hint)
	}
	o := keyenv.ApplyOptions(opts...)
	var copts []option.ClientOption
	if c.CredentialFilePath != "" {
		cred, err := credentialsOption(c.CredentialFilePath)
		if err != nil {
			return nil, err
		}
		copts = append(copts, cred)
	}
	if c.Endpoint != "" {
		copts = append(copts, option.WithEndpoint(c.Endpoint))
	}
	copts = append(copts, option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(attemptTimeout(o.KMSAttemptTimeout))))
	copts = append(copts, c.ClientOptions...)
	client, err := kms.NewKeyManagementClient(ctx, copts...)
	if err != nil && c.CredentialFilePath != "" {
		return nil, fmt.Errorf("keyenv: %w: gcp credential-file-path %s holds credentials that cannot be used: %w", keyenv.ErrConfig, c.CredentialFilePath, redacted{err})
	}
	if err != nil {
		return nil, fmt.Errorf("keyenv: %w: gcp kms %s: create the client: %w", keyenv.ErrConfig, c.KeyName, err)
	}
	return keyenv.NewEnvelope(&gcpKey{cfg: c, client: client, opts: o, call: callOptions(o)}), nil
}

// gcpKey is the keyenv.KeySource of a Cloud KMS key: each seal gets a
// fresh data key, which the blob keeps wrapped by Cloud KMS Encrypt.
type gcpKey struct {
	cfg    Config
	client *kms.KeyManagementClient
	opts   keyenv.Settings
	call   []gax.CallOption
}

func (k *gcpKey) Kind() keyenv.Kind { return keyenv.KindKMS }

// ID is the CryptoKey's resource name: it names the key precisely and is
// no secret.
func (k *gcpKey) ID() string {
	s := "gcp-kms:" + k.cfg.KeyName
	if k.cfg.Endpoint != "" {
		s += " via " + k.cfg.Endpoint
	}
	return s
}

// KeyIdentity is what a blob records of the key: its CryptoKey name,
// without the endpoint, which an operator may change.
func (k *gcpKey) KeyIdentity([]byte) []byte { return []byte(k.cfg.KeyName) }

// HoldsKey reports whether a blob's recorded identity names this key.
func (k *gcpKey) HoldsKey(identity []byte) bool { return string(identity) == k.cfg.KeyName }

func (k *gcpKey) Close() error { return k.client.Close() }

// A key reference is refTag, the blob format version the data key was
// bound to, then Cloud KMS's ciphertext. The tag lets a reference from
// another vendor's KMS (the same keyenv kind) be told apart without a
// call.
const refTag = "gcp1"

// aad is the additional authenticated data the data key is wrapped with:
// the label and the blob format version, so that Cloud KMS refuses a data
// key moved to another label.
func aad(label string, version byte) []byte {
	return fmt.Appendf(nil, "atrest-label=%s\x00atrest-format=%d", label, version)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) *wrapperspb.Int64Value {
	return wrapperspb.Int64(int64(crc32.Checksum(b, castagnoli)))
}

func (k *gcpKey) SealingKey(ctx context.Context, label string) (*keyenv.Secret, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, k.opts.KMSTimeout)
	defer cancel()
	key, err := keyenv.RandomSecret(keyenv.SealingKeyBytes)
	if err != nil {
		return nil, nil, err
	}
	version := byte(keyenv.BlobVersion)
	ad := aad(label, version)
	resp, err := k.client.Encrypt(ctx, &kmspb.EncryptRequest{
		Name:                              k.cfg.KeyName,
		Plaintext:                         key.Bytes(),
		PlaintextCrc32C:                   crc(key.Bytes()),
		AdditionalAuthenticatedData:       ad,
		AdditionalAuthenticatedDataCrc32C: crc(ad),
	}, k.call...)
	if err != nil {
		key.Release()
		return nil, nil, k.classify("Encrypt", err)
	}
	if !resp.GetVerifiedPlaintextCrc32C() || !resp.GetVerifiedAdditionalAuthenticatedDataCrc32C() ||
		resp.GetCiphertextCrc32C().GetValue() != crc(resp.GetCiphertext()).GetValue() || len(resp.GetCiphertext()) == 0 {
		key.Release()
		return nil, nil, fmt.Errorf("keyenv: %s: %w: Encrypt: request or response corrupted in transit (CRC32C check failed)", k.ID(), keyenv.ErrKMSUnreachable)
	}
	ref := make([]byte, 0, len(refTag)+1+len(resp.GetCiphertext()))
	ref = append(append(append(ref, refTag...), version), resp.GetCiphertext()...)
	return key, ref, nil
}

func (k *gcpKey) UnsealingKey(ctx context.Context, label string, ref []byte) (*keyenv.Secret, error) {
	if !strings.HasPrefix(string(ref), refTag) {
		return nil, fmt.Errorf("keyenv: %s: %w: the blob's data key was not wrapped by Cloud KMS", k.ID(), keyenv.ErrWrongMasterKey)
	}
	if len(ref) < len(refTag)+2 || ref[len(refTag)] == 0 || int(ref[len(refTag)]) > keyenv.BlobVersion {
		return nil, fmt.Errorf("keyenv: %s: %w: malformed Cloud KMS key reference", k.ID(), keyenv.ErrCorruptBlob)
	}
	ctx, cancel := context.WithTimeout(ctx, k.opts.KMSTimeout)
	defer cancel()
	ct := ref[len(refTag)+1:]
	ad := aad(label, ref[len(refTag)])
	resp, err := k.client.Decrypt(ctx, &kmspb.DecryptRequest{
		Name:                              k.cfg.KeyName,
		Ciphertext:                        ct,
		CiphertextCrc32C:                  crc(ct),
		AdditionalAuthenticatedData:       ad,
		AdditionalAuthenticatedDataCrc32C: crc(ad),
	}, k.call...)
	if err != nil {
		return nil, k.classify("Decrypt", err)
	}
	pt := resp.GetPlaintext()
	if resp.GetPlaintextCrc32C().GetValue() != crc(pt).GetValue() {
		clear(pt)
		return nil, fmt.Errorf("keyenv: %s: %w: Decrypt: response corrupted in transit (CRC32C check failed)", k.ID(), keyenv.ErrKMSUnreachable)
	}
	if len(pt) != keyenv.SealingKeyBytes {
		clear(pt)
		return nil, fmt.Errorf("keyenv: %s: %w: Decrypt returned a %d-byte key", k.ID(), keyenv.ErrCorruptBlob, len(pt))
	}
	return keyenv.SecretFrom(pt)
}
