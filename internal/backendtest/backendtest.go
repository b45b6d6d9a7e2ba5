// Package backendtest is the conformance suite of keyenv master-key
// backends: what every backend (file, keyring, AWS KMS, and any other
// built on keyenv.NewEnvelope) must do the same way. A backend's tests
// describe how to open its keys in an Env and call Run:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, backendtest.Env{
//			Working: func(t *testing.T) (keyenv.Backend, error) { return open(t, key1) },
//			Second:  func(t *testing.T) (keyenv.Backend, error) { return open(t, key2) },
//			Missing: func(t *testing.T) (keyenv.Backend, error) { return open(t, "no-such-key") },
//			...
//			Secret: "the token in the configuration",
//		})
//	}
//
// The suite checks: a seal/unseal round trip whose blob records the key
// that sealed it; the label binding (another label, a forged label); an
// altered body; a wrong key (ErrWrongMasterKey, directly and through
// keyenv.MasterKeys in both orders, picked by the blob's key record);
// each error class its sentinel (ErrKMSKeyNotFound, ErrKMSKeyDisabled,
// ErrKMSAccessDenied, ErrKMSUnreachable within a bounded time); the
// envelope's call statistics moving; and that Env.Secret appears in no
// error message and no backend ID.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/keyenv"
)

// Opener opens one master key of the backend under test. It may fail (a
// key file that does not exist fails at open; a KMS key that does not
// exist only at the first call): the suite accepts the expected sentinel
// from either. The suite closes what it opens.
type Opener func(t *testing.T) (keyenv.Backend, error)

// Env describes a backend to the suite. Working and Second are required;
// each other Opener may be nil when the backend cannot express that case
// (a key file cannot be disabled), and the suite says so with t.Log.
type Env struct {
	// Working opens a key that works.
	Working Opener
	// Second opens another working key of the same backend (another key
	// file, another KMS key), which must not open Working's blobs.
	Second Opener

	// Missing opens a key the key service does not know. Its Seal (or
	// its open) fails with MissingErr.
	Missing Opener
	// MissingErr is the sentinel of a missing key; nil means
	// keyenv.ErrKMSKeyNotFound. (A key file that does not exist is
	// keyenv.ErrBadKeyFile; a keyring without the key,
	// keyenv.ErrKeyringKeyNotFound.)
	MissingErr error
	// Disabled opens a key that exists but is disabled; Seal fails with
	// keyenv.ErrKMSKeyDisabled.
	Disabled Opener
	// Denied opens a key the caller may not use (wrong credentials, no
	// permission); Seal fails with keyenv.ErrKMSAccessDenied.
	Denied Opener
	// Unreachable opens a key at a service that does not answer (nothing
	// listening); Seal fails with keyenv.ErrKMSUnreachable within
	// UnreachableWithin. Open it with short retries (keyenv.Options).
	Unreachable Opener
	// UnreachableWithin bounds how long an unreachable service may take
	// to fail a call; zero means 20 s.
	UnreachableWithin time.Duration

	// Secret is a recognisable secret of the configuration (a token, a
	// client secret, a secret access key): it must appear in no error
	// message the suite provokes and in no backend ID. Empty skips that
	// check, with a log line.
	Secret string
}

// Label is the label the suite seals under.
const Label = "key-dictionary"

// Run runs the conformance suite against env, each check a subtest.
func Run(t *testing.T, env Env) {
	t.Helper()
	if env.Working == nil || env.Second == nil {
		t.Fatal("backendtest: Env.Working and Env.Second are required")
	}
	s := &suite{env: env}
	t.Run("RoundTrip", s.roundTrip)
	t.Run("LabelBinding", s.labelBinding)
	t.Run("AlteredBody", s.alteredBody)
	t.Run("WrongKey", s.wrongKey)
	t.Run("MasterKeysPickByRecord", s.masterKeys)
	t.Run("CallStats", s.callStats)
	t.Run("ErrorClasses", s.errorClasses)
	t.Run("NoSecretInMessages", s.noSecret)
}

