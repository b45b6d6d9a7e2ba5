package awskms

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrest/atrest/keyenv"
)

// newFileBackend returns a key-file backend, the other master key of the
// fallback and reseal tests.
func newFileBackend(t *testing.T) keyenv.Backend {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := keyenv.OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func mustSeal(t *testing.T, b keyenv.Backend, label string, secret []byte) []byte {
	t.Helper()
	blob, err := b.Seal(context.Background(), label, secret)
	if err != nil {
		t.Fatalf("%s: seal: %v", b.ID(), err)
	}
	return blob
}

func mustUnseal(t *testing.T, b keyenv.Backend, label string, blob, want []byte) {
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

func wantErr(t *testing.T, err error, targets ...error) {
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

// sealV1 seals secret as format version 1 did (no key record) with a
// fresh data key of k, as a blob written before this version would be.
func sealV1(t *testing.T, k *kmsKey, label string, secret []byte) []byte {
	t.Helper()
	key, ref, err := k.SealingKey(context.Background(), label)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Release()
	h := append([]byte("ATSB"), 1, byte(keyenv.KindKMS), byte(len(label)))
	h = append(h, label...)
	h = binary.BigEndian.AppendUint16(h, uint16(len(ref)))
	h = append(h, ref...)
	block, err := aes.NewCipher(key.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, 12)
	rand.Read(nonce)
	return aead.Seal(append(h, nonce...), nonce, secret, h)
}
