// Package awskms is the AWS KMS master-key backend of keyenv, in a package
// of its own so that only a program that imports it links the AWS SDK.
// Importing it registers the backend for master-key sections of type "kms"
// with vendor "aws" (or none, TiKV's default):
//
//	import _ "github.com/atrest/atrest/keyenv/awskms"
//
// Open opens a key directly. Errors wrap keyenv's sentinels:
// keyenv.ErrWrongMasterKey, keyenv.ErrKMSUnreachable,
// keyenv.ErrKMSKeyNotFound, keyenv.ErrKMSKeyDisabled,
// keyenv.ErrKMSAccessDenied, keyenv.ErrConfig.
//
// Blobs record the key as configured (key id, key ARN or alias) and its
// region, so keyenv.MasterKeys opens a blob with the master key or the
// previous one by that record, without asking KMS to decrypt under a key
// that did not seal it (which some KMS-compatible services answer with
// AccessDeniedException rather than IncorrectKeyException).
package awskms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/atrest/atrest/keyenv"
)

func init() {
	keyenv.RegisterBackend(keyenv.KindKMS, "aws", openSection)
}

// openSection opens the key a master-key section names.
func openSection(ctx context.Context, mk keyenv.MasterKeyConfig, opts ...keyenv.Option) (keyenv.Backend, error) {
	return Open(ctx, Config{KeyID: mk.KeyID, Region: mk.Region, Endpoint: mk.Endpoint,
		AccessKey: mk.AWS.AccessKey, SecretAccessKey: mk.AWS.SecretAccessKey}, opts...)
}

// Config names an AWS KMS key, as the master-key section does.
type Config struct {
	KeyID    string // key id, key ARN, alias name or alias ARN
	Region   string // the key's region; requests are signed for it
	Endpoint string // optional: a VPC endpoint or a KMS-compatible service
	// AccessKey and SecretAccessKey are static credentials (the
	// section's [aws] sub-table, TiKV's access-key and
	// secret-access-key); both empty means the SDK's default chain.
	AccessKey       string
	SecretAccessKey string
}

// Open returns the backend for an AWS KMS key. Credentials are c's static
// ones if set, else the SDK's default chain (environment, shared files,
// web identity, container or instance roles). Each blob is sealed under a fresh 256-bit data key
// from GenerateDataKey; the blob keeps the KMS-encrypted copy, and
// unsealing asks KMS to Decrypt it under the configured key, with the
// blob's label as encryption context. Calls time out and are retried a
// bounded number of times (keyenv.WithKMSTimeouts, keyenv.WithKMSAttempts,
// keyenv.WithKMSMaxBackoff).
//
// Open does not call KMS: a KMS that cannot be reached shows at the
// first Seal or Unseal, as an error wrapping keyenv.ErrKMSUnreachable.
func Open(ctx context.Context, c Config, opts ...keyenv.Option) (keyenv.Backend, error) {
	k, err := newKMSKey(ctx, c, opts...)
	if err != nil {
		return nil, err
	}
	return keyenv.NewEnvelope(k), nil
}

// newKMSKey checks c and makes its key source.
func newKMSKey(ctx context.Context, c Config, opts ...keyenv.Option) (*kmsKey, error) {
	if c.KeyID == "" || c.Region == "" {
		return nil, fmt.Errorf("keyenv: %w: kms master key needs key-id and region", keyenv.ErrConfig)
	}
	if (c.AccessKey == "") != (c.SecretAccessKey == "") {
		return nil, fmt.Errorf("keyenv: %w: kms master key: access-key and secret-access-key go together", keyenv.ErrConfig)
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("keyenv: %w: kms endpoint %q is not an http(s) URL", keyenv.ErrConfig, c.Endpoint)
		}
	}
	o := keyenv.ApplyOptions(opts...)
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRegion(c.Region),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(o.KMSAttemptTimeout)),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = o.KMSAttempts
				if o.KMSMaxBackoff > 0 {
					so.MaxBackoff = o.KMSMaxBackoff
				}
			})
		}),
	}
	if c.AccessKey != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("keyenv: kms: load AWS configuration: %w", err)
	}
	client := kms.NewFromConfig(cfg, func(ko *kms.Options) {
		if c.Endpoint != "" {
			ko.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	return &kmsKey{cfg: c, client: client, opts: o, identity: []byte(c.KeyID + " in " + c.Region)}, nil
}

// kmsKey is the keyenv.KeySource of a KMS key: each seal gets a fresh data
// key from GenerateDataKey, and the blob keeps its KMS-encrypted copy.
type kmsKey struct {
	cfg      Config
	client   *kms.Client
	opts     keyenv.Settings
	identity []byte // what blobs record: the key as configured and its region
}

func (k *kmsKey) Kind() keyenv.Kind { return keyenv.KindKMS }

func (k *kmsKey) ID() string {
	s := "kms:" + k.cfg.KeyID + " in " + k.cfg.Region
	if k.cfg.Endpoint != "" {
		s += " via " + k.cfg.Endpoint
	}
	return s
}

func (k *kmsKey) Close() error { return nil }

// KeyIdentity is the key as configured and its region (the endpoint is
// left out: the same key through a VPC endpoint is the same key).
func (k *kmsKey) KeyIdentity([]byte) []byte { return k.identity }

func (k *kmsKey) HoldsKey(identity []byte) bool { return bytes.Equal(identity, k.identity) }

// contextFormat is the "atrest-format" of the encryption context. It
// stays "1" for every sealed-blob version: a data key's context cannot
// change once KMS has wrapped it, and blobs of version 1 keep opening.
const contextFormat = "1"

// encryptionContext binds the KMS data key to what it seals, so KMS itself
// refuses to decrypt a data key moved to another label.
func encryptionContext(label string) map[string]string {
	return map[string]string{"atrest-label": label, "atrest-format": contextFormat}
}

func (k *kmsKey) SealingKey(ctx context.Context, label string) (*keyenv.Secret, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, k.opts.KMSTimeout)
	defer cancel()
	out, err := k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(k.cfg.KeyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: encryptionContext(label),
	})
	if err != nil {
		return nil, nil, k.classify("GenerateDataKey", err)
	}
	if len(out.Plaintext) != keyenv.SealingKeyBytes || len(out.CiphertextBlob) == 0 {
		clear(out.Plaintext)
		return nil, nil, fmt.Errorf("keyenv: %s: GenerateDataKey returned a %d-byte key, want %d", k.ID(), len(out.Plaintext), keyenv.SealingKeyBytes)
	}
	key, err := keyenv.SecretFrom(out.Plaintext)
	if err != nil {
		return nil, nil, err
	}
	return key, out.CiphertextBlob, nil
}

