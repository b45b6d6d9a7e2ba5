package keyenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// KMSConfig names an AWS KMS key, as the master-key section does.
type KMSConfig struct {
	KeyID    string // key id, key ARN, alias name or alias ARN
	Region   string // the key's region; requests are signed for it
	Endpoint string // optional: a VPC endpoint or a KMS-compatible service
}

// OpenKMS returns the backend for an AWS KMS key. Credentials come from the
// SDK's default chain (environment, shared files, web identity, container
// or instance roles). Each blob is sealed under a fresh 256-bit data key
// from GenerateDataKey; the blob keeps the KMS-encrypted copy, and
// unsealing asks KMS to Decrypt it under the configured key, with the
// blob's label as encryption context. Calls time out and are retried a
// bounded number of times (WithKMSTimeouts, WithKMSAttempts).
//
// OpenKMS does not call KMS: a KMS that cannot be reached shows at the
// first Seal or Unseal, as an error wrapping ErrKMSUnreachable.
func OpenKMS(ctx context.Context, c KMSConfig, opts ...Option) (Backend, error) {
	if c.KeyID == "" || c.Region == "" {
		return nil, fmt.Errorf("keyenv: %w: kms master key needs key-id and region", ErrConfig)
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("keyenv: %w: kms endpoint %q is not an http(s) URL", ErrConfig, c.Endpoint)
		}
	}
	o := buildOptions(opts)
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(c.Region),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(o.kmsTryTimeout)),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = o.kmsAttempts
				if o.kmsMaxBackoff > 0 {
					so.MaxBackoff = o.kmsMaxBackoff
				}
			})
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("keyenv: kms: load AWS configuration: %w", err)
	}
	client := kms.NewFromConfig(cfg, func(ko *kms.Options) {
		if c.Endpoint != "" {
			ko.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	return &envelope{src: &kmsKey{cfg: c, client: client, opts: o}}, nil
}

type kmsKey struct {
	cfg    KMSConfig
	client *kms.Client
	opts   options
}

func (k *kmsKey) kind() Kind { return KindKMS }

func (k *kmsKey) id() string {
	s := "kms:" + k.cfg.KeyID + " in " + k.cfg.Region
	if k.cfg.Endpoint != "" {
		s += " via " + k.cfg.Endpoint
	}
	return s
}

func (k *kmsKey) close() error { return nil }

// encryptionContext binds the KMS data key to what it seals, so KMS itself
// refuses to decrypt a data key moved to another label.
func encryptionContext(label string) map[string]string {
	return map[string]string{"atrest-label": label, "atrest-format": strconv.Itoa(blobVersion)}
}

func (k *kmsKey) sealingKey(ctx context.Context, label string) (*Secret, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, k.opts.kmsTimeout)
	defer cancel()
	out, err := k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(k.cfg.KeyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: encryptionContext(label),
	})
	if err != nil {
		return nil, nil, k.classify("GenerateDataKey", err)
	}
	if len(out.Plaintext) != masterKeyBytes || len(out.CiphertextBlob) == 0 {
		clear(out.Plaintext)
		return nil, nil, fmt.Errorf("keyenv: %s: GenerateDataKey returned a %d-byte key, want %d", k.id(), len(out.Plaintext), masterKeyBytes)
	}
	key, err := secretFrom(out.Plaintext)
	if err != nil {
		return nil, nil, err
	}
	return key, out.CiphertextBlob, nil
}

func (k *kmsKey) unsealingKey(ctx context.Context, label string, ref []byte) (*Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, k.opts.kmsTimeout)
	defer cancel()
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    ref,
		KeyId:             aws.String(k.cfg.KeyID),
		EncryptionContext: encryptionContext(label),
	})
	if err != nil {
		return nil, k.classify("Decrypt", err)
	}
	if len(out.Plaintext) != masterKeyBytes {
		clear(out.Plaintext)
		return nil, fmt.Errorf("keyenv: %s: %w: Decrypt returned a %d-byte key", k.id(), ErrCorruptBlob, len(out.Plaintext))
	}
	return secretFrom(out.Plaintext)
}

// classify maps an SDK error to this package's sentinels, keeping the
// SDK's error in the chain for detail.
func (k *kmsKey) classify(op string, err error) error {
	wrap := func(sentinel error, why string) error {
		return fmt.Errorf("keyenv: %s: %w: %s: %s: %w", k.id(), sentinel, op, why, err)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch code := apiErr.ErrorCode(); code {
		case "IncorrectKeyException", "InvalidCiphertextException":
			return wrap(ErrWrongMasterKey, "KMS cannot decrypt the data key with this key")
		case "NotFoundException":
			return wrap(ErrKMSKeyNotFound, "no such key")
		case "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "LimitExceededException",
			"KMSInternalException", "InternalFailure", "InternalServerError", "ServiceUnavailable",
			"ServiceUnavailableException", "DependencyTimeoutException", "RequestTimeout":
			return wrap(ErrKMSUnreachable, fmt.Sprintf("%s after %d attempts", code, k.opts.kmsAttempts))
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
			"IncompleteSignatureException", "SignatureDoesNotMatch", "ExpiredTokenException",
			"DisabledException", "KMSInvalidStateException", "KeyUnavailableException", "InvalidKeyUsageException":
			return wrap(ErrKMSAccessDenied, code)
		}
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500 {
		return wrap(ErrKMSUnreachable, fmt.Sprintf("HTTP %d after %d attempts", respErr.HTTPStatusCode(), k.opts.kmsAttempts))
	}
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return wrap(ErrKMSUnreachable, "timed out")
	case errors.As(err, &netErr), errors.As(err, &urlErr):
		return wrap(ErrKMSUnreachable, "network error")
	}
	return fmt.Errorf("keyenv: %s: %s: %w", k.id(), op, err)
}
