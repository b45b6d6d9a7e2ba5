package ctr_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log"

	"github.com/atrest/atrest/ctr"
)

// A storage engine keeps one Stream per file and decrypts any block where
// it lies: no state, no new stream per read.
func ExampleStream_XORKeyStreamAt() {
	key, _ := hex.DecodeString("2b7e151628aed2a6abf7158809cf4f3c")
	iv, _ := hex.DecodeString("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
	s, err := ctr.New(ctr.AES128CTR, key, iv)
	if err != nil {
		log.Fatal(err)
	}

	file := []byte("the quick brown fox jumps over the lazy dog, and then some more text")
	at := bytes.Index(file, []byte("lazy dog"))
	s.XORKeyStreamAt(file, file, 0) // encrypt the whole file in place

	// Decrypt 8 bytes in the middle, and nothing else.
	part := make([]byte, 8)
	s.XORKeyStreamAt(part, file[at:at+8], uint64(at))
	fmt.Printf("%s\n", part)
	// Output: lazy dog
}

// ParseMethod takes the names of TiKV's data-encryption-method.
func ExampleParseMethod() {
	m, err := ctr.ParseMethod("aes256-ctr")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m, m.KeySize())

	_, err = ctr.ParseMethod("aes-256-gcm")
	fmt.Println(err)
	// Output:
	// aes256-ctr 32
	// ctr: unknown encryption method "aes-256-gcm" (valid: plaintext, aes128-ctr, aes192-ctr, aes256-ctr, sm4-ctr)
}

// Forcing a lower kernel is how every kernel gets tested and benchmarked
// on one machine; the portable kernel is always there.
func ExampleSetKernel() {
	defer ctr.SetKernel(ctr.AES128CTR, "") // back to the automatic choice

	if err := ctr.SetKernel(ctr.AES128CTR, "aes-generic"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(ctr.KernelName(ctr.AES128CTR))

	key := make([]byte, 16)
	iv := make([]byte, ctr.IVSize)
	fast, _ := ctr.New(ctr.AES128CTR, key, iv) // made while aes-generic is forced
	fmt.Println(fast.Kernel())
	// Output:
	// aes-generic
	// aes-generic
}

// A Stream is a crypto/cipher.Stream too, for code that writes
// sequentially.
func ExampleStream_XORKeyStream() {
	key, iv := make([]byte, 32), make([]byte, ctr.IVSize)
	enc, _ := ctr.New(ctr.AES256CTR, key, iv)
	msg := []byte("written in two pieces")
	out := make([]byte, len(msg))
	enc.XORKeyStream(out[:7], msg[:7])
	enc.XORKeyStream(out[7:], msg[7:])

	dec, _ := ctr.New(ctr.AES256CTR, key, iv)
	back := make([]byte, len(out))
	dec.XORKeyStreamAt(back, out, 0)
	fmt.Println(bytes.Equal(back, msg))
	// Output: true
}
