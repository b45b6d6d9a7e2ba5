package encfile

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/atrest/atrest/ctr"
)

// testKey is the key material of one test stream, kept so that tests can
// build an independent second stream or a crypto/cipher reference.
type testKey struct {
	m       ctr.Method
	key, iv []byte
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func newKey(t testing.TB, m ctr.Method) testKey {
	return testKey{m: m, key: randomBytes(t, m.KeySize()), iv: randomBytes(t, ctr.IVSize)}
}

// stream returns a new Stream for k; every call builds a separate one.
func (k testKey) stream(t testing.TB) *ctr.Stream {
	t.Helper()
	s, err := ctr.New(k.m, k.key, k.iv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// keystream returns bytes [0, n) of k's keystream (all zero for
// Plaintext), from a Stream of its own in a single call at offset 0. For
// AES it is also checked against crypto/cipher.
func (k testKey) keystream(t testing.TB, n int) []byte {
	t.Helper()
	ks := make([]byte, n)
	k.stream(t).XORKeyStreamAt(ks, ks, 0)
	switch k.m {
	case ctr.AES128CTR, ctr.AES192CTR, ctr.AES256CTR:
		block, err := aes.NewCipher(k.key)
		if err != nil {
			t.Fatal(err)
		}
		ref := make([]byte, n)
		cipher.NewCTR(block, k.iv).XORKeyStream(ref, ref)
		if string(ref) != string(ks) {
			t.Fatalf("%v: ctr keystream differs from crypto/cipher", k.m)
		}
	case ctr.Plaintext:
		for i, b := range ks {
			if b != 0 {
				t.Fatalf("plaintext keystream byte %d is %#x", i, b)
			}
		}
	}
	return ks
}

func xorBytes(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

// openTemp creates an empty file for reading and writing in a fresh
// temporary directory and returns it with its path.
func openTemp(t testing.TB) (*os.File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return f, path
}

// newTestFile returns a File over a new temporary file with a stream for
// k, closed when the test ends.
func newTestFile(t testing.TB, k testKey) (*File, string) {
	t.Helper()
	osf, path := openTemp(t)
	f := New(osf, k.stream(t))
	t.Cleanup(func() { f.Close() })
	return f, path
}

func newRand(t testing.TB) *mrand.Rand {
	seed := mrand.Uint64()
	t.Logf("random seed %d", seed)
	return mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func fillRandom(rng *mrand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// tell returns f's position.
func tell(t testing.TB, f *File) int64 {
	t.Helper()
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}
