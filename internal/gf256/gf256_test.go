package gf256

import (
	"encoding/hex"
	mrand "math/rand/v2"
	"testing"
)

// The first row of the S-box tables printed in FIPS-197 and in
// GB/T 32907-2016.
func TestSboxesMatchTheStandards(t *testing.T) {
	tests := []struct {
		name  string
		sbox  [256]byte
		first string
	}{
		{"AES", AESSbox(), "637c777bf26b6fc53001672bfed7ab76"},
		{"SM4", SM4Sbox(), "d690e9fecce13db716b614c228fb2c05"},
	}
	for _, tc := range tests {
		if got := hex.EncodeToString(tc.sbox[:16]); got != tc.first {
			t.Errorf("%s S-box starts %s, want %s", tc.name, got, tc.first)
		}
		seen := map[byte]bool{}
		for _, v := range tc.sbox {
			seen[v] = true
		}
		if len(seen) != 256 {
			t.Errorf("%s S-box is not a permutation", tc.name)
		}
	}
}

func TestFieldArithmetic(t *testing.T) {
	for _, poly := range []uint16{AESPoly, SM4Poly} {
		for a := 1; a < 256; a++ {
			if Mul(byte(a), Inv(byte(a), poly), poly) != 1 {
				t.Fatalf("poly %#x: %#x · inv(%#x) != 1", poly, a, a)
			}
		}
	}
	if Mul(0x57, 0x83, AESPoly) != 0xc1 { // FIPS-197 section 4.2
		t.Fatal("0x57 · 0x83 != 0xc1 in AES's field")
	}
}

func TestIsomorphismPreservesMultiplication(t *testing.T) {
	phi := Isomorphism(SM4Poly, AESPoly)
	for a := range 256 {
		for b := range 256 {
			if phi.Apply(Mul(byte(a), byte(b), SM4Poly)) != Mul(phi.Apply(byte(a)), phi.Apply(byte(b)), AESPoly) {
				t.Fatalf("phi(%#x·%#x) != phi(%#x)·phi(%#x)", a, b, a, b)
			}
		}
	}
}

func TestMatrixInverse(t *testing.T) {
	for _, m := range []Matrix{SM4Affine, AESAffine, Isomorphism(SM4Poly, AESPoly)} {
		inv, ok := m.Inverse()
		if !ok || m.Mul(inv) != Identity || inv.Mul(m) != Identity {
			t.Fatalf("inverse of %v wrong", m)
		}
	}
	if _, ok := (Matrix{1, 1, 4, 8, 16, 32, 64, 128}).Inverse(); ok {
		t.Fatal("a singular matrix was inverted")
	}
}

// The decompositions the kernels use must give the S-box for every byte.
func TestKernelDecompositions(t *testing.T) {
	sm4, aes := SM4Sbox(), AESSbox()
	pre, post := SM4InAESField()
	m1, m2 := GFNIMatrix(pre.M), GFNIMatrix(post.M)
	preS, postS := SM4ViaAESSbox()
	plo, phi := NibbleTables(preS)
	qlo, qhi := NibbleTables(postS)
	for x := range 256 {
		b := byte(x)
		if got := post.Apply(Inv(pre.Apply(b), AESPoly)); got != sm4[x] {
			t.Fatalf("field decomposition: S(%#x) = %#x, want %#x", x, got, sm4[x])
		}
		// GF2P8AFFINEQB then GF2P8AFFINEINVQB (which inverts first).
		y := GFNIAffine(b, m1, pre.C)
		if got := GFNIAffine(Inv(y, AESPoly), m2, post.C); got != sm4[x] {
			t.Fatalf("GFNI: S(%#x) = %#x, want %#x", x, got, sm4[x])
		}
		// Nibble lookups around the AES S-box (AESENCLAST).
		y = plo[b&15] ^ phi[b>>4]
		z := aes[y]
		if got := qlo[z&15] ^ qhi[z>>4]; got != sm4[x] {
			t.Fatalf("AES S-box: S(%#x) = %#x, want %#x", x, got, sm4[x])
		}
	}
}

// The byte-sliced round in the Y domain gives the reference round
// x0 ⊕ L(S(x1 ⊕ x2 ⊕ x3 ⊕ rk)) for random words, through the S-box table
// and L written out here (not the package's own).
func TestSM4SlicedRound(t *testing.T) {
	s := SM4SlicedConstants()
	sbox := SM4Sbox()
	rotl := func(x uint32, k int) uint32 { return x<<k | x>>(32-k) }
	sm4L := func(b uint32) uint32 { return b ^ rotl(b, 2) ^ rotl(b, 10) ^ rotl(b, 18) ^ rotl(b, 24) }
	tau := func(x uint32) uint32 {
		return uint32(sbox[x>>24])<<24 | uint32(sbox[x>>16&0xff])<<16 | uint32(sbox[x>>8&0xff])<<8 | uint32(sbox[x&0xff])
	}
	r := mrand.New(mrand.NewPCG(1, 2))
	for range 20000 {
		x0, x1, x2, x3, rk := r.Uint32(), r.Uint32(), r.Uint32(), r.Uint32(), r.Uint32()
		want := x0 ^ sm4L(tau(x1^x2^x3^rk))
		got := s.FromSliced(s.Round(s.ToSliced(x0), s.ToSliced(x1), s.ToSliced(x2), s.ToSliced(x3), rk))
		if got != want {
			t.Fatalf("round(%#x %#x %#x %#x, rk %#x) = %#x, want %#x", x0, x1, x2, x3, rk, got, want)
		}
		if s.FromSliced(s.ToSliced(x0)) != x0 {
			t.Fatalf("Y domain does not round-trip %#x", x0)
		}
	}
}
