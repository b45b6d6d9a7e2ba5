package ctr

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/emmansun/gmsm/sm4"
)

// GB/T 32907-2016, appendix A: key = plaintext = 0123456789abcdeffedcba9876543210.
const (
	sm4ExampleKey     = "0123456789abcdeffedcba9876543210"
	sm4ExampleOnce    = "681edf34d206965e86b3e94f536e4246" // one encryption
	sm4ExampleMillion = "595298c7c6fd271f0402f804c33d3f66" // 1,000,000 encryptions
)

func sm4EncryptBlock(rk *[aesMaxRoundKeyBytes]byte, dst, src []byte) {
	y0, y1, y2, y3 := sm4Encrypt(rk, binary.BigEndian.Uint32(src[0:]), binary.BigEndian.Uint32(src[4:]),
		binary.BigEndian.Uint32(src[8:]), binary.BigEndian.Uint32(src[12:]))
	binary.BigEndian.PutUint32(dst[0:], y0)
	binary.BigEndian.PutUint32(dst[4:], y1)
	binary.BigEndian.PutUint32(dst[8:], y2)
	binary.BigEndian.PutUint32(dst[12:], y3)
}

func TestSM4StandardExample(t *testing.T) {
	key := unhex(t, sm4ExampleKey)
	var rk [aesMaxRoundKeyBytes]byte
	expandSM4Key(key, &rk)
	block := append([]byte(nil), key...)
	sm4EncryptBlock(&rk, block, block)
	if want := unhex(t, sm4ExampleOnce); !bytes.Equal(block, want) {
		t.Fatalf("one encryption: %x, want %x", block, want)
	}
	if testing.Short() {
		return
	}
	copy(block, key)
	for range 1_000_000 {
		sm4EncryptBlock(&rk, block, block)
	}
	if want := unhex(t, sm4ExampleMillion); !bytes.Equal(block, want) {
		t.Fatalf("1,000,000 encryptions: %x, want %x", block, want)
	}
}

// Every kernel's keystream for the standard's key at counter = the
// standard's plaintext starts with the standard's ciphertext.
func TestSM4StandardExampleThroughKernels(t *testing.T) {
	key := unhex(t, sm4ExampleKey)
	forEachKernel(t, SM4CTR, func(t *testing.T, kernel string) {
		s := newWithKernel(t, SM4CTR, kernel, key, key) // IV = plaintext block
		ks := make([]byte, 16)
		s.XORKeyStreamAt(ks, ks, 0)
		if want := unhex(t, sm4ExampleOnce); !bytes.Equal(ks, want) {
			t.Fatalf("keystream block %x, want %x", ks, want)
		}
	})
}

func TestSM4BlockMatchesGmsm(t *testing.T) {
	for range 500 {
		key, in := randomBytes(t, 16), randomBytes(t, 16)
		var rk [aesMaxRoundKeyBytes]byte
		expandSM4Key(key, &rk)
		got, want := make([]byte, 16), make([]byte, 16)
		sm4EncryptBlock(&rk, got, in)
		ref, err := sm4.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		ref.Encrypt(want, in)
		if !bytes.Equal(got, want) {
			t.Fatalf("key %x block %x: got %x, want %x", key, in, got, want)
		}
	}
}

// Counter blocks whose low 32 bits wrap inside a call: the SM4 kernels keep
// the upper three counter words fixed, so calls are split there.
func TestSM4LowWordWrap(t *testing.T) {
	key := randomBytes(t, 16)
	ivs := []string{
		"0123456789abcdef00000000fffffffd",
		"0123456789abcdef12345678ffffffff",
		"0123456789abcdefffffffffffffffe0",
	}
	forEachKernel(t, SM4CTR, func(t *testing.T, kernel string) {
		for _, ivHex := range ivs {
			iv := unhex(t, ivHex)
			s := newWithKernel(t, SM4CTR, kernel, key, iv)
			for _, n := range []int{1, 17, 64, 100, 513, 4096, 70000} {
				for _, off := range []uint64{0, 5, 16, 48, 1000} {
					src := randomBytes(t, n)
					got := make([]byte, n)
					s.XORKeyStreamAt(got, src, off)
					if want := referenceXOR(t, SM4CTR, key, iv, off, src); !bytes.Equal(got, want) {
						t.Fatalf("IV %s offset %d length %d: mismatch at byte %d", ivHex, off, n, firstDiff(got, want))
					}
				}
			}
		}
	})
}