type suite struct {
	env    Env
	errors []error // every error provoked, for the secret check
	ids    []string
}

// open opens o and closes the backend when the test ends.
func (s *suite) open(t *testing.T, name string, o Opener) keyenv.Backend {
	t.Helper()
	b, err := o(t)
	if err != nil {
		t.Fatalf("open %s key: %v", name, err)
	}
	t.Cleanup(func() { b.Close() })
	s.ids = append(s.ids, b.ID())
	return b
}

// saw keeps err for the secret check and returns it.
func (s *suite) saw(err error) error {
	if err != nil {
		s.errors = append(s.errors, err)
	}
	return err
}

func seal(t *testing.T, b keyenv.Backend, secret []byte) []byte {
	t.Helper()
	blob, err := b.Seal(context.Background(), Label, secret)
	if err != nil {
		t.Fatalf("%s: seal: %v", b.ID(), err)
	}
	return blob
}

func unseal(t *testing.T, b keyenv.Backend, blob, want []byte) {
	t.Helper()
	sec, err := b.Unseal(context.Background(), Label, blob)
	if err != nil {
		t.Fatalf("%s: unseal: %v", b.ID(), err)
	}
	defer sec.Release()
	if !bytes.Equal(sec.Bytes(), want) {
		t.Fatalf("%s: unsealed %q, want %q", b.ID(), sec.Bytes(), want)
	}
}

func wantIs(t *testing.T, what string, err error, target error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, target)
	}
	if !errors.Is(err, target) {
		t.Fatalf("%s: %v, want an error wrapping %q", what, err, target)
	}
}

// record returns the key record a blob carries.
func record(t *testing.T, blob []byte) keyenv.KeyRecord {
	t.Helper()
	sb, err := keyenv.ParseSealedBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	rec, named := sb.Record()
	if !named {
		t.Fatalf("a version %d blob records no key", sb.Version)
	}
	return rec
}

func (s *suite) roundTrip(t *testing.T) {
	a := s.open(t, "working", s.env.Working)
	b := s.open(t, "second", s.env.Second)
	if !a.Secure() || a.Kind() != b.Kind() || a.ID() == b.ID() {
		t.Fatalf("working %s %q secure %v, second %s %q", a.Kind(), a.ID(), a.Secure(), b.Kind(), b.ID())
	}
	for _, n := range []int{1, 32, 4096} {
		secret := bytes.Repeat([]byte("conformance!"), n/12+1)[:n]
		blob := seal(t, a, secret)
		unseal(t, a, blob, secret)
		if n >= 16 && bytes.Contains(blob, secret) {
			t.Fatal("the secret is visible in its blob")
		}
		rec := record(t, blob)
		if rec.Kind != a.Kind() || !a.Holds(rec) || b.Holds(rec) {
			t.Fatalf("the blob records %v: working holds it %v, second %v", rec, a.Holds(rec), b.Holds(rec))
		}
		if s.env.Secret != "" && bytes.Contains(rec.Identity, []byte(s.env.Secret)) {
			t.Fatalf("the blob's key record %v holds the secret", rec)
		}
	}
	if again := seal(t, a, []byte("same")); bytes.Equal(again, seal(t, a, []byte("same"))) {
		t.Fatal("two seals of the same secret are identical")
	}
}

func (s *suite) labelBinding(t *testing.T) {
	a := s.open(t, "working", s.env.Working)
	blob := seal(t, a, []byte("bound to its label"))
	_, err := a.Unseal(context.Background(), "transfer-key", blob)
	wantIs(t, "another label", s.saw(err), keyenv.ErrWrongLabel)
	// The label rewritten in the header and opened under the new label:
	// authentication (or the key service's context) refuses it.
	forged := bytes.Replace(blob, []byte(Label), []byte("key-dictionarz"), 1)
	sec, err := a.Unseal(context.Background(), "key-dictionarz", forged)
	if err == nil {
		sec.Release()
		t.Fatal("a blob with a forged label opened")
	}
	s.saw(err)
	if !errors.Is(err, keyenv.ErrCorruptBlob) && !errors.Is(err, keyenv.ErrWrongMasterKey) {
		t.Fatalf("forged label: %v, want ErrCorruptBlob or ErrWrongMasterKey", err)
	}
}

