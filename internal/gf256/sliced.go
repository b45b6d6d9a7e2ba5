package gf256

import "math/bits"

// SM4Sliced holds the constants of SM4's round for byte-sliced words: each
// 32-bit word kept as four registers of bytes (byte j is bits 8j to 8j+7 of
// the word), every word carried as Y = Pre.M·x byte by byte (the S-box's
// input map without its constant), so that the round needs no input affine
// step at all:
//
//	x4 = x0 ⊕ L(S(x1 ⊕ x2 ⊕ x3 ⊕ rk))
//
// becomes, with z = y1 ⊕ y2 ⊕ y3 ⊕ (Pre.M·rk ⊕ Pre.C) byte by byte,
//
//	y4 byte j = y0 byte j ⊕ ⊕_d (Q[d]·invAES(z byte (j-d) mod 4) ⊕ C[d][j])
//
// L mixes bytes only by whole-byte rotations besides shifts inside
// neighbouring bytes, so its effect of input byte i on output byte j is an
// 8×8 matrix depending on (j-i) mod 4 alone; Q[d] is that matrix between
// SM4's output map and Pre.M. Every term is one GF2P8AFFINEINVQB.
type SM4Sliced struct {
	Pre  Affine    // x ↦ Pre.M·x ⊕ Pre.C: round-key bytes into the Y domain (with the constant)
	Back Matrix    // Pre.M's inverse: Y back to words
	Q    [4]Matrix // the inversion's output matrix for a byte (j-d) mod 4 feeding output byte j
	C    [4]byte   // the constant for output byte j (carried by the d = 0 term)
}

// sm4L is SM4's linear layer.
func sm4L(b uint32) uint32 {
	return b ^ bits.RotateLeft32(b, 2) ^ bits.RotateLeft32(b, 10) ^ bits.RotateLeft32(b, 18) ^ bits.RotateLeft32(b, 24)
}

// SM4SlicedConstants derives SM4Sliced from SM4InAESField.
func SM4SlicedConstants() SM4Sliced {
	pre, post := SM4InAESField()
	back, ok := pre.M.Inverse()
	if !ok {
		panic("gf256: SM4 input map not invertible")
	}
	s := SM4Sliced{Pre: pre, Back: back}
	// N[d]: how byte 0 of L's input reaches byte d of its output.
	for d := range 4 {
		var cols [8]byte
		for bit := range 8 {
			cols[bit] = byte(sm4L(uint32(1)<<bit) >> (8 * d))
		}
		s.Q[d] = pre.M.Mul(fromColumns(cols)).Mul(post.M)
	}
	// The S-box's output constant, through L and Pre.M.
	c := sm4L(uint32(post.C) * 0x01010101)
	for j := range 4 {
		s.C[j] = pre.M.Apply(byte(c >> (8 * j)))
	}
	return s
}

// Round computes one SM4 round on byte-sliced words in the Y domain with
// these constants, as the kernel does: y0..y3 are the four words (Y
// domain), rk the round key (a word as SM4 defines it). It exists to check
// the constants against the reference round.
func (s SM4Sliced) Round(y0, y1, y2, y3 [4]byte, rk uint32) [4]byte {
	var z, out [4]byte
	for j := range 4 {
		z[j] = y1[j] ^ y2[j] ^ y3[j] ^ s.Pre.Apply(byte(rk>>(8*j)))
	}
	for j := range 4 {
		out[j] = y0[j] ^ s.C[j]
		for d := range 4 {
			out[j] ^= s.Q[d].Apply(Inv(z[(j-d+4)%4], AESPoly))
		}
	}
	return out
}

// ToSliced returns x's bytes in the Y domain; FromSliced undoes it.
func (s SM4Sliced) ToSliced(x uint32) [4]byte {
	var y [4]byte
	for j := range y {
		y[j] = s.Pre.M.Apply(byte(x >> (8 * j)))
	}
	return y
}

// FromSliced returns the word whose Y-domain bytes are y.
func (s SM4Sliced) FromSliced(y [4]byte) uint32 {
	var x uint32
	for j, b := range y {
		x |= uint32(s.Back.Apply(b)) << (8 * j)
	}
	return x
}
