package ctr

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"testing"

	"github.com/emmansun/gmsm/sm4"
)

// testExecEnv, when set, is the emulator command line the test binary runs
// under (make test-arm64 sets it, e.g. "qemu-aarch64-static -cpu max"), so
// that tests which start the binary again start it the same way.
const testExecEnv = "ATREST_TEST_EXEC"

// cipherMethods are the methods with a keystream: every differential test
// runs over all of them.
var cipherMethods = []Method{AES128CTR, AES192CTR, AES256CTR, SM4CTR}

// referenceBlock returns the independent block cipher a method is checked
// against: crypto/aes for AES, gmsm for SM4.
func referenceBlock(t testing.TB, m Method, key []byte) cipher.Block {
	t.Helper()
	var block cipher.Block
	var err error
	if m == SM4CTR {
		block, err = sm4.NewCipher(key)
	} else {
		block, err = aes.NewCipher(key)
	}
	if err != nil {
		t.Fatal(err)
	}
	return block
}

// forEachKernel runs f once for every kernel this CPU can run for m, as a
// subtest named after the kernel.
func forEachKernel(t *testing.T, m Method, f func(t *testing.T, kernel string)) {
	t.Helper()
	names := Kernels(m)
	if len(names) == 0 {
		t.Fatalf("no kernel for %v", m)
	}
	for _, name := range names {
		t.Run(m.String()+"/"+name, func(t *testing.T) { f(t, name) })
	}
}

// newWithKernel returns a Stream that runs on the named kernel without
// touching the process-wide selection, so tests stay independent.
func newWithKernel(t testing.TB, m Method, kernel string, key, iv []byte) *Stream {
	t.Helper()
	s, err := New(m, key, iv)
	if err != nil {
		t.Fatal(err)
	}
	id, err := findKernel(methodFamily(m), kernel)
	if err != nil {
		t.Fatal(err)
	}
	s.kern = id
	if s.Kernel() != kernel {
		t.Fatalf("stream runs on %q, want %q", s.Kernel(), kernel)
	}
	return s
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// addToIV returns iv + n as 128-bit big-endian numbers, mod 2^128.
func addToIV(iv []byte, n uint64) []byte {
	out := append([]byte(nil), iv...)
	carry := n
	for i := 15; i >= 0 && carry != 0; i-- {
		sum := uint64(out[i]) + carry&0xff
		out[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	return out
}

// referenceXOR is what a crypto/cipher user must do for a read at offset:
// a new CTR stream at IV + offset/16, then skip offset%16 bytes.
func referenceXOR(t testing.TB, m Method, key, iv []byte, offset uint64, src []byte) []byte {
	t.Helper()
	s := cipher.NewCTR(referenceBlock(t, m, key), addToIV(iv, offset/16))
	var skip [16]byte
	s.XORKeyStream(skip[:offset%16], skip[:offset%16])
	out := make([]byte, len(src))
	s.XORKeyStream(out, src)
	return out
}

func newRand(t testing.TB) *mrand.Rand {
	seed := mrand.Uint64()
	t.Logf("random seed %d", seed)
	return mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
