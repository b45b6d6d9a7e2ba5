package keyenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrest/atrest/ctr"
)

// sealFails is a backend whose Seal always fails: a reseal that cannot
// happen.
type sealFails struct{ Backend }

var errSealBroken = errors.New("seal broken")

func (sealFails) Seal(context.Context, string, []byte) ([]byte, error) { return nil, errSealBroken }

// The TiKV master-key matrix.
func TestMasterKeysMatrix(t *testing.T) {
	ctx := context.Background()
	secret := []byte("the key dictionary")
	oldKey, _ := newFileBackend(t)
	newKey, _ := newFileBackend(t)
	stranger, _ := newFileBackend(t)
	blob := mustSeal(t, oldKey, "key-dictionary", secret)

	t.Run("current right", func(t *testing.T) {
		m := &MasterKeys{Current: oldKey, Previous: stranger}
		s, resealed, err := m.Unseal(ctx, "key-dictionary", blob)
		if err != nil || resealed != nil || string(s.Bytes()) != string(secret) {
			t.Fatalf("%v %v %v", s, resealed, err)
		}
		s.Release()
	})
	t.Run("current wrong, previous right: opens and reseals", func(t *testing.T) {
		m := &MasterKeys{Current: newKey, Previous: oldKey}
		s, resealed, err := m.Unseal(ctx, "key-dictionary", blob)
		if err != nil || string(s.Bytes()) != string(secret) {
			t.Fatalf("%v %v", s, err)
		}
		s.Release()
		if resealed == nil {
			t.Fatal("no resealed blob")
		}
		// The new blob opens with the new key alone.
		mustUnseal(t, newKey, "key-dictionary", resealed, secret)
		_, err = oldKey.Unseal(ctx, "key-dictionary", resealed)
		wantErr(t, err, ErrWrongMasterKey)
	})
	t.Run("both wrong", func(t *testing.T) {
		m := &MasterKeys{Current: newKey, Previous: stranger}
		_, _, err := m.Unseal(ctx, "key-dictionary", blob)
		wantErr(t, err, ErrBothMasterKeysFailed, ErrWrongMasterKey)
		if !strings.Contains(err.Error(), newKey.ID()) || !strings.Contains(err.Error(), stranger.ID()) {
			t.Errorf("error %q does not name both backends", err)
		}
	})
	t.Run("current wrong, no previous", func(t *testing.T) {
		m := &MasterKeys{Current: newKey}
		_, _, err := m.Unseal(ctx, "key-dictionary", blob)
		wantErr(t, err, ErrWrongMasterKey)
		if errors.Is(err, ErrBothMasterKeysFailed) {
			t.Error("claims two keys failed")
		}
	})
	t.Run("reseal fails", func(t *testing.T) {
		m := &MasterKeys{Current: sealFails{newKey}, Previous: oldKey}
		_, _, err := m.Unseal(ctx, "key-dictionary", blob)
		wantErr(t, err, ErrResealFailed, errSealBroken)
	})
	t.Run("corrupt blob is not a reason to try the previous key", func(t *testing.T) {
		bad := append([]byte{}, blob...)
		bad[len(bad)-1] ^= 1
		m := &MasterKeys{Current: oldKey, Previous: newKey}
		_, _, err := m.Unseal(ctx, "key-dictionary", bad)
		wantErr(t, err, ErrCorruptBlob)
		if errors.Is(err, ErrBothMasterKeysFailed) {
			t.Error("tried the previous key on a corrupt blob")
		}
	})
	t.Run("turning encryption on: previous plaintext", func(t *testing.T) {
		plainBlob := mustSeal(t, Plaintext(), "key-dictionary", secret)
		m := &MasterKeys{Current: newKey, Previous: Plaintext()}
		s, resealed, err := m.Unseal(ctx, "key-dictionary", plainBlob)
		if err != nil || resealed == nil {
			t.Fatal(err)
		}
		s.Release()
		mustUnseal(t, newKey, "key-dictionary", resealed, secret)
	})
}

