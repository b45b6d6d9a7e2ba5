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

// Errors read once: however many layers of this package a failure passes,
// its message says "keyenv:" once, and names a backend once.
func TestErrorsReadOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, _ := newFileBackend(t)
	b, _ := newFileBackend(t)
	blob := mustSeal(t, a, "key-dictionary", []byte("dict"))
	tampered := append([]byte{}, blob...)
	tampered[len(tampered)-1] ^= 1

	short := filepath.Join(dir, "short.key")
	if err := os.WriteFile(short, []byte("0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.key")
	good := strings.TrimPrefix(a.ID(), "file:")
	badConfig := filepath.Join(dir, "tikv.toml")
	if err := os.WriteFile(badConfig, []byte("[security.encryption]\ndata-key-rotation-period = \"1w\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, ringPath := newKeyringBackend(t, "tikv")
	t.Setenv("ATREST_TEST_WRONG_PW", "not the password")

	config := func(mk MasterKeyConfig, prev *MasterKeyConfig) Config {
		c := DefaultConfig()
		c.DataEncryptionMethod = ctr.AES128CTR
		c.MasterKey, c.PreviousMasterKey = mk, prev
		return c
	}
	openKeys := func(c Config) error {
		m, err := OpenMasterKeys(ctx, c)
		if err == nil {
			m.Close()
		}
		return err
	}
	file := func(path string) MasterKeyConfig { return MasterKeyConfig{Type: KindFile, Path: path} }
	closed, _ := newFileBackend(t)
	closed.Close()

	for _, tt := range []struct {
		name string
		err  func() error
		is   error
		once []string // besides "keyenv:", said at most once
		says string
	}{
		{"bad key file", func() error { return openKeys(config(file(short), nil)) },
			ErrBadKeyFile, []string{short}, "keyenv: master-key: key file " + short + ": bad master key file: wrong length"},
		{"missing key file", func() error { _, err := OpenKeyFile(missing); return err },
			ErrBadKeyFile, []string{missing}, "does not exist"},
		{"missing previous key file", func() error { return openKeys(config(file(good), &MasterKeyConfig{Type: KindFile, Path: missing})) },
			ErrBadKeyFile, []string{missing}, "keyenv: previous-master-key: key file " + missing + ": bad master key file: does not exist"},
		{"wrong master key", func() error { _, err := b.Unseal(ctx, "key-dictionary", blob); return err },
			ErrWrongMasterKey, []string{b.ID()}, "keyenv: " + b.ID() + ": wrong master key"},
		{"wrong master keys", func() error {
			_, _, err := (&MasterKeys{Current: b, Previous: b}).Unseal(ctx, "key-dictionary", blob)
			return err
		}, ErrBothMasterKeysFailed, nil, "the master key is " + b.ID() + " and the previous master key " + b.ID()},
		{"rotate with the wrong key", func() error { _, err := Rotate(ctx, b, a, "key-dictionary", blob); return err },
			ErrWrongMasterKey, []string{b.ID()}, "keyenv: rotate: open with " + b.ID() + ": wrong master key"},
		{"rotate to a key that cannot seal", func() error { _, err := Rotate(ctx, a, sealFails{b}, "key-dictionary", blob); return err },
			errSealBroken, []string{b.ID()}, "seal with " + b.ID() + ": seal broken"},
		{"reseal fails", func() error {
			_, _, err := (&MasterKeys{Current: sealFails{b}, Previous: a}).Unseal(ctx, "key-dictionary", blob)
			return err
		}, ErrResealFailed, []string{b.ID()}, b.ID()},
		{"tampered blob", func() error { _, err := a.Unseal(ctx, "key-dictionary", tampered); return err },
			ErrCorruptBlob, []string{a.ID()}, "keyenv: " + a.ID() + ": sealed blob is corrupt: authentication failed"},
		{"tampered blob, two keys", func() error {
			_, _, err := (&MasterKeys{Current: a, Previous: b}).Unseal(ctx, "key-dictionary", tampered)
			return err
		}, ErrCorruptBlob, []string{a.ID()}, "authentication failed"},
		{"closed backend", func() error { _, err := closed.Seal(ctx, "l", []byte("s")); return err },
			errClosed, []string{closed.ID()}, closed.ID()},
		{"unknown backend", func() error { return openKeys(config(MasterKeyConfig{Type: KindKMS, KeyID: "k", Region: "r"}, nil)) },
			ErrBackendNotLinked, []string{"master-key"}, `keyenv: master-key: type "kms" vendor "aws": backend not linked into this program; import github.com/atrest/atrest/keyenv/awskms`},
		{"unknown previous backend", func() error {
			return openKeys(config(file(good), &MasterKeyConfig{Type: KindKMS, Vendor: "aws", KeyID: "k", Region: "r"}))
		}, ErrBackendNotLinked, nil, `keyenv: previous-master-key: type "kms" vendor "aws": backend not linked`},
		{"bad config value", func() error { _, err := LoadConfig(badConfig); return err },
			ErrConfig, []string{badConfig}, `security.encryption.data-key-rotation-period = "1w"`},
		{"missing config file", func() error { _, err := LoadConfig(missing); return err },
			ErrConfig, nil, missing},
		{"wrong keyring password", func() error {
			return openKeys(config(MasterKeyConfig{Type: KindKeyring, Path: ringPath, KeyID: "tikv", PasswordEnv: "ATREST_TEST_WRONG_PW"}, nil))
		}, ErrWrongPassword, []string{ringPath}, "keyenv: master-key: keyring " + ringPath + ": wrong keyring password"},
		{"no keyring password", func() error {
			return openKeys(config(MasterKeyConfig{Type: KindKeyring, Path: ringPath, KeyID: "tikv", PasswordEnv: "ATREST_TEST_UNSET_PW"}, nil))
		}, ErrNoPassword, nil, "ATREST_TEST_UNSET_PW"},
		{"keyring without the key", func() error {
			t.Setenv("ATREST_TEST_PW", "correct horse")
			return openKeys(config(MasterKeyConfig{Type: KindKeyring, Path: ringPath, KeyID: "other", PasswordEnv: "ATREST_TEST_PW"}, nil))
		}, ErrKeyringKeyNotFound, []string{ringPath}, "other"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if !errors.Is(err, tt.is) {
				t.Fatalf("%v, want %v", err, tt.is)
			}
			msg := err.Error()
			t.Log(msg)
			if n := strings.Count(msg, "keyenv:"); n > 1 {
				t.Errorf("%q says keyenv: %d times", msg, n)
			}
			for _, s := range tt.once {
				if n := strings.Count(msg, s); n > 1 {
					t.Errorf("%q says %q %d times", msg, s, n)
				}
			}
			if !strings.Contains(msg, tt.says) {
				t.Errorf("%q does not say %q", msg, tt.says)
			}
		})
	}
}
