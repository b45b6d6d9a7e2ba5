package kmstest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

const (
	testRegion = "us-west-2"
	testAKID   = "AKIDKMSTEST00000001"
	testSecret = "kmstest/secret+0123456789abcdefghijKLMN"
)

func newTestServer(t *testing.T) *Server {
	t.Helper()
	s := New(Options{Region: testRegion, AccessKeyID: testAKID, SecretAccessKey: testSecret})
	t.Cleanup(s.Close)
	return s
}

// fastBackoff keeps the SDK's retry decisions (which errors, how many
// attempts) but not its waits of up to seconds between attempts.
var fastBackoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
	return 2 * time.Millisecond, nil
})

// newClient builds a real SDK client for s, signing as akid/secret for
// region. Shared config files are ignored and the retryer is the SDK's
// standard one (default attempts) with short backoff, so that the
// developer's environment cannot change what the tests see.
func newClient(t *testing.T, s *Server, region, akid, secret string, optFns ...func(*kms.Options)) *kms.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(akid, secret, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	fns := append([]func(*kms.Options){func(o *kms.Options) {
		o.BaseEndpoint = aws.String(s.URL)
		o.RetryMaxAttempts = 0
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.Backoff = fastBackoff })
	}}, optFns...)
	return kms.NewFromConfig(cfg, fns...)
}

func goodClient(t *testing.T, s *Server) *kms.Client {
	t.Helper()
	return newClient(t, s, testRegion, testAKID, testSecret)
}

// errorCode returns the API error code the SDK reports for err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isA reports whether err wraps an error of type T.
func isA[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestKeysAndARNs(t *testing.T) {
	s := newTestServer(t)
	id := s.CreateKey()
	if !uuidRE.MatchString(id) {
		t.Errorf("key id %q is not a random UUID", id)
	}
	if id2 := s.CreateKey(); id2 == id {
		t.Errorf("two keys share the id %q", id)
	}
	if got, want := s.ARN(id), "arn:aws:kms:us-west-2:111122223333:key/"+id; got != want {
		t.Errorf("ARN = %q, want %q", got, want)
	}
	other := New(Options{Region: "eu-north-1", AccessKeyID: "a", SecretAccessKey: "b", Account: "999988887777"})
	defer other.Close()
	if got, want := other.ARN("k"), "arn:aws:kms:eu-north-1:999988887777:key/k"; got != want {
		t.Errorf("ARN with Account = %q, want %q", got, want)
	}

	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	mustPanic("New without credentials", func() { New(Options{Region: testRegion}) })
	mustPanic("CreateAlias of an unknown key", func() { s.CreateAlias("alias/x", "no-such-key") })
	mustPanic("CreateAlias without alias/ prefix", func() { s.CreateAlias("x", id) })
}

func TestRoundTrip(t *testing.T) {
	s := newTestServer(t)
	c := goodClient(t, s)
	ctx := context.Background()
	id := s.CreateKey()
	s.CreateAlias("alias/atrest", id)
	s.CreateKey() // a second key that must not get in the way
	arn := s.ARN(id)

	refs := []struct{ name, ref string }{
		{"key id", id},
		{"key ARN", arn},
		{"alias", "alias/atrest"},
		{"alias ARN", "arn:aws:kms:" + testRegion + ":111122223333:alias/atrest"},
	}
	contexts := []struct {
		name string
		ec   map[string]string
	}{
		{"no context", nil},
		{"context", map[string]string{"purpose": "kmstest", "volume": "v1", "": "empty name", "empty value": ""}},
	}
	for _, r := range refs {
		for _, ec := range contexts {
			t.Run(r.name+"/"+ec.name, func(t *testing.T) {
				plaintext := []byte("a secret worth keeping\x00\xff")
				enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(r.ref), Plaintext: plaintext, EncryptionContext: ec.ec})
				if err != nil {
					t.Fatalf("Encrypt: %v", err)
				}
				if got := aws.ToString(enc.KeyId); got != arn {
					t.Errorf("Encrypt KeyId = %q, want %q", got, arn)
				}
				if enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
					t.Errorf("Encrypt EncryptionAlgorithm = %q", enc.EncryptionAlgorithm)
				}
				if bytes.Contains(enc.CiphertextBlob, plaintext) {
					t.Errorf("ciphertext blob contains the plaintext")
				}
				checkDecrypt(t, c, enc.CiphertextBlob, ec.ec, r.ref, arn, plaintext)

				for _, spec := range []struct {
					name string
					in   kms.GenerateDataKeyInput
					n    int
				}{
					{"AES_256", kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes256}, 32},
					{"AES_128", kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes128}, 16},
					{"7 bytes", kms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(7)}, 7},
					{"1024 bytes", kms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(1024)}, 1024},
				} {
					in := spec.in
					in.KeyId = aws.String(r.ref)
					in.EncryptionContext = ec.ec
					dk, err := c.GenerateDataKey(ctx, &in)
					if err != nil {
						t.Fatalf("GenerateDataKey %s: %v", spec.name, err)
					}
					if len(dk.Plaintext) != spec.n {
						t.Errorf("GenerateDataKey %s: %d plaintext bytes, want %d", spec.name, len(dk.Plaintext), spec.n)
					}
					if got := aws.ToString(dk.KeyId); got != arn {
						t.Errorf("GenerateDataKey KeyId = %q, want %q", got, arn)
					}
					checkDecrypt(t, c, dk.CiphertextBlob, ec.ec, r.ref, arn, dk.Plaintext)
				}
			})
		}
	}
}