func (s *suite) alteredBody(t *testing.T) {
	a := s.open(t, "working", s.env.Working)
	blob := seal(t, a, []byte("altered"))
	bad := bytes.Clone(blob)
	bad[len(bad)-1] ^= 1
	_, err := a.Unseal(context.Background(), Label, bad)
	wantIs(t, "altered body", s.saw(err), keyenv.ErrCorruptBlob)
	_, err = a.Unseal(context.Background(), Label, blob[:len(blob)/2])
	if s.saw(err) == nil {
		t.Fatal("a truncated blob opened")
	}
}

func (s *suite) wrongKey(t *testing.T) {
	a := s.open(t, "working", s.env.Working)
	b := s.open(t, "second", s.env.Second)
	blob := seal(t, a, []byte("sealed by the working key"))
	_, err := b.Unseal(context.Background(), Label, blob)
	wantIs(t, "the second key opening the working key's blob", s.saw(err), keyenv.ErrWrongMasterKey)
	other := seal(t, b, []byte("sealed by the second key"))
	_, err = a.Unseal(context.Background(), Label, other)
	wantIs(t, "the working key opening the second key's blob", s.saw(err), keyenv.ErrWrongMasterKey)
}

func (s *suite) masterKeys(t *testing.T) {
	ctx := context.Background()
	a := s.open(t, "working", s.env.Working)
	b := s.open(t, "second", s.env.Second)
	for _, tt := range []struct {
		name             string
		sealer, stranger keyenv.Backend
	}{{"working sealed", a, b}, {"second sealed", b, a}} {
		t.Run(tt.name, func(t *testing.T) {
			secret := []byte("the dictionary, " + tt.name)
			blob := seal(t, tt.sealer, secret)
			sec, resealed, err := (&keyenv.MasterKeys{Current: tt.sealer, Previous: tt.stranger}).Unseal(ctx, Label, blob)
			if err != nil || resealed != nil {
				t.Fatalf("the sealer as master key: resealed %v, %v", resealed != nil, err)
			}
			sec.Release()
			sec, resealed, err = (&keyenv.MasterKeys{Current: tt.stranger, Previous: tt.sealer}).Unseal(ctx, Label, blob)
			if err != nil || resealed == nil {
				t.Fatalf("the sealer as previous master key: resealed %v, %v", resealed != nil, err)
			}
			if !bytes.Equal(sec.Bytes(), secret) {
				t.Fatalf("opened to %q", sec.Bytes())
			}
			sec.Release()
			if rec := record(t, resealed); !tt.stranger.Holds(rec) {
				t.Fatalf("the resealed blob records %v, not the master key", rec)
			}
			unseal(t, tt.stranger, resealed, secret)
			// Neither key: the error names what the blob records.
			_, _, err = (&keyenv.MasterKeys{Current: tt.stranger}).Unseal(ctx, Label, blob)
			wantIs(t, "a blob of neither key", s.saw(err), keyenv.ErrWrongMasterKey)
			if rec := record(t, blob); !strings.Contains(err.Error(), rec.String()) {
				t.Fatalf("%q does not say the blob was sealed by the %s", err, rec)
			}
		})
	}
}