func TestInsecureMasterKey(t *testing.T) {
	ctx := context.Background()
	for _, m := range ctr.Methods {
		c := DefaultConfig()
		c.DataEncryptionMethod = m
		mk, err := OpenMasterKeys(ctx, c)
		if m == ctr.Plaintext {
			if err != nil {
				t.Fatalf("plaintext data with a plaintext master key: %v", err)
			}
			mk.Close()
			continue
		}
		wantErr(t, err, ErrInsecureMasterKey)
		if !strings.Contains(err.Error(), "master key is absent or insecure") {
			t.Errorf("%v", err)
		}
	}
	// Encryption on with a real master key and a plaintext previous one
	// is how encryption is turned on: allowed.
	path := writeKeyFile(t, t.TempDir(), make([]byte, 32))
	c, err := ParseConfig([]byte(`[security.encryption]
data-encryption-method = "aes256-ctr"
[security.encryption.master-key]
type = "file"
path = "` + path + `"
[security.encryption.previous-master-key]
type = "plaintext"
`))
	if err != nil {
		t.Fatal(err)
	}
	mk, err := OpenMasterKeys(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer mk.Close()
	if mk.Current.Kind() != KindFile || mk.Previous.Kind() != KindPlaintext {
		t.Fatalf("%s / %s", mk.Current.ID(), mk.Previous.ID())
	}
}

func TestOpenMasterKeysFromConfig(t *testing.T) {
	dir := t.TempDir()
	keyPath := writeKeyFile(t, dir, []byte("0123456789abcdef0123456789abcdef"))
	ringPath := filepath.Join(dir, "ring")
	kr, err := CreateKeyring(ringPath, []byte("pw from file"), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	kr.AddKey("tikv")
	kr.Close()
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("pw from file\n"), 0o600)
	c, err := ParseConfig([]byte(`[security.encryption]
data-encryption-method = "aes128-ctr"
[security.encryption.master-key]
type = "keyring"
path = "` + ringPath + `"
key-id = "tikv"
password-file = "` + pwFile + `"
[security.encryption.previous-master-key]
type = "file"
path = "` + keyPath + `"
`))
	if err != nil {
		t.Fatal(err)
	}
	mk, err := OpenMasterKeys(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer mk.Close()
	blob := mustSeal(t, mk.Previous, "key-dictionary", []byte("dict"))
	s, resealed, err := mk.Unseal(context.Background(), "key-dictionary", blob)
	if err != nil || resealed == nil {
		t.Fatal(err)
	}
	s.Release()
	mustUnseal(t, mk.Current, "key-dictionary", resealed, []byte("dict"))

	// A bad previous master key fails the open and names the section.
	c.PreviousMasterKey.Path = filepath.Join(dir, "missing")
	_, err = OpenMasterKeys(context.Background(), c)
	wantErr(t, err, ErrBadKeyFile)
	if !strings.Contains(err.Error(), "previous-master-key") {
		t.Errorf("%v", err)
	}
}

// Rotation between backends of different kinds, and back.
func TestRotateAcrossKinds(t *testing.T) {
	file, _ := newFileBackend(t)
	ring, _, _ := newKeyringBackend(t, "k")
	secret := []byte("dictionary bytes")
	blob := mustSeal(t, Plaintext(), "key-dictionary", secret)
	chain := []Backend{Plaintext(), file, ring, file}
	for i := 1; i < len(chain); i++ {
		next, err := Rotate(context.Background(), chain[i-1], chain[i], "key-dictionary", blob)
		if err != nil {
			t.Fatalf("%s -> %s: %v", chain[i-1].ID(), chain[i].ID(), err)
		}
		mustUnseal(t, chain[i], "key-dictionary", next, secret)
		blob = next
	}
	// Rotating from a key that does not open the blob fails cleanly.
	_, err := Rotate(context.Background(), ring, file, "key-dictionary", blob)
	wantErr(t, err, ErrWrongMasterKey)
	_, err = Rotate(context.Background(), file, sealFails{ring}, "key-dictionary", blob)
	wantErr(t, err, errSealBroken)
}

// No error on any failure path holds the master key's bytes, in hex or
// raw, nor the secret's.
func TestErrorsNeverHoldKeyBytes(t *testing.T) {
	ctx := context.Background()
	a, keyA := newFileBackend(t)
	b, keyB := newFileBackend(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	blob := mustSeal(t, a, "key-dictionary", secret)
	corrupt := append([]byte{}, blob...)
	corrupt[len(corrupt)-1] ^= 1
	var errs []error
	collect := func(_ any, err error) { errs = append(errs, err) }
	collect(b.Unseal(ctx, "key-dictionary", blob))
	collect(a.Unseal(ctx, "key-dictionary", corrupt))
	collect(a.Unseal(ctx, "other", blob))
	collect((&MasterKeys{Current: b, Previous: b}).Seal(ctx, "", secret))
	_, _, err := (&MasterKeys{Current: b, Previous: b}).Unseal(ctx, "key-dictionary", blob)
	errs = append(errs, err)
	_, _, err = (&MasterKeys{Current: sealFails{b}, Previous: a}).Unseal(ctx, "key-dictionary", blob)
	errs = append(errs, err)
	collect(Rotate(ctx, b, a, "key-dictionary", blob))
	collect(Rotate(ctx, a, sealFails{b}, "key-dictionary", blob))
	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d did not fail", i)
		}
		assertNoKeyBytes(t, err, keyA)
		assertNoKeyBytes(t, err, keyB)
		assertNoKeyBytes(t, err, secret)
	}
}
