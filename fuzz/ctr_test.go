package fuzz

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/emmansun/gmsm/sm4"

	"github.com/atrest/atrest/ctr"
)

// FuzzAESCTR checks XORKeyStreamAt against crypto/cipher's CTR stream for
// a fuzzed key size, key, IV, offset, length, kernel and aliasing.
func FuzzAESCTR(f *testing.F) {
	f.Add(uint8(0), []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210"), uint64(0), uint32(64), uint8(0), false)
	f.Add(uint8(1), []byte("k"), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}, uint64(17), uint32(300), uint8(1), true)
	f.Add(uint8(2), []byte{}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd}, uint64(1<<40+3), uint32(5000), uint8(2), false)
	f.Add(uint8(0), []byte("x"), []byte("iv"), uint64(1<<64-9), uint32(9), uint8(3), true)
	f.Fuzz(func(t *testing.T, size uint8, keySeed, ivSeed []byte, offset uint64, length uint32, kernel uint8, inPlace bool) {
		m := []ctr.Method{ctr.AES128CTR, ctr.AES192CTR, ctr.AES256CTR}[int(size)%3]
		checkAgainstReference(t, m, keySeed, ivSeed, offset, length, kernel, inPlace)
	})
}

// FuzzSM4CTR checks XORKeyStreamAt against gmsm's SM4 in CTR mode for a
// fuzzed key, IV, offset, length, kernel and aliasing.
func FuzzSM4CTR(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte("fedcba9876543210"), uint64(0), uint32(64), uint8(0), false)
	f.Add([]byte("k"), []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xfe}, uint64(17), uint32(700), uint8(1), true)
	f.Add([]byte{}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0}, uint64(1<<40+3), uint32(5000), uint8(2), false)
	f.Add([]byte("x"), []byte("iv"), uint64(255), uint32(256), uint8(3), true)
	f.Fuzz(func(t *testing.T, keySeed, ivSeed []byte, offset uint64, length uint32, kernel uint8, inPlace bool) {
		checkAgainstReference(t, ctr.SM4CTR, keySeed, ivSeed, offset, length, kernel, inPlace)
	})
}

// checkAgainstReference runs one fuzzed call on the chosen kernel and
// compares it with the reference implementation.
func checkAgainstReference(t *testing.T, m ctr.Method, keySeed, ivSeed []byte, offset uint64, length uint32, kernel uint8, inPlace bool) {
	key := stretch(keySeed, m.KeySize())
	iv := stretch(ivSeed, ctr.IVSize)
	n := int(length % (1 << 19)) // up to 512 KiB: some take the parallel path
	if offset > 1<<64-1-uint64(n) {
		n = int(1<<64 - 1 - offset) // keep offset+n within the stream
	}

	kernels := ctr.Kernels(m)
	name := kernels[int(kernel)%len(kernels)]
	if err := ctr.SetKernel(m, name); err != nil {
		t.Fatal(err)
	}
	s, err := ctr.New(m, key, iv)
	if err := ctr.SetKernel(m, ""); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}

	src := stretch(append(keySeed, ivSeed...), n)
	want := reference(t, m, key, iv, offset, src)
	var got []byte
	if inPlace {
		got = append([]byte(nil), src...)
		s.XORKeyStreamAt(got, got, offset)
	} else {
		got = make([]byte, n)
		s.XORKeyStreamAt(got, src, offset)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%v on %s, offset %d, length %d, in place %v: differs from the reference", m, name, offset, n, inPlace)
	}
}

// stretch repeats seed (or a fixed pattern if it is empty) to n bytes,
// varying each repetition so a short seed does not give a periodic buffer.
func stretch(seed []byte, n int) []byte {
	if len(seed) == 0 {
		seed = []byte{0x5a}
	}
	out := make([]byte, n)
	for i := range out {
		out[i] = seed[i%len(seed)] + byte(i/len(seed))
	}
	return out
}

// reference is the crypto/cipher way to read at an offset, over crypto/aes
// or gmsm's SM4: a stream at IV + offset/16, skipping offset%16 bytes.
func reference(t *testing.T, m ctr.Method, key, iv []byte, offset uint64, src []byte) []byte {
	var block cipher.Block
	var err error
	if m == ctr.SM4CTR {
		block, err = sm4.NewCipher(key)
	} else {
		block, err = aes.NewCipher(key)
	}
	if err != nil {
		t.Fatal(err)
	}
	start := append([]byte(nil), iv...)
	carry := offset / 16
	for i := 15; i >= 0 && carry != 0; i-- {
		sum := uint64(start[i]) + carry&0xff
		start[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	s := cipher.NewCTR(block, start)
	skip := make([]byte, offset%16)
	s.XORKeyStream(skip, skip)
	out := make([]byte, len(src))
	s.XORKeyStream(out, src)
	return out
}
