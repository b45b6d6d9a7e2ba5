package awskms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"testing"

	"github.com/atrest/atrest/keyenv"
)

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