// checkDecrypt decrypts blob both without and with a KeyId and checks the
// plaintext and the reported key ARN.
func checkDecrypt(t *testing.T, c *kms.Client, blob []byte, ec map[string]string, ref, arn string, want []byte) {
	t.Helper()
	for _, keyID := range []*string{nil, aws.String(ref)} {
		out, err := c.Decrypt(context.Background(), &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: keyID})
		if err != nil {
			t.Fatalf("Decrypt (KeyId %v): %v", aws.ToString(keyID), err)
		}
		if !bytes.Equal(out.Plaintext, want) {
			t.Errorf("Decrypt (KeyId %v) = %x, want %x", aws.ToString(keyID), out.Plaintext, want)
		}
		if got := aws.ToString(out.KeyId); got != arn {
			t.Errorf("Decrypt KeyId = %q, want %q", got, arn)
		}
		if out.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
			t.Errorf("Decrypt EncryptionAlgorithm = %q", out.EncryptionAlgorithm)
		}
	}
}

func TestErrors(t *testing.T) {
	s := newTestServer(t)
	c := goodClient(t, s)
	ctx := context.Background()
	a, b := s.CreateKey(), s.CreateKey()
	s.CreateAlias("alias/b", b)
	ec := map[string]string{"volume": "v1", "purpose": "test"}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(a), Plaintext: []byte("secret"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	blob := enc.CiphertextBlob

	decrypt := func(keyID string, blob []byte, ec map[string]string) func() error {
		return func() error {
			in := &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec}
			if keyID != "" {
				in.KeyId = aws.String(keyID)
			}
			_, err := c.Decrypt(ctx, in)
			return err
		}
	}
	encrypt := func(keyID string) func() error {
		return func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("x")})
			return err
		}
	}
	generate := func(in kms.GenerateDataKeyInput) func() error {
		return func() error {
			_, err := c.GenerateDataKey(ctx, &in)
			return err
		}
	}
	incorrectKey := isA[*types.IncorrectKeyException]
	invalidCiphertext := isA[*types.InvalidCiphertextException]
	notFound := isA[*types.NotFoundException]
	withCode := func(code string) func(error) bool {
		return func(err error) bool { return errorCode(err) == code }
	}
	unknownID := newUUID()

	tests := []struct {
		name string
		call func() error
		is   func(error) bool
		code string
	}{
		{"Decrypt naming another key by id", decrypt(b, blob, ec), incorrectKey, "IncorrectKeyException"},
		{"Decrypt naming another key by ARN", decrypt(s.ARN(b), blob, ec), incorrectKey, "IncorrectKeyException"},
		{"Decrypt naming another key by alias", decrypt("alias/b", blob, ec), incorrectKey, "IncorrectKeyException"},
		{"Decrypt with a changed context value", decrypt("", blob, map[string]string{"volume": "v2", "purpose": "test"}), invalidCiphertext, "InvalidCiphertextException"},
		{"Decrypt with a context pair missing", decrypt("", blob, map[string]string{"volume": "v1"}), invalidCiphertext, "InvalidCiphertextException"},
		{"Decrypt with an extra context pair", decrypt(a, blob, map[string]string{"volume": "v1", "purpose": "test", "x": "y"}), invalidCiphertext, "InvalidCiphertextException"},
		{"Decrypt without the context", decrypt("", blob, nil), invalidCiphertext, "InvalidCiphertextException"},
		{"Decrypt a truncated blob", decrypt("", blob[:minBlobLen-1], ec), invalidCiphertext, "InvalidCiphertextException"},
		{"Decrypt a blob that is not one", decrypt("", []byte("definitely not a ciphertext blob, but long enough to parse"), ec), invalidCiphertext, "InvalidCiphertextException"},
		{"Decrypt naming an unknown key id", decrypt(unknownID, blob, ec), notFound, "NotFoundException"},
		{"Decrypt naming an unknown alias", decrypt("alias/nope", blob, ec), notFound, "NotFoundException"},
		{"Decrypt naming a key ARN of another account", decrypt("arn:aws:kms:"+testRegion+":444455556666:key/"+a, blob, ec), notFound, "NotFoundException"},
		{"Decrypt naming a key ARN of another region", decrypt("arn:aws:kms:eu-west-1:111122223333:key/"+a, blob, ec), notFound, "NotFoundException"},
		{"Encrypt under an unknown key id", encrypt(unknownID), notFound, "NotFoundException"},
		{"Encrypt under an unknown alias", encrypt("alias/nope"), notFound, "NotFoundException"},
		{"GenerateDataKey under an unknown key", generate(kms.GenerateDataKeyInput{KeyId: aws.String(unknownID), KeySpec: types.DataKeySpecAes256}), notFound, "NotFoundException"},
		{"GenerateDataKey with 0 bytes", generate(kms.GenerateDataKeyInput{KeyId: aws.String(a), NumberOfBytes: aws.Int32(0)}), withCode("ValidationException"), "ValidationException"},
		{"GenerateDataKey with 1025 bytes", generate(kms.GenerateDataKeyInput{KeyId: aws.String(a), NumberOfBytes: aws.Int32(1025)}), withCode("ValidationException"), "ValidationException"},
		{"GenerateDataKey with KeySpec and NumberOfBytes", generate(kms.GenerateDataKeyInput{KeyId: aws.String(a), KeySpec: types.DataKeySpecAes256, NumberOfBytes: aws.Int32(32)}), withCode("ValidationException"), "ValidationException"},
		{"GenerateDataKey with neither KeySpec nor NumberOfBytes", generate(kms.GenerateDataKeyInput{KeyId: aws.String(a)}), withCode("ValidationException"), "ValidationException"},
		{"Encrypt with an asymmetric algorithm", func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(a), Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			return err
		}, isA[*types.InvalidKeyUsageException], "InvalidKeyUsageException"},
		{"Encrypt of 4097 bytes", func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(a), Plaintext: make([]byte, 4097)})
			return err
		}, withCode("ValidationException"), "ValidationException"},
		{"Decrypt with DryRun", func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, DryRun: aws.Bool(true)})
			return err
		}, isA[*types.DryRunOperationException], "DryRunOperationException"},
		{"GenerateDataKey with DryRun", generate(kms.GenerateDataKeyInput{KeyId: aws.String(a), KeySpec: types.DataKeySpecAes256, DryRun: aws.Bool(true)}), isA[*types.DryRunOperationException], "DryRunOperationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Requests()
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if !tt.is(err) {
				t.Errorf("error %v (%T) is not the expected type", err, err)
			}
			if got := errorCode(err); got != tt.code {
				t.Errorf("error code %q, want %q", got, tt.code)
			}
			if got := s.Requests() - before; got != 1 {
				t.Errorf("%d requests reached the server, want 1 (client errors are not retried)", got)
			}
		})
	}
	if n := s.SignatureFailures(); n != 0 {
		t.Errorf("SignatureFailures = %d for correctly signed requests", n)
	}
}

