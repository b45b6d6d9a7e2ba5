package backendtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrest/atrest/keyenv"
)

// FileKeyHex is the master key of the key files KeyFile writes, in hex.
var FileKeyHex = strings.Repeat("5a", 32)

// KeyFile writes a key file holding FileKeyHex in a fresh temporary
// directory of t and returns its path.
func KeyFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(FileKeyHex+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// NewFileBackend opens a key-file backend on a new KeyFile, closed when
// t ends: the other master key of a backend's fallback, rotation and
// reseal tests.
func NewFileBackend(t testing.TB) keyenv.Backend {
	t.Helper()
	b, err := keyenv.OpenKeyFile(KeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// MustSeal seals secret under label with b and fails t if that fails.
func MustSeal(t testing.TB, b keyenv.Backend, label string, secret []byte) []byte {
	t.Helper()
	blob, err := b.Seal(context.Background(), label, secret)
	if err != nil {
		t.Fatalf("%s: seal: %v", b.ID(), err)
	}
	return blob
}

// MustUnseal unseals blob under label with b and fails t unless that
// gives want.
func MustUnseal(t testing.TB, b keyenv.Backend, label string, blob, want []byte) {
	t.Helper()
	s, err := b.Unseal(context.Background(), label, blob)
	if err != nil {
		t.Fatalf("%s: unseal: %v", b.ID(), err)
	}
	defer s.Release()
	if !bytes.Equal(s.Bytes(), want) {
		t.Fatalf("%s: unsealed %x, want %x", b.ID(), s.Bytes(), want)
	}
}

// WantErr fails t unless err is an error that wraps every one of targets.
func WantErr(t testing.TB, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", targets)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Fatalf("error %q does not wrap %q", err, target)
		}
	}
}

// Sentinels are the key-service errors a backend's error classes are
// told apart by: an error of a backend's error matrix wraps exactly the
// one it is about (see WantOnly).
var Sentinels = []error{keyenv.ErrWrongMasterKey, keyenv.ErrKMSUnreachable, keyenv.ErrKMSKeyNotFound,
	keyenv.ErrKMSKeyDisabled, keyenv.ErrKMSAccessDenied, keyenv.ErrConfig}

// WantOnly fails t unless err wraps target and no other of Sentinels.
func WantOnly(t testing.TB, err error, target error) {
	t.Helper()
	WantErr(t, err, target)
	for _, s := range Sentinels {
		if s != target && errors.Is(err, s) {
			t.Fatalf("error %q wraps %q besides %q", err, s, target)
		}
	}
}

// FixedSource is a keyenv.KeySource of the kms kind that seals with a
// fresh random key under the fixed reference Ref and records KeyID as
// its key: wrapped in keyenv.NewEnvelope it makes the blobs of another
// vendor's key, or of a key whose reference is made up, for testing how
// a backend refuses them. It cannot unseal.
type FixedSource struct {
	Ref   []byte
	KeyID string
}

// Kind is keyenv.KindKMS.
func (FixedSource) Kind() keyenv.Kind { return keyenv.KindKMS }

// ID is f.KeyID.
func (f FixedSource) ID() string { return f.KeyID }

// Close does nothing.
func (FixedSource) Close() error { return nil }

// SealingKey returns a fresh random key and f.Ref.
func (f FixedSource) SealingKey(context.Context, string) (*keyenv.Secret, []byte, error) {
	k, err := keyenv.RandomSecret(keyenv.SealingKeyBytes)
	return k, f.Ref, err
}

// UnsealingKey always fails: a FixedSource only makes blobs.
func (FixedSource) UnsealingKey(context.Context, string, []byte) (*keyenv.Secret, error) {
	return nil, errors.New("backendtest: a FixedSource does not unseal")
}

// CheckRotation checks a rotation by configuration from previous to
// current: a blob previous sealed does not open with current
// (keyenv.ErrWrongMasterKey), keyenv.MasterKeys with both opens it and
// reseals it, and current opens the resealed blob.
func CheckRotation(t testing.TB, previous, current keyenv.Backend) {
	t.Helper()
	blob := MustSeal(t, previous, "key-dictionary", []byte("dict"))
	_, err := current.Unseal(context.Background(), "key-dictionary", blob)
	WantErr(t, err, keyenv.ErrWrongMasterKey)
	m := &keyenv.MasterKeys{Current: current, Previous: previous}
	s, resealed, err := m.Unseal(context.Background(), "key-dictionary", blob)
	if err != nil || resealed == nil {
		t.Fatalf("fallback: %v", err)
	}
	s.Release()
	MustUnseal(t, current, "key-dictionary", resealed, []byte("dict"))
}

// OpenConfig parses the configuration doc and opens its master keys with
// opts, closed when t ends.
func OpenConfig(t testing.TB, doc string, opts ...keyenv.Option) *keyenv.MasterKeys {
	t.Helper()
	c, err := keyenv.ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	m, err := keyenv.OpenMasterKeys(context.Background(), c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// CheckConfigRotation checks a rotation by configuration from the master
// keys before to after (whose previous master key is before's current
// one): a blob before sealed opens under after and is resealed, after's
// current key opens the resealed blob, and before's does not.
func CheckConfigRotation(t testing.TB, before, after *keyenv.MasterKeys) {
	t.Helper()
	blob := MustSeal(t, before.Current, "key-dictionary", []byte("dict"))
	s, resealed, err := after.Unseal(context.Background(), "key-dictionary", blob)
	if err != nil || resealed == nil {
		t.Fatalf("rotation: %v (resealed %v)", err, resealed != nil)
	}
	s.Release()
	MustUnseal(t, after.Current, "key-dictionary", resealed, []byte("dict"))
	if _, err := before.Current.Unseal(context.Background(), "key-dictionary", resealed); !errors.Is(err, keyenv.ErrWrongMasterKey) {
		t.Fatalf("the old key opens the resealed blob: %v", err)
	}
}

// OpenRegistered opens mk through keyenv.OpenBackend, the registry a
// backend package joins when it is imported, checks that the backend
// round-trips a secret, and returns it, closed when t ends.
func OpenRegistered(t testing.TB, mk keyenv.MasterKeyConfig, opts ...keyenv.Option) keyenv.Backend {
	t.Helper()
	b, err := keyenv.OpenBackend(context.Background(), mk, opts...)
	if err != nil {
		t.Fatalf("open %s: %v", mk.Type, err)
	}
	t.Cleanup(func() { b.Close() })
	MustUnseal(t, b, "l", MustSeal(t, b, "l", []byte("s")), []byte("s"))
	return b
}
