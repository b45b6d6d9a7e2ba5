package ctr

import "encoding/binary"

// Portable AES (FIPS-197), used for the key schedule of every AES kernel and
// as the "aes-generic" kernel when the CPU has no AES instructions or the
// purego tag is set.
//
// The generic kernel is table driven, like Go's own portable AES, so its
// timing depends on the data through the cache; the assembly kernels do not.
// Dispatch uses it only where no constant-time instruction exists.

// aesSbox and the four round tables are computed at init from the field
// arithmetic rather than written out, so they cannot hold a typo.
var (
	aesSbox [256]byte
	aesTe   [4][256]uint32
)

func init() {
	// Walk the multiplicative group of GF(2^8) with generator 3: p runs over
	// 3^i and q over 3^-i, so q is p's inverse at every step.
	p, q := byte(1), byte(1)
	for {
		p = p ^ (p << 1) ^ gfCarry(p)
		q ^= q << 1
		q ^= q << 2
		q ^= q << 4
		if q&0x80 != 0 {
			q ^= 0x09
		}
		aesSbox[p] = q ^ rotl8(q, 1) ^ rotl8(q, 2) ^ rotl8(q, 3) ^ rotl8(q, 4) ^ 0x63
		if p == 1 {
			break
		}
	}
	aesSbox[0] = 0x63

	for x := range 256 {
		s := uint32(aesSbox[x])
		s2 := uint32(gfDouble(byte(s)))
		s3 := s2 ^ s
		w := s2<<24 | s<<16 | s<<8 | s3
		for t := range 4 {
			aesTe[t][x] = w>>(8*t) | w<<(32-8*t)
		}
	}
}

// gfCarry returns the reduction term 0x1b when doubling x overflows.
func gfCarry(x byte) byte {
	if x&0x80 != 0 {
		return 0x1b
	}
	return 0
}

func gfDouble(x byte) byte { return x<<1 ^ gfCarry(x) }

func rotl8(x byte, n uint) byte { return x<<n | x>>(8-n) }

// aesRounds returns the number of rounds for a key of keyLen bytes.
func aesRounds(keyLen int) int { return keyLen/4 + 6 }

// expandAESKey writes the encryption round keys for key into rk as
// 16-byte round keys, each the big-endian bytes of four schedule words:
// the layout AESENC and AESE take from memory.
func expandAESKey(key []byte, rk *[aesMaxRoundKeyBytes]byte) {
	nk := len(key) / 4
	total := 4 * (aesRounds(len(key)) + 1)
	var w [4 * (aesMaxRounds + 1)]uint32
	for i := range nk {
		w[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	rcon := uint32(1)
	for i := nk; i < total; i++ {
		t := w[i-1]
		switch {
		case i%nk == 0:
			t = subWord(t<<8|t>>24) ^ rcon<<24
			rcon = uint32(gfDouble(byte(rcon)))
		case nk > 6 && i%nk == 4:
			t = subWord(t)
		}
		w[i] = w[i-nk] ^ t
	}
	for i := range total {
		binary.BigEndian.PutUint32(rk[4*i:], w[i])
	}
	clear(w[:])
}

func subWord(w uint32) uint32 {
	return uint32(aesSbox[w>>24])<<24 | uint32(aesSbox[w>>16&0xff])<<16 |
		uint32(aesSbox[w>>8&0xff])<<8 | uint32(aesSbox[w&0xff])
}

// aesEncryptCounter encrypts the 128-bit counter (hi, lo), as its 16
// big-endian bytes, and returns the block as four big-endian words.
func aesEncryptCounter(rk *[aesMaxRoundKeyBytes]byte, rounds int, hi, lo uint64) (uint32, uint32, uint32, uint32) {
	k := rk[:]
	s0 := uint32(hi>>32) ^ binary.BigEndian.Uint32(k[0:])
	s1 := uint32(hi) ^ binary.BigEndian.Uint32(k[4:])
	s2 := uint32(lo>>32) ^ binary.BigEndian.Uint32(k[8:])
	s3 := uint32(lo) ^ binary.BigEndian.Uint32(k[12:])
	te0, te1, te2, te3 := &aesTe[0], &aesTe[1], &aesTe[2], &aesTe[3]
	for r := 1; r < rounds; r++ {
		k = k[16:]
		t0 := te0[s0>>24] ^ te1[s1>>16&0xff] ^ te2[s2>>8&0xff] ^ te3[s3&0xff] ^ binary.BigEndian.Uint32(k[0:])
		t1 := te0[s1>>24] ^ te1[s2>>16&0xff] ^ te2[s3>>8&0xff] ^ te3[s0&0xff] ^ binary.BigEndian.Uint32(k[4:])
		t2 := te0[s2>>24] ^ te1[s3>>16&0xff] ^ te2[s0>>8&0xff] ^ te3[s1&0xff] ^ binary.BigEndian.Uint32(k[8:])
		t3 := te0[s3>>24] ^ te1[s0>>16&0xff] ^ te2[s1>>8&0xff] ^ te3[s2&0xff] ^ binary.BigEndian.Uint32(k[12:])
		s0, s1, s2, s3 = t0, t1, t2, t3
	}
	k = k[16:]
	o0 := lastRoundWord(s0, s1, s2, s3) ^ binary.BigEndian.Uint32(k[0:])
	o1 := lastRoundWord(s1, s2, s3, s0) ^ binary.BigEndian.Uint32(k[4:])
	o2 := lastRoundWord(s2, s3, s0, s1) ^ binary.BigEndian.Uint32(k[8:])
	o3 := lastRoundWord(s3, s0, s1, s2) ^ binary.BigEndian.Uint32(k[12:])
	return o0, o1, o2, o3
}

// lastRoundWord is SubBytes and ShiftRows for one output column (the final
// round has no MixColumns).
func lastRoundWord(a, b, c, d uint32) uint32 {
	return uint32(aesSbox[a>>24])<<24 | uint32(aesSbox[b>>16&0xff])<<16 |
		uint32(aesSbox[c>>8&0xff])<<8 | uint32(aesSbox[d&0xff])
}

// xorAESGeneric XORs src with the keystream starting at counter (hi, lo)
// into dst. The caller guarantees that lo does not wrap within the call.
func xorAESGeneric(rk *[aesMaxRoundKeyBytes]byte, rounds int, dst, src []byte, hi, lo uint64) {
	for len(src) >= 16 {
		k0, k1, k2, k3 := aesEncryptCounter(rk, rounds, hi, lo)
		binary.BigEndian.PutUint32(dst[0:], binary.BigEndian.Uint32(src[0:])^k0)
		binary.BigEndian.PutUint32(dst[4:], binary.BigEndian.Uint32(src[4:])^k1)
		binary.BigEndian.PutUint32(dst[8:], binary.BigEndian.Uint32(src[8:])^k2)
		binary.BigEndian.PutUint32(dst[12:], binary.BigEndian.Uint32(src[12:])^k3)
		dst, src = dst[16:], src[16:]
		lo++
	}
	if len(src) > 0 {
		var ks [16]byte
		k0, k1, k2, k3 := aesEncryptCounter(rk, rounds, hi, lo)
		binary.BigEndian.PutUint32(ks[0:], k0)
		binary.BigEndian.PutUint32(ks[4:], k1)
		binary.BigEndian.PutUint32(ks[8:], k2)
		binary.BigEndian.PutUint32(ks[12:], k3)
		for i := range src {
			dst[i] = src[i] ^ ks[i]
		}
		clear(ks[:])
	}
}
