package backendtest

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/atrest/atrest/keyenv"
)

// TestHelpers checks what the shared helpers' doc comments promise: the
// key file holds FileKeyHex, the file backend round-trips through
// MustSeal and MustUnseal and refuses another label, WantOnly accepts an
// error of one class, and a FixedSource's blob records its KeyID and
// cannot be unsealed.
func TestHelpers(t *testing.T) {
	path := KeyFile(t)
	data, err := os.ReadFile(path)
	if err != nil || string(data) != FileKeyHex+"\n" {
		t.Fatalf("key file %q, %v; want FileKeyHex and a newline", data, err)
	}

	b := NewFileBackend(t)
	secret := []byte("dictionary key")
	blob := MustSeal(t, b, "label", secret)
	MustUnseal(t, b, "label", blob, secret)
	_, err = b.Unseal(context.Background(), "other", blob)
	WantErr(t, err, keyenv.ErrWrongLabel)
	WantOnly(t, err, keyenv.ErrWrongLabel)
	other, err := keyenv.OpenKeyFile(KeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if b.ID() == other.ID() {
		t.Errorf("two key files share the backend ID %q", b.ID())
	}

	src := FixedSource{Ref: []byte("made-up reference"), KeyID: "vendor key"}
	env := keyenv.NewEnvelope(src)
	fixed := MustSeal(t, env, "l", secret)
	if rec := record(t, fixed); rec.Kind != keyenv.KindKMS || !bytes.Equal(rec.Identity, []byte(src.KeyID)) {
		t.Errorf("FixedSource blob records %v %q, want kms %q", rec.Kind, rec.Identity, src.KeyID)
	}
	if !bytes.Contains(fixed, src.Ref) {
		t.Errorf("FixedSource blob does not hold its reference %q", src.Ref)
	}
	if s, err := env.Unseal(context.Background(), "l", fixed); err == nil {
		s.Release()
		t.Error("a FixedSource unsealed its blob")
	}
}
