package keyenv

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// This test binary does not import keyenv/awskms: a kms master key fails
// with a message that says what to import, in OpenBackend and through
// OpenMasterKeys.
func TestBackendNotLinked(t *testing.T) {
	kms := MasterKeyConfig{Type: KindKMS, KeyID: "k", Region: "r"}
	for _, vendor := range []string{"", "aws"} {
		kms.Vendor = vendor
		_, err := OpenBackend(context.Background(), kms)
		wantErr(t, err, ErrBackendNotLinked)
		want := `keyenv: type "kms" vendor "aws": backend not linked into this program; import github.com/atrest/atrest/keyenv/awskms`
		if err.Error() != want {
			t.Errorf("vendor %q:\n got %s\nwant %s", vendor, err, want)
		}
	}
	c := DefaultConfig()
	c.MasterKey = kms
	_, err := OpenMasterKeys(context.Background(), c)
	wantErr(t, err, ErrBackendNotLinked)
	if !strings.Contains(err.Error(), "master-key") || !strings.Contains(err.Error(), "import github.com/atrest/atrest/keyenv/awskms") {
		t.Errorf("%v", err)
	}
	for _, mk := range []MasterKeyConfig{{Type: Kind(9)}, {Type: KindKMS, Vendor: "nobody"}} {
		_, err := OpenBackend(context.Background(), mk)
		wantErr(t, err, ErrConfig)
		if errors.Is(err, ErrBackendNotLinked) {
			t.Errorf("%+v: %v", mk, err)
		}
	}
}

// A registered opener gets the whole section and the caller's options.
func TestRegisterBackend(t *testing.T) {
	var got MasterKeyConfig
	var settings Settings
	RegisterBackend(KindKMS, "keyenv-test", func(_ context.Context, mk MasterKeyConfig, opts ...Option) (Backend, error) {
		got, settings = mk, ApplyOptions(opts...)
		return Plaintext(), nil
	})
	mk := MasterKeyConfig{Type: KindKMS, Vendor: "keyenv-test", KeyID: "k", Region: "r", Endpoint: "https://kms.example"}
	b, err := OpenBackend(context.Background(), mk, WithKMSAttempts(7))
	if err != nil || b.ID() != "plaintext" {
		t.Fatalf("%v %v", b, err)
	}
	if !reflect.DeepEqual(got, mk) || settings.KMSAttempts != 7 || settings.KMSTimeout != DefaultKMSTimeout {
		t.Errorf("opener got %+v, %+v", got, settings)
	}
	for name, register := range map[string]func(){
		"twice":        func() { RegisterBackend(KindKMS, "keyenv-test", openPlaintext) },
		"builtin":      func() { RegisterBackend(KindFile, "", openPlaintext) },
		"unknown kind": func() { RegisterBackend(Kind(9), "x", openPlaintext) },
		"nil opener":   func() { RegisterBackend(KindKMS, "keyenv-test-nil", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			register()
		}()
	}
}