// TestDecryptBitFlips flips one bit in each byte of a blob in turn. A flip
// in the embedded key id (bytes 1 to 36) makes the blob name a key that is
// not the one the caller names, so Decrypt with a KeyId fails with
// IncorrectKeyException; every other flip, and every flip when no KeyId is
// given, fails with InvalidCiphertextException.
func TestDecryptBitFlips(t *testing.T) {
	s := newTestServer(t)
	c := goodClient(t, s)
	ctx := context.Background()
	id := s.CreateKey()
	ec := map[string]string{"volume": "v1"}
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	blob := dk.CiphertextBlob
	if want := minBlobLen + 32; len(blob) != want {
		t.Fatalf("blob is %d bytes, want %d", len(blob), want)
	}
	for i := range blob {
		flipped := bytes.Clone(blob)
		flipped[i] ^= 1 << (i % 8)
		for _, named := range []bool{false, true} {
			in := &kms.DecryptInput{CiphertextBlob: flipped, EncryptionContext: ec}
			if named {
				in.KeyId = aws.String(id)
			}
			_, err := c.Decrypt(ctx, in)
			inKeyID := i >= 1 && i < 1+keyIDLen
			switch {
			case err == nil:
				t.Errorf("byte %d, KeyId given %v: Decrypt succeeded", i, named)
			case named && inKeyID:
				if !isA[*types.IncorrectKeyException](err) {
					t.Errorf("byte %d (key id), KeyId given: got %v, want IncorrectKeyException", i, err)
				}
			default:
				if !isA[*types.InvalidCiphertextException](err) {
					t.Errorf("byte %d, KeyId given %v: got %v, want InvalidCiphertextException", i, named, err)
				}
			}
		}
	}
	// The untouched blob still opens.
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String(id)}); err != nil {
		t.Fatalf("Decrypt of the original blob: %v", err)
	}
}