func (s *suite) callStats(t *testing.T) {
	a := s.open(t, "working", s.env.Working)
	b := s.open(t, "second", s.env.Second)
	get := func(k keyenv.Backend) keyenv.BackendCallStats {
		st, ok := keyenv.CallStatsOf(k.Kind(), k.ID())
		if !ok {
			t.Fatalf("%s: no call statistics: is the backend built on keyenv.NewEnvelope?", k.ID())
		}
		return st
	}
	beforeA, beforeB := get(a), get(b)
	blob := seal(t, a, []byte("counted"))
	unseal(t, a, blob, []byte("counted"))
	_, err := b.Unseal(context.Background(), Label, blob)
	s.saw(err)
	afterA, afterB := get(a), get(b)
	if afterA.Seal.Calls != beforeA.Seal.Calls+1 || afterA.Unseal.Calls != beforeA.Unseal.Calls+1 {
		t.Fatalf("working key: seal calls %d→%d, unseal %d→%d", beforeA.Seal.Calls, afterA.Seal.Calls, beforeA.Unseal.Calls, afterA.Unseal.Calls)
	}
	if afterA.Seal.Total <= beforeA.Seal.Total {
		t.Fatal("no seal time counted")
	}
	wrong := keyenv.ClassWrongMasterKey
	if afterB.Unseal.Errors[wrong] != beforeB.Unseal.Errors[wrong]+1 {
		t.Fatalf("second key: wrong-master-key errors %d→%d", beforeB.Unseal.Errors[wrong], afterB.Unseal.Errors[wrong])
	}
}

func (s *suite) errorClasses(t *testing.T) {
	within := s.env.UnreachableWithin
	if within == 0 {
		within = 20 * time.Second
	}
	missing := s.env.MissingErr
	if missing == nil {
		missing = keyenv.ErrKMSKeyNotFound
	}
	for _, tt := range []struct {
		name   string
		open   Opener
		want   error
		within time.Duration
	}{
		{"Missing", s.env.Missing, missing, 0},
		{"Disabled", s.env.Disabled, keyenv.ErrKMSKeyDisabled, 0},
		{"Denied", s.env.Denied, keyenv.ErrKMSAccessDenied, 0},
		{"Unreachable", s.env.Unreachable, keyenv.ErrKMSUnreachable, within},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.open == nil {
				t.Logf("backendtest: the Env gives no %s key; not checked here", strings.ToLower(tt.name))
				return
			}
			s.brokenKey(t, tt.open, tt.want, tt.within)
		})
	}
}

// brokenKey checks that a broken key fails with want, at open or at its
// first seal, and that unsealing a working key's blob with it fails with
// want if it names the same key (wrong credentials, a dead endpoint), or
// ErrWrongMasterKey if not; within bounds each call when not zero.
func (s *suite) brokenKey(t *testing.T, open Opener, want error, within time.Duration) {
	b, err := open(t)
	if err != nil {
		wantIs(t, "open", s.saw(err), want)
		return
	}
	t.Cleanup(func() { b.Close() })
	s.ids = append(s.ids, b.ID())
	timed := func(what string, call func() error) error {
		start := time.Now()
		err := s.saw(call())
		if took := time.Since(start); within > 0 && took > within {
			t.Errorf("%s took %v, more than %v", what, took, within)
		}
		return err
	}
	err = timed("seal", func() error { _, err := b.Seal(context.Background(), Label, []byte("x")); return err })
	wantIs(t, "seal", err, want)
	if errors.Is(err, keyenv.ErrWrongMasterKey) {
		// keyenv.MasterKeys would take a broken key for the wrong one.
		t.Fatalf("seal: %v also says wrong master key", err)
	}
	a := s.open(t, "working", s.env.Working)
	blob := seal(t, a, []byte("x"))
	err = timed("unseal", func() error { _, err := b.Unseal(context.Background(), Label, blob); return err })
	if b.Holds(record(t, blob)) {
		wantIs(t, "unseal a blob of the same key", err, want)
	} else {
		wantIs(t, "unseal a blob of another key", err, keyenv.ErrWrongMasterKey)
	}
}

func (s *suite) noSecret(t *testing.T) {
	if s.env.Secret == "" {
		t.Log("backendtest: Env.Secret is empty; messages not checked for secrets")
		return
	}
	if len(s.errors) == 0 {
		t.Fatal("no errors were collected")
	}
	for _, err := range s.errors {
		if msg := fmt.Sprint(err); strings.Contains(msg, s.env.Secret) {
			t.Errorf("the secret appears in %q", msg)
		}
	}
	for _, id := range s.ids {
		if strings.Contains(id, s.env.Secret) {
			t.Errorf("the secret appears in the ID %q", id)
		}
	}
	t.Logf("%d error messages and %d IDs hold no secret", len(s.errors), len(s.ids))
}
