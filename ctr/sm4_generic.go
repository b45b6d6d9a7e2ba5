package ctr

import (
	"encoding/binary"
	"math/bits"

	"github.com/atrest/atrest/internal/gf256"
)

// Portable SM4 (GB/T 32907-2016): the key schedule every SM4 kernel uses,
// and the "sm4-generic" kernel. Like the portable AES it is table driven,
// so its timing depends on the data through the cache; dispatch uses it
// only where no SIMD kernel can run.

var (
	sm4Sbox [256]byte
	// sm4T[b] is L(S(b)) for a byte in the low position; a byte in
	// position k contributes sm4T[b] rotated left by 8k, since L commutes
	// with rotation by whole bytes.
	sm4T [256]uint32
)

// sm4FK are the system parameters FK0-FK3 of the key schedule.
var sm4FK = [4]uint32{0xa3b1bac6, 0x56aa3350, 0x677d9197, 0xb27022dc}

func init() {
	sm4Sbox = gf256.SM4Sbox()
	for b, s := range sm4Sbox {
		sm4T[b] = sm4L(uint32(s))
	}
}

// sm4L is the linear layer of the round function.
func sm4L(b uint32) uint32 {
	return b ^ bits.RotateLeft32(b, 2) ^ bits.RotateLeft32(b, 10) ^ bits.RotateLeft32(b, 18) ^ bits.RotateLeft32(b, 24)
}

// sm4Tau applies the S-box to each byte of x.
func sm4Tau(x uint32) uint32 {
	return uint32(sm4Sbox[x>>24])<<24 | uint32(sm4Sbox[x>>16&0xff])<<16 |
		uint32(sm4Sbox[x>>8&0xff])<<8 | uint32(sm4Sbox[x&0xff])
}

// sm4CK returns the fixed parameter CK_i: byte j (from the most
// significant) is (4i+j)·7 mod 256.
func sm4CK(i int) uint32 {
	var ck uint32
	for j := range 4 {
		ck = ck<<8 | uint32(byte((4*i+j)*7))
	}
	return ck
}

// expandSM4Key writes the 32 round keys for key into rk as little-endian
// 32-bit words, the layout the kernels broadcast from.
func expandSM4Key(key []byte, rk *[aesMaxRoundKeyBytes]byte) {
	var k [4]uint32
	for i := range k {
		k[i] = binary.BigEndian.Uint32(key[4*i:]) ^ sm4FK[i]
	}
	for i := range 32 {
		b := sm4Tau(k[1] ^ k[2] ^ k[3] ^ sm4CK(i))
		next := k[0] ^ b ^ bits.RotateLeft32(b, 13) ^ bits.RotateLeft32(b, 23)
		binary.LittleEndian.PutUint32(rk[4*i:], next)
		k[0], k[1], k[2], k[3] = k[1], k[2], k[3], next
	}
	clear(k[:])
}

// sm4RoundKey returns round key i from the expanded key.
func sm4RoundKey(rk *[aesMaxRoundKeyBytes]byte, i int) uint32 {
	return binary.LittleEndian.Uint32(rk[4*i:])
}

// sm4Encrypt encrypts the block of big-endian words x0-x3 and returns the
// ciphertext words in order.
func sm4Encrypt(rk *[aesMaxRoundKeyBytes]byte, x0, x1, x2, x3 uint32) (uint32, uint32, uint32, uint32) {
	for i := 0; i < 32; i += 4 {
		x0 ^= sm4T32(x1 ^ x2 ^ x3 ^ sm4RoundKey(rk, i))
		x1 ^= sm4T32(x2 ^ x3 ^ x0 ^ sm4RoundKey(rk, i+1))
		x2 ^= sm4T32(x3 ^ x0 ^ x1 ^ sm4RoundKey(rk, i+2))
		x3 ^= sm4T32(x0 ^ x1 ^ x2 ^ sm4RoundKey(rk, i+3))
	}
	return x3, x2, x1, x0
}

// sm4T32 is the round function's T = L∘τ through the table.
func sm4T32(x uint32) uint32 {
	return sm4T[x&0xff] ^ bits.RotateLeft32(sm4T[x>>8&0xff], 8) ^
		bits.RotateLeft32(sm4T[x>>16&0xff], 16) ^ bits.RotateLeft32(sm4T[x>>24], 24)
}

// xorSM4Generic XORs src with the SM4-CTR keystream starting at counter
// (hi, lo) into dst. The caller guarantees that lo does not wrap.
func xorSM4Generic(rk *[aesMaxRoundKeyBytes]byte, dst, src []byte, hi, lo uint64) {
	var ks [16]byte
	for len(src) > 0 {
		y0, y1, y2, y3 := sm4Encrypt(rk, uint32(hi>>32), uint32(hi), uint32(lo>>32), uint32(lo))
		binary.BigEndian.PutUint32(ks[0:], y0)
		binary.BigEndian.PutUint32(ks[4:], y1)
		binary.BigEndian.PutUint32(ks[8:], y2)
		binary.BigEndian.PutUint32(ks[12:], y3)
		n := min(16, len(src))
		for i := range n {
			dst[i] = src[i] ^ ks[i]
		}
		dst, src = dst[n:], src[n:]
		lo++
	}
	clear(ks[:])
}