// alterBody is an SDK HTTP client that changes the body after the SDK has
// signed the request, keeping its length.
type alterBody struct{ next *http.Client }

func (a alterBody) Do(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	_ = r.Body.Close()
	body = bytes.Replace(body, []byte("AES_256"), []byte("AES_128"), 1)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return a.next.Do(r)
}

func TestSignatureRejected(t *testing.T) {
	s := newTestServer(t)
	id := s.CreateKey()
	ctx := context.Background()
	tests := []struct {
		name   string
		client *kms.Client
		code   string
	}{
		{"other region", newClient(t, s, "eu-central-1", testAKID, testSecret), "InvalidSignatureException"},
		{"wrong secret key", newClient(t, s, testRegion, testAKID, testSecret+"x"), "InvalidSignatureException"},
		{"unknown access key id", newClient(t, s, testRegion, "AKIDUNKNOWN000000000", testSecret), "UnrecognizedClientException"},
		{"body changed after signing", newClient(t, s, testRegion, testAKID, testSecret, func(o *kms.Options) {
			o.HTTPClient = alterBody{next: &http.Client{}}
		}), "InvalidSignatureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failures, calls := s.SignatureFailures(), s.Calls("GenerateDataKey")
			_, err := tt.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
			if err == nil {
				t.Fatal("request was accepted")
			}
			if got := errorCode(err); got != tt.code {
				t.Errorf("error code %q (%v), want %q", got, err, tt.code)
			}
			if got := s.SignatureFailures() - failures; got != 1 {
				t.Errorf("SignatureFailures grew by %d, want 1", got)
			}
			if got := s.Calls("GenerateDataKey") - calls; got != 1 {
				t.Errorf("Calls(GenerateDataKey) grew by %d, want 1 (no retries)", got)
			}
		})
	}

	// A correctly signed request still goes through and is not counted.
	failures := s.SignatureFailures()
	if _, err := goodClient(t, s).GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256}); err != nil {
		t.Fatalf("correctly signed request: %v", err)
	}
	if got := s.SignatureFailures(); got != failures {
		t.Errorf("SignatureFailures grew by %d for a good request", got-failures)
	}
}

