package awskms

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/atrest/atrest/internal/backendtest"
	"github.com/atrest/atrest/internal/kmstest"
	"github.com/atrest/atrest/keyenv"
)

const (
	testRegion = "us-west-2"
	testAKID   = "AKIDATRESTTEST"
	testSecret = "atrest-test-secret-access-key"
)

// kmsEnv starts a KMS-compatible server and points the SDK's default
// credential chain at static test credentials, with nothing else (no
// shared files, no instance metadata) in reach.
func kmsEnv(t *testing.T) *kmstest.Server {
	t.Helper()
	srv := kmstest.New(kmstest.Options{Region: testRegion, AccessKeyID: testAKID, SecretAccessKey: testSecret})
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", testAKID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/atrest-test")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/atrest-test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return srv
}

// fastKMS keeps retries real but short.
var fastKMS = []keyenv.Option{keyenv.WithKMSAttempts(3), keyenv.WithKMSTimeouts(5*time.Second, 300*time.Millisecond), keyenv.WithKMSMaxBackoff(5 * time.Millisecond)}

func openKMS(t *testing.T, srv *kmstest.Server, keyID, region string) keyenv.Backend {
	t.Helper()
	b, err := Open(context.Background(), Config{KeyID: keyID, Region: region, Endpoint: srv.URL}, fastKMS...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestKMSRoundTrip(t *testing.T) {
	srv := kmsEnv(t)
	id := srv.CreateKey()
	srv.CreateAlias("alias/atrest", id)
	secret := []byte("key dictionary under KMS")
	for _, ref := range []string{id, srv.ARN(id), "alias/atrest"} {
		b := openKMS(t, srv, ref, testRegion)
		if b.Kind() != keyenv.KindKMS || !b.Secure() || !strings.Contains(b.ID(), ref) || !strings.Contains(b.ID(), testRegion) {
			t.Fatalf("kind %v secure %v id %q", b.Kind(), b.Secure(), b.ID())
		}
		gen, dec := srv.Calls("GenerateDataKey"), srv.Calls("Decrypt")
		blob := backendtest.MustSeal(t, b, "key-dictionary", secret)
		backendtest.MustUnseal(t, b, "key-dictionary", blob, secret)
		if srv.Calls("GenerateDataKey") != gen+1 || srv.Calls("Decrypt") != dec+1 {
			t.Fatalf("%s: %d GenerateDataKey and %d Decrypt calls for one seal and one unseal",
				ref, srv.Calls("GenerateDataKey")-gen, srv.Calls("Decrypt")-dec)
		}
		if bytes.Contains(blob, secret) {
			t.Fatal("secret visible in the blob")
		}
	}
	if srv.SignatureFailures() != 0 {
		t.Fatalf("%d requests failed SigV4 checks", srv.SignatureFailures())
	}
}

// A blob sealed under another KMS key is the wrong master key, so the
// previous master key is tried, opens it and the blob is resealed.
func TestKMSWrongKeyFallsBackToPrevious(t *testing.T) {
	srv := kmsEnv(t)
	oldKey := openKMS(t, srv, srv.CreateKey(), testRegion)
	newKey := openKMS(t, srv, srv.CreateKey(), testRegion)
	blob := backendtest.MustSeal(t, oldKey, "key-dictionary", []byte("dict"))

	decrypts := srv.Calls("Decrypt")
	_, err := newKey.Unseal(context.Background(), "key-dictionary", blob)
	backendtest.WantErr(t, err, keyenv.ErrWrongMasterKey)
	if srv.Calls("Decrypt") != decrypts {
		t.Fatal("KMS was asked to decrypt a blob that records another key")
	}

	m := &keyenv.MasterKeys{Current: newKey, Previous: oldKey}
	s, resealed, err := m.Unseal(context.Background(), "key-dictionary", blob)
	if err != nil || resealed == nil {
		t.Fatalf("fallback: %v", err)
	}
	s.Release()
	backendtest.MustUnseal(t, newKey, "key-dictionary", resealed, []byte("dict"))

	// Both wrong: another stranger key.
	stranger := openKMS(t, srv, srv.CreateKey(), testRegion)
	m = &keyenv.MasterKeys{Current: stranger, Previous: oldKey}
	_, _, err = m.Unseal(context.Background(), "key-dictionary", resealed)
	backendtest.WantErr(t, err, keyenv.ErrBothMasterKeysFailed, keyenv.ErrWrongMasterKey)
}

func TestKMSTamperedBlob(t *testing.T) {
	srv := kmsEnv(t)
	b := openKMS(t, srv, srv.CreateKey(), testRegion)
	blob := backendtest.MustSeal(t, b, "key-dictionary", []byte("dict"))
	sb, _ := keyenv.ParseSealedBlob(blob)
	refStart := bytes.Index(blob, sb.KeyRef)
	// A flip in the KMS ciphertext: KMS cannot decrypt it, which looks to
	// KMS like another key's blob.
	bad := bytes.Clone(blob)
	bad[refStart+len(sb.KeyRef)/2] ^= 0x10
	_, err := b.Unseal(context.Background(), "key-dictionary", bad)
	backendtest.WantErr(t, err, keyenv.ErrWrongMasterKey)
	// A flip in the sealed body: the data key opens, authentication fails.
	bad = bytes.Clone(blob)
	bad[len(bad)-3] ^= 0x01
	_, err = b.Unseal(context.Background(), "key-dictionary", bad)
	backendtest.WantErr(t, err, keyenv.ErrCorruptBlob)
	// Moved to another label: refused before KMS is asked.
	calls := srv.Calls("Decrypt")
	_, err = b.Unseal(context.Background(), "transfer-key", blob)
	backendtest.WantErr(t, err, keyenv.ErrWrongLabel)
	if srv.Calls("Decrypt") != calls {
		t.Fatal("asked KMS to decrypt a blob of another label")
	}
	// The label is in KMS's encryption context too: a forged header label
	// does not get the data key out of KMS.
	forged := bytes.Replace(blob, []byte("key-dictionary"), []byte("key-dictionarz"), 1)
	_, err = b.Unseal(context.Background(), "key-dictionarz", forged)
	backendtest.WantErr(t, err, keyenv.ErrWrongMasterKey)
}

func TestKMSUnknownKey(t *testing.T) {
	srv := kmsEnv(t)
	b := openKMS(t, srv, "00000000-1111-2222-3333-444444444444", testRegion)
	_, err := b.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantErr(t, err, keyenv.ErrKMSKeyNotFound)
	if !strings.Contains(err.Error(), "00000000-1111-2222-3333-444444444444") {
		t.Errorf("error %q does not name the key", err)
	}
}

// Throttling, 5xx and timeouts are retried a bounded number of times,
// then fail with keyenv.ErrKMSUnreachable, never with keyenv.ErrWrongMasterKey.
func TestKMSFaults(t *testing.T) {
	srv := kmsEnv(t)
	b := openKMS(t, srv, srv.CreateKey(), testRegion)
	for _, tt := range []struct {
		name  string
		fault kmstest.Fault
		n     int
		ok    bool
		calls int
		says  string
	}{
		{"throttled twice, then served", kmstest.FaultThrottle, 2, true, 3, ""},
		{"500 once, then served", kmstest.FaultInternal, 1, true, 2, ""},
		{"503 twice, then served", kmstest.FaultUnavailable, 2, true, 3, ""},
		{"timeout once, then served", kmstest.FaultTimeout, 1, true, 2, ""},
		{"always throttled", kmstest.FaultThrottle, -1, false, 3, "ThrottlingException"},
		{"always 500", kmstest.FaultInternal, -1, false, 3, "KMSInternalException"},
		{"always 503", kmstest.FaultUnavailable, -1, false, 3, "after 3 attempts"},
		{"always timing out", kmstest.FaultTimeout, -1, false, 3, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv.InjectFaults(tt.fault, tt.n)
			defer srv.InjectFaults(kmstest.FaultNone, 0)
			before := srv.Calls("GenerateDataKey")
			start := time.Now()
			blob, err := b.Seal(context.Background(), "l", []byte("s"))
			took := time.Since(start)
			if calls := srv.Calls("GenerateDataKey") - before; calls != tt.calls {
				t.Errorf("%d attempts, want %d", calls, tt.calls)
			}
			if took > 3*time.Second {
				t.Errorf("took %v: retries are not bounded", took)
			}
			if tt.ok {
				if err != nil {
					t.Fatalf("not retried: %v", err)
				}
				srv.InjectFaults(kmstest.FaultNone, 0)
				backendtest.MustUnseal(t, b, "l", blob, []byte("s"))
				return
			}
			backendtest.WantErr(t, err, keyenv.ErrKMSUnreachable)
			if errors.Is(err, keyenv.ErrWrongMasterKey) {
				t.Fatal("an unreachable KMS reported as a wrong master key")
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}

// The whole-call timeout bounds a call however many attempts are left.
func TestKMSCallTimeout(t *testing.T) {
	srv := kmsEnv(t)
	id := srv.CreateKey()
	b, err := Open(context.Background(), Config{KeyID: id, Region: testRegion, Endpoint: srv.URL},
		keyenv.WithKMSAttempts(10), keyenv.WithKMSTimeouts(400*time.Millisecond, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	srv.InjectFaults(kmstest.FaultTimeout, -1)
	defer srv.InjectFaults(kmstest.FaultNone, 0)
	start := time.Now()
	_, err = b.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantErr(t, err, keyenv.ErrKMSUnreachable)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("a 400 ms call took %v", took)
	}
}

// An unreachable KMS is not a wrong master key: keyenv.MasterKeys does not fall
// back to the previous key, and the error says what happened.
func TestKMSUnreachable(t *testing.T) {
	kmsEnv(t)
	dead := "http://" + backendtest.ClosedAddr(t)
	srv := kmstest.New(kmstest.Options{Region: testRegion, AccessKeyID: testAKID, SecretAccessKey: testSecret})
	defer srv.Close()
	id := srv.CreateKey()
	// The same key as the live one, through an endpoint nothing answers.
	b, err := Open(context.Background(), Config{KeyID: id, Region: testRegion, Endpoint: dead}, fastKMS...)
	if err != nil {
		t.Fatal(err)
	}
	file := backendtest.NewFileBackend(t)
	blob := backendtest.MustSeal(t, file, "l", []byte("s"))
	// The blob is a file blob, so KMS is not even asked: wrong master key.
	_, err = b.Unseal(context.Background(), "l", blob)
	backendtest.WantErr(t, err, keyenv.ErrWrongMasterKey)
	// A blob of this KMS key with KMS down: unreachable, and no fallback.
	live := openKMS(t, srv, id, testRegion)
	kmsBlob := backendtest.MustSeal(t, live, "l", []byte("s"))
	m := &keyenv.MasterKeys{Current: b, Previous: file}
	_, _, err = m.Unseal(context.Background(), "l", kmsBlob)
	backendtest.WantErr(t, err, keyenv.ErrKMSUnreachable)
	if errors.Is(err, keyenv.ErrBothMasterKeysFailed) {
		t.Fatal("fell back to the previous key because KMS was down")
	}
	_, err = b.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantErr(t, err, keyenv.ErrKMSUnreachable)
}

// Requests are SigV4-signed for the configured region: a backend
// configured for another region, or with the wrong secret, is refused
// with its own error.
func TestKMSSignatureAndRegion(t *testing.T) {
	srv := kmsEnv(t)
	id := srv.CreateKey()
	other := openKMS(t, srv, id, "eu-central-1")
	_, err := other.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantErr(t, err, keyenv.ErrKMSAccessDenied)
	if srv.SignatureFailures() == 0 {
		t.Fatal("the server did not see a bad signature")
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	wrong := openKMS(t, srv, id, testRegion)
	_, err = wrong.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantErr(t, err, keyenv.ErrKMSAccessDenied)
}

// The reseal failing: the previous master key opens the blob but KMS, the
// current one, cannot seal it again.
func TestKMSResealFails(t *testing.T) {
	srv := kmsEnv(t)
	current := openKMS(t, srv, srv.CreateKey(), testRegion)
	previous := backendtest.NewFileBackend(t)
	blob := backendtest.MustSeal(t, previous, "key-dictionary", []byte("dict"))
	srv.InjectFaults(kmstest.FaultInternal, -1)
	defer srv.InjectFaults(kmstest.FaultNone, 0)
	m := &keyenv.MasterKeys{Current: current, Previous: previous}
	_, _, err := m.Unseal(context.Background(), "key-dictionary", blob)
	backendtest.WantErr(t, err, keyenv.ErrResealFailed, keyenv.ErrKMSUnreachable)
}

func TestKMSFromConfig(t *testing.T) {
	srv := kmsEnv(t)
	id := srv.CreateKey()
	c, err := keyenv.ParseConfig([]byte(`[security.encryption]
data-encryption-method = "sm4-ctr"
[security.encryption.master-key]
type = "kms"
key-id = "` + id + `"
region = "` + testRegion + `"
endpoint = "` + srv.URL + `"
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := keyenv.OpenMasterKeys(context.Background(), c, fastKMS...)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	blob := backendtest.MustSeal(t, m.Current, "key-dictionary", []byte("dict"))
	s, resealed, err := m.Unseal(context.Background(), "key-dictionary", blob)
	if err != nil || resealed != nil {
		t.Fatal(err)
	}
	s.Release()
	for _, bad := range []Config{{Region: "r"}, {KeyID: "k"}, {KeyID: "k", Region: "r", Endpoint: "kms.example.com"}} {
		if _, err := Open(context.Background(), bad); !errors.Is(err, keyenv.ErrConfig) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// Importing the package registers it for type "kms" with vendor "aws" and
// without a vendor (TiKV's default).
func TestRegistered(t *testing.T) {
	srv := kmsEnv(t)
	id := srv.CreateKey()
	for _, vendor := range []string{"", "aws"} {
		mk := keyenv.MasterKeyConfig{Type: keyenv.KindKMS, Vendor: vendor, KeyID: id, Region: testRegion, Endpoint: srv.URL}
		b := backendtest.OpenRegistered(t, mk, fastKMS...)
		if b.Kind() != keyenv.KindKMS || !strings.HasPrefix(b.ID(), "kms:"+id) {
			t.Fatalf("vendor %q: kind %v id %q", vendor, b.Kind(), b.ID())
		}
	}
	_, err := keyenv.OpenBackend(context.Background(), keyenv.MasterKeyConfig{Type: keyenv.KindKMS, Vendor: "oracle", KeyID: id, Region: testRegion})
	backendtest.WantErr(t, err, keyenv.ErrConfig)
}

// KMS errors passed up through keyenv say "keyenv:" and the key once.
func TestKMSErrorsReadOnce(t *testing.T) {
	srv := kmsEnv(t)
	current := openKMS(t, srv, srv.CreateKey(), testRegion)
	previous := backendtest.NewFileBackend(t)
	blob := backendtest.MustSeal(t, previous, "key-dictionary", []byte("dict"))
	srv.InjectFaults(kmstest.FaultInternal, -1)
	defer srv.InjectFaults(kmstest.FaultNone, 0)
	_, _, resealErr := (&keyenv.MasterKeys{Current: current, Previous: previous}).Unseal(context.Background(), "key-dictionary", blob)
	_, rotateErr := keyenv.Rotate(context.Background(), previous, current, "key-dictionary", blob)
	c := keyenv.DefaultConfig()
	c.MasterKey = keyenv.MasterKeyConfig{Type: keyenv.KindKMS, KeyID: "k"}
	_, openErr := keyenv.OpenMasterKeys(context.Background(), c)
	for _, err := range []error{resealErr, rotateErr, openErr} {
		if err == nil {
			t.Fatal("no error")
		}
		if n := strings.Count(err.Error(), "keyenv:"); n != 1 {
			t.Errorf("%q says keyenv: %d times", err, n)
		}
		if n := strings.Count(err.Error(), current.ID()); n > 1 {
			t.Errorf("%q names the key %d times", err, n)
		}
	}
	backendtest.WantErr(t, resealErr, keyenv.ErrResealFailed, keyenv.ErrKMSUnreachable)
	backendtest.WantErr(t, rotateErr, keyenv.ErrKMSUnreachable)
	backendtest.WantErr(t, openErr, keyenv.ErrConfig)
}

// Each AWS error code maps to its sentinel, and only to it.
func TestClassifyCodes(t *testing.T) {
	k := &kmsKey{cfg: Config{KeyID: "k", Region: testRegion}, opts: keyenv.ApplyOptions()}
	sentinels := []error{keyenv.ErrWrongMasterKey, keyenv.ErrKMSKeyNotFound, keyenv.ErrKMSKeyDisabled, keyenv.ErrKMSAccessDenied, keyenv.ErrKMSUnreachable}
	for _, tt := range []struct {
		codes []string
		want  error
	}{
		{[]string{"DisabledException", "KMSInvalidStateException", "KeyUnavailableException"}, keyenv.ErrKMSKeyDisabled},
		{[]string{"NotFoundException"}, keyenv.ErrKMSKeyNotFound},
		{[]string{"AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidClientTokenId",
			"InvalidSignatureException", "SignatureDoesNotMatch", "ExpiredTokenException"}, keyenv.ErrKMSAccessDenied},
		{[]string{"IncorrectKeyException", "InvalidCiphertextException"}, keyenv.ErrWrongMasterKey},
		{[]string{"ThrottlingException", "KMSInternalException", "DependencyTimeoutException"}, keyenv.ErrKMSUnreachable},
	} {
		for _, code := range tt.codes {
			err := k.classify("Decrypt", &smithy.GenericAPIError{Code: code, Message: "m"})
			for _, s := range sentinels {
				if errors.Is(err, s) != (s == tt.want) {
					t.Errorf("%s: %v; wraps %q: %v", code, err, s, errors.Is(err, s))
				}
			}
			if !strings.Contains(err.Error(), code) {
				t.Errorf("%q does not say %s", err, code)
			}
		}
	}
}

// A KMS blob of format version 1 (no key record) still opens: with its
// key, and through MasterKeys by trial, the fake answering the new key
// with IncorrectKeyException as AWS does; the reseal records the new key.
func TestKMSOldBlobOpensByTrial(t *testing.T) {
	srv := kmsEnv(t)
	ctx := context.Background()
	id1, id2 := srv.CreateKey(), srv.CreateKey()
	src, err := newKMSKey(ctx, Config{KeyID: id1, Region: testRegion, Endpoint: srv.URL}, fastKMS...)
	if err != nil {
		t.Fatal(err)
	}
	old := sealV1(t, src, "key-dictionary", []byte("dict v1"))
	key1, key2 := openKMS(t, srv, id1, testRegion), openKMS(t, srv, id2, testRegion)
	backendtest.MustUnseal(t, key1, "key-dictionary", old, []byte("dict v1"))
	s, resealed, err := (&keyenv.MasterKeys{Current: key2, Previous: key1}).Unseal(ctx, "key-dictionary", old)
	if err != nil || resealed == nil {
		t.Fatalf("trial: resealed %v, %v", resealed != nil, err)
	}
	s.Release()
	sb, err := keyenv.ParseSealedBlob(resealed)
	if err != nil {
		t.Fatal(err)
	}
	if rec, named := sb.Record(); !named || !key2.Holds(rec) || key1.Holds(rec) {
		t.Fatalf("the resealed blob records %v", rec)
	}
	backendtest.MustUnseal(t, key2, "key-dictionary", resealed, []byte("dict v1"))
}