// TestSM4ShortUnaligned covers the one-call path for short SM4 runs that
// start inside a block (xorShortUnaligned): every skip, lengths around the
// path's limit, in place and out of place, and counters about to carry out
// of the kernels' 32-bit word (where the path must give way) and to wrap
// at 2^128, against gmsm through crypto/cipher.
func TestSM4ShortUnaligned(t *testing.T) {
	key := randomBytes(t, 16)
	ivs := [][]byte{
		randomBytes(t, 16),
		unhex(t, "0123456789abcdef01234567fffffffd"), // 3 blocks to the low word's carry
		unhex(t, "fffffffffffffffffffffffffffffffe"), // 2 blocks to 2^128
	}
	lengths := []int{1, 15, 16, 17, 100, 1000, shortUnaligned - 16, shortUnaligned - 1, shortUnaligned, shortUnaligned + 1, 3000}
	forEachKernel(t, SM4CTR, func(t *testing.T, kernel string) {
		for _, iv := range ivs {
			s := newWithKernel(t, SM4CTR, kernel, key, iv)
			for skip := uint64(1); skip < 16; skip++ {
				for _, n := range lengths {
					for _, block := range []uint64{0, 1, 5} {
						off := block*16 + skip
						src := randomBytes(t, n)
						want := referenceXOR(t, SM4CTR, key, iv, off, src)
						dst := make([]byte, n)
						s.XORKeyStreamAt(dst, src, off)
						if !bytes.Equal(dst, want) {
							t.Fatalf("iv %x offset %d length %d: out of place differs", iv, off, n)
						}
						s.XORKeyStreamAt(src, src, off)
						if !bytes.Equal(src, want) {
							t.Fatalf("iv %x offset %d length %d: in place differs", iv, off, n)
						}
					}
				}
			}
		}
	})
	// The stack copy stays on the stack.
	s, err := New(SM4CTR, key, ivs[0])
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 300)
	if n := testing.AllocsPerRun(100, func() { s.XORKeyStreamAt(buf, buf, 7) }); n != 0 {
		t.Errorf("a short unaligned call allocates %v times", n)
	}
}

// TestSM4CarriesInsideAWord covers counters whose low word carries from
// one byte into the next inside a kilobyte batch: sm4-gfni512 adds the
// block numbers to the low word before slicing it into bytes, and a carry
// through one, two or three bytes must land where gmsm puts it. Lengths
// take one and several whole batches plus a word-sliced tail, at block
// offsets, inside a block, and in place.
func TestSM4CarriesInsideAWord(t *testing.T) {
	key := randomBytes(t, 16)
	ivs := []string{
		"0123456789abcdef00000000000000e0", // byte 0 into byte 1
		"0123456789abcdef000000000000ffd1", // through byte 1 into byte 2
		"0123456789abcdef0000000000ffffc3", // through byte 2 into byte 3
		"0123456789abcdef000000007fffffe0", // through three bytes into the top bit
		"fedcba9876543210ffffffff00fffffd", // high bits set around it
	}
	forEachKernel(t, SM4CTR, func(t *testing.T, kernel string) {
		for _, ivHex := range ivs {
			iv := unhex(t, ivHex)
			s := newWithKernel(t, SM4CTR, kernel, key, iv)
			for _, n := range []int{1024, 1024 + 16*3 + 5, 4096, 5 << 10} {
				for _, off := range []uint64{0, 7, 16 * 40, 16*200 + 9} {
					src := randomBytes(t, n)
					want := referenceXOR(t, SM4CTR, key, iv, off, src)
					got := make([]byte, n)
					s.XORKeyStreamAt(got, src, off)
					if !bytes.Equal(got, want) {
						t.Fatalf("IV %s offset %d length %d: mismatch at byte %d", ivHex, off, n, firstDiff(got, want))
					}
					s.XORKeyStreamAt(src, src, off)
					if !bytes.Equal(src, want) {
						t.Fatalf("IV %s offset %d length %d: in place differs at byte %d", ivHex, off, n, firstDiff(src, want))
					}
				}
			}
		}
	})
}