func TestDefaultRetryerAttempts(t *testing.T) {
	s := newTestServer(t)
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(testRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		t.Fatal(err)
	}
	c := kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(s.URL) })
	if cfg.RetryMaxAttempts != 0 {
		t.Skipf("the environment sets the retry attempts to %d", cfg.RetryMaxAttempts)
	}
	if got := c.Options().Retryer.MaxAttempts(); got != 3 {
		t.Errorf("default retryer makes %d attempts, want 3", got)
	}
}

func TestFaults(t *testing.T) {
	s := newTestServer(t)
	c := goodClient(t, s)
	ctx := context.Background()
	id := s.CreateKey()
	maxAttempts := c.Options().Retryer.MaxAttempts()
	if maxAttempts != retry.DefaultMaxAttempts {
		t.Fatalf("retryer makes %d attempts, want the default %d", maxAttempts, retry.DefaultMaxAttempts)
	}
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		fault Fault
		code  string
		is    func(error) bool
	}{
		{FaultThrottle, "ThrottlingException", func(error) bool { return true }},
		{FaultInternal, "KMSInternalException", isA[*types.KMSInternalException]},
		{FaultUnavailable, "ServiceUnavailableException", func(error) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			for n := 1; n < maxAttempts; n++ {
				before := s.Calls("GenerateDataKey")
				s.InjectFaults(tt.fault, n)
				if _, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256}); err != nil {
					t.Fatalf("%d faults: GenerateDataKey failed: %v", n, err)
				}
				if got := s.Calls("GenerateDataKey") - before; got != n+1 {
					t.Errorf("%d faults: %d calls, want %d", n, got, n+1)
				}
			}

			s.InjectFaults(tt.fault, -1)
			before := s.Calls("Decrypt")
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
			if err == nil {
				t.Fatal("Decrypt succeeded under a permanent fault")
			}
			if got := s.Calls("Decrypt") - before; got != maxAttempts {
				t.Errorf("permanent fault: %d calls, want %d", got, maxAttempts)
			}
			if got := errorCode(err); got != tt.code {
				t.Errorf("error code %q, want %q", got, tt.code)
			}
			if !tt.is(err) {
				t.Errorf("error %v is not of the expected type", err)
			}
			if !isA[*retry.MaxAttemptsError](err) {
				t.Errorf("error %v does not say the attempts ran out", err)
			}

			s.InjectFaults(FaultNone, 0)
			before = s.Calls("Decrypt")
			if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob}); err != nil {
				t.Fatalf("Decrypt after clearing faults: %v", err)
			}
			if got := s.Calls("Decrypt") - before; got != 1 {
				t.Errorf("after clearing faults: %d calls, want 1", got)
			}
		})
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func TestFaultTimeout(t *testing.T) {
	s := New(Options{Region: testRegion, AccessKeyID: testAKID, SecretAccessKey: testSecret})
	defer s.Close()
	c := goodClient(t, s)
	id := s.CreateKey()
	s.InjectFaults(FaultTimeout, -1)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v is not context.DeadlineExceeded", err)
	}
	if elapsed < 250*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("call gave up after %v, want about 300ms", elapsed)
	}
	if got := s.Calls("GenerateDataKey"); got != 1 {
		t.Errorf("%d calls, want 1", got)
	}
	if !waitFor(2*time.Second, func() bool { return s.holding.Load() == 0 }) {
		t.Errorf("the server still holds %d requests after the client gave up", s.holding.Load())
	}
	start = time.Now()
	s.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
}

// TestFaultTimeoutCap shortens the hold cap so that a held request is
// answered with DependencyTimeoutException, which the SDK retries as a 503.
func TestFaultTimeoutCap(t *testing.T) {
	s := newTestServer(t)
	s.holdCap.Store(int64(50 * time.Millisecond))
	c := goodClient(t, s)
	ctx := context.Background()
	id := s.CreateKey()

	s.InjectFaults(FaultTimeout, 1)
	if _, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256}); err != nil {
		t.Fatalf("GenerateDataKey after one held attempt: %v", err)
	}
	if got := s.Calls("GenerateDataKey"); got != 2 {
		t.Errorf("%d calls, want 2", got)
	}

	s.InjectFaults(FaultTimeout, -1)
	_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	if !isA[*types.DependencyTimeoutException](err) {
		t.Errorf("error %v is not DependencyTimeoutException", err)
	}
	if got := s.Calls("GenerateDataKey"); got != 2+retry.DefaultMaxAttempts {
		t.Errorf("%d calls, want %d", got, 2+retry.DefaultMaxAttempts)
	}
}

