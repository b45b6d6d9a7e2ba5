package azurekvtest

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// RFC 3394 section 4.6: 256 bits of key data with a 256-bit KEK.
func TestKeyWrapRFC3394(t *testing.T) {
	kek, _ := hex.DecodeString("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
	data, _ := hex.DecodeString("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
	want, _ := hex.DecodeString("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21")
	got, err := keyWrap(kek, data)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("wrap: %x, %v; want %x", got, err, want)
	}
	back, err := keyUnwrap(kek, got)
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("unwrap: %x, %v", back, err)
	}
	other := bytes.Clone(kek)
	other[0] ^= 1
	if _, err := keyUnwrap(other, got); err == nil {
		t.Fatal("another KEK unwrapped the key")
	}
	if _, err := keyWrap(kek, data[:12]); err == nil {
		t.Fatal("wrapped 12 bytes")
	}
}
