package kmip

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/atrest/atrest/internal/backendtest"
	"github.com/atrest/atrest/keyenv"
)

func TestRefRoundTrip(t *testing.T) {
	r := ref{keyID: "c0ffee-42", nonce: bytes.Repeat([]byte{1}, nonceBytes), tag: bytes.Repeat([]byte{2}, tagBytes), ciphertext: bytes.Repeat([]byte{3}, 32)}
	got, err := parseRef(r.marshal())
	if err != nil || got.keyID != r.keyID || !bytes.Equal(got.nonce, r.nonce) || !bytes.Equal(got.tag, r.tag) || !bytes.Equal(got.ciphertext, r.ciphertext) {
		t.Fatalf("%+v, %v", got, err)
	}
}

// A malformed reference is a corrupt blob, found before the server is
// asked (the endpoint here does not exist).
func TestMalformedRefs(t *testing.T) {
	good := ref{keyID: "1", nonce: make([]byte, nonceBytes), tag: make([]byte, tagBytes), ciphertext: make([]byte, 32)}.marshal()
	huge := binary.AppendUvarint([]byte{refVersion}, maxKeyID+1)
	for _, tt := range []struct {
		name string
		ref  []byte
	}{
		{"empty", nil},
		{"other version", append([]byte{2}, good[1:]...)},
		{"empty key id", append([]byte{refVersion, 0}, good[3:]...)},
		{"key id too long", append(huge, bytes.Repeat([]byte{'x'}, 2000)...)},
		{"no ciphertext", good[:1+1+1+nonceBytes+tagBytes]},
		{"truncated nonce", good[:1+1+1+5]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseRef(tt.ref); err == nil {
				t.Fatal("parsed")
			}
			src := &kmipKey{s: keyenv.KMIPSettings{Endpoints: []string{"127.0.0.1:1"}, KeyID: "1"}}
			_, err := src.UnsealingKey(context.Background(), "l", tt.ref)
			backendtest.WantErr(t, err, keyenv.ErrCorruptBlob)
			if !strings.Contains(err.Error(), "kmip:127.0.0.1:1 key 1") {
				t.Errorf("error %q does not name the key", err)
			}
		})
	}
}