func (k *kmsKey) UnsealingKey(ctx context.Context, label string, ref []byte) (*keyenv.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, k.opts.KMSTimeout)
	defer cancel()
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    ref,
		KeyId:             aws.String(k.cfg.KeyID),
		EncryptionContext: encryptionContext(label),
	})
	if err != nil {
		return nil, k.classify("Decrypt", err)
	}
	if len(out.Plaintext) != keyenv.SealingKeyBytes {
		clear(out.Plaintext)
		return nil, fmt.Errorf("keyenv: %s: %w: Decrypt returned a %d-byte key", k.ID(), keyenv.ErrCorruptBlob, len(out.Plaintext))
	}
	return keyenv.SecretFrom(out.Plaintext)
}

// classify maps an SDK error to keyenv's sentinels, keeping the SDK's
// error in the chain for detail. The codes are AWS's (the KMS API
// reference's errors and the common ones); moto answers some with other
// codes or an XML body the JSON client cannot read, so a 401 or 403 whose
// code is unknown is access denied too.
func (k *kmsKey) classify(op string, err error) error {
	wrap := func(sentinel error, why string) error {
		return fmt.Errorf("keyenv: %s: %w: %s: %s: %w", k.ID(), sentinel, op, why, err)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		switch code {
		case "IncorrectKeyException", "InvalidCiphertextException":
			return wrap(keyenv.ErrWrongMasterKey, "KMS cannot decrypt the data key with this key")
		case "NotFoundException":
			return wrap(keyenv.ErrKMSKeyNotFound, "no such key")
		case "DisabledException", "KMSInvalidStateException", "KeyUnavailableException", "InvalidKeyUsageException":
			return wrap(keyenv.ErrKMSKeyDisabled, code)
		case "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "LimitExceededException",
			"KMSInternalException", "InternalFailure", "InternalServerError", "ServiceUnavailable",
			"ServiceUnavailableException", "DependencyTimeoutException", "RequestTimeout":
			return wrap(keyenv.ErrKMSUnreachable, fmt.Sprintf("%s after %d attempts", code, k.opts.KMSAttempts))
		case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidClientTokenId",
			"InvalidSignatureException", "IncompleteSignatureException", "SignatureDoesNotMatch",
			"ExpiredTokenException", "ExpiredToken", "MissingAuthenticationToken", "InvalidAccessKeyId":
			return wrap(keyenv.ErrKMSAccessDenied, code)
		}
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		switch status := respErr.HTTPStatusCode(); {
		case status >= 500:
			return wrap(keyenv.ErrKMSUnreachable, fmt.Sprintf("HTTP %d after %d attempts", status, k.opts.KMSAttempts))
		case status == 401 || status == 403:
			return wrap(keyenv.ErrKMSAccessDenied, fmt.Sprintf("HTTP %d", status))
		}
	}
	var signErr *v4.SigningError
	if errors.As(err, &signErr) {
		return wrap(keyenv.ErrKMSAccessDenied, "no usable credentials")
	}
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return wrap(keyenv.ErrKMSUnreachable, "timed out")
	case errors.As(err, &netErr), errors.As(err, &urlErr):
		return wrap(keyenv.ErrKMSUnreachable, "network error")
	}
	return fmt.Errorf("keyenv: %s: %s: %w", k.ID(), op, err)
}