func TestCloseReleasesHeldRequest(t *testing.T) {
	s := New(Options{Region: testRegion, AccessKeyID: testAKID, SecretAccessKey: testSecret})
	defer s.Close()
	c := goodClient(t, s)
	id := s.CreateKey()
	s.InjectFaults(FaultTimeout, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
		errc <- err
	}()
	if !waitFor(3*time.Second, func() bool { return s.holding.Load() == 1 }) {
		t.Fatal("the request was never held")
	}
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a held request", d)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Error("the call succeeded against a closed server")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client call did not return after Close")
	}
	if n := s.holding.Load(); n != 0 {
		t.Errorf("%d requests still held after Close", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newTestServer(t)
	c := goodClient(t, s)
	ctx := context.Background()
	const workers, rounds = 6, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := s.CreateKey()
			alias := "alias/w" + string(rune('a'+w))
			s.CreateAlias(alias, id)
			ec := map[string]string{"worker": alias}
			for range rounds {
				dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(alias), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
				if err != nil {
					errs <- err
					return
				}
				out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec, KeyId: aws.String(id)})
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(out.Plaintext, dk.Plaintext) {
					errs <- errors.New("plaintext mismatch")
					return
				}
				_ = s.Calls("Decrypt")
				_ = s.Requests()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.Calls("GenerateDataKey"); got != workers*rounds {
		t.Errorf("Calls(GenerateDataKey) = %d, want %d", got, workers*rounds)
	}
	if got := s.Requests(); got != 2*workers*rounds {
		t.Errorf("Requests = %d, want %d", got, 2*workers*rounds)
	}
}

// A disabled key answers DisabledException and a denied one
// AccessDeniedException, to every operation, naming the key by ARN and
// whichever way the caller named it; other keys are unaffected.
func TestDisabledAndDeniedKeys(t *testing.T) {
	s := newTestServer(t)
	c := goodClient(t, s)
	ctx := context.Background()
	disabled, denied, fine := s.CreateKey(), s.CreateKey(), s.CreateKey()
	s.CreateAlias("alias/off", disabled)
	blobs := map[string][]byte{}
	for _, id := range []string{disabled, denied, fine} {
		out, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
		if err != nil {
			t.Fatal(err)
		}
		blobs[id] = out.CiphertextBlob
	}
	s.DisableKey(disabled)
	s.DenyKey(denied)
	for _, tt := range []struct {
		name, ref, blobOf, code string
	}{
		{"disabled by id", disabled, disabled, "DisabledException"},
		{"disabled by alias", "alias/off", disabled, "DisabledException"},
		{"disabled by ARN", s.ARN(disabled), disabled, "DisabledException"},
		{"disabled, Decrypt without KeyId", "", disabled, "DisabledException"},
		{"denied", denied, denied, "AccessDeniedException"},
		{"denied, Decrypt without KeyId", "", denied, "AccessDeniedException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := &kms.DecryptInput{CiphertextBlob: blobs[tt.blobOf]}
			if tt.ref != "" {
				in.KeyId = aws.String(tt.ref)
				_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(tt.ref), KeySpec: types.DataKeySpecAes256})
				if got := errorCode(err); got != tt.code || !strings.Contains(err.Error(), s.ARN(tt.blobOf)) {
					t.Errorf("GenerateDataKey: %q (%v), want %s naming the ARN", got, err, tt.code)
				}
			}
			_, err := c.Decrypt(ctx, in)
			if got := errorCode(err); got != tt.code {
				t.Errorf("Decrypt: %q (%v), want %s", got, err, tt.code)
			}
		})
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blobs[fine], KeyId: aws.String(fine)}); err != nil {
		t.Fatalf("an untouched key: %v", err)
	}
}
