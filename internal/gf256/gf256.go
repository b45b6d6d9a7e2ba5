// Package gf256 is the arithmetic behind the S-boxes of AES and SM4: the
// field GF(2^8) under a chosen polynomial, 8×8 bit matrices over GF(2), and
// the constants the SIMD kernels need to compute an S-box without tables.
//
// Both S-boxes are an inversion in GF(2^8) wrapped in affine maps. AES
// inverts in GF(2^8)/0x11B; SM4 (GB/T 32907-2016) is, as its algebraic
// analyses show, A·inv(A·x ⊕ 0xD3) ⊕ 0xD3 in GF(2^8)/0x1F5 with A the
// circulant matrix of 0xA7. Since all fields of 2^8 elements are
// isomorphic, SM4's inversion can be done in AES's field between two
// linear maps, which is what GFNI's GF2P8AFFINEINVQB and AES-NI's
// AESENCLAST provide. The ctr package computes its portable SM4 S-box here
// and the kernel generators in ctr/asm their constants, so the tables and
// the assembly cannot disagree.
package gf256

import "math/bits"

// Field polynomials (x^8 + ... + 1, bit i the coefficient of x^i).
const (
	AESPoly uint16 = 0x11B
	SM4Poly uint16 = 0x1F5
)

// Mul multiplies a and b in GF(2^8)/poly.
func Mul(a, b byte, poly uint16) byte {
	var p uint16
	x := uint16(a)
	for y := b; y != 0; y >>= 1 {
		if y&1 != 0 {
			p ^= x
		}
		x <<= 1
		if x&0x100 != 0 {
			x ^= poly
		}
	}
	return byte(p)
}

// Inv returns the multiplicative inverse of a in GF(2^8)/poly, and 0 for 0:
// a^254, as a^255 = 1 for every a ≠ 0.
func Inv(a byte, poly uint16) byte {
	r, p := byte(1), a
	for e := 254; e != 0; e >>= 1 {
		if e&1 != 0 {
			r = Mul(r, p, poly)
		}
		p = Mul(p, p, poly)
	}
	return r
}

// A Matrix is an 8×8 matrix over GF(2): bit i of Apply's result is the
// parity of row i AND the input.
type Matrix [8]byte

// Identity is the identity matrix.
var Identity = Matrix{1, 2, 4, 8, 16, 32, 64, 128}

// Apply returns m·x.
func (m Matrix) Apply(x byte) byte {
	var out byte
	for i, row := range m {
		out |= byte(bits.OnesCount8(row&x)&1) << i
	}
	return out
}

// Mul returns the product m·n, the map that applies n first.
func (m Matrix) Mul(n Matrix) Matrix {
	var cols [8]byte // cols[j] = m·(n·e_j)
	for j := range 8 {
		cols[j] = m.Apply(n.Apply(1 << j))
	}
	return fromColumns(cols)
}

// Inverse returns m's inverse and whether m is invertible.
func (m Matrix) Inverse() (Matrix, bool) {
	// Gauss–Jordan on [m | I], rows as bytes.
	a, inv := m, Identity
	for col := range 8 {
		pivot := -1
		for r := col; r < 8; r++ {
			if a[r]>>col&1 != 0 {
				pivot = r
				break
			}
		}
		if pivot < 0 {
			return Matrix{}, false
		}
		a[col], a[pivot] = a[pivot], a[col]
		inv[col], inv[pivot] = inv[pivot], inv[col]
		for r := range 8 {
			if r != col && a[r]>>col&1 != 0 {
				a[r] ^= a[col]
				inv[r] ^= inv[col]
			}
		}
	}
	return inv, true
}

func fromColumns(cols [8]byte) Matrix {
	var m Matrix
	for j, c := range cols {
		for i := range 8 {
			m[i] |= (c >> i & 1) << j
		}
	}
	return m
}

// Circulant returns the matrix whose row i is row rotated left by i bits.
func Circulant(row byte) Matrix {
	var m Matrix
	for i := range m {
		m[i] = bits.RotateLeft8(row, i)
	}
	return m
}

// Isomorphism returns the linear map from GF(2^8)/from onto GF(2^8)/to
// that preserves multiplication: it sends x (the element 2) to the
// smallest root of from's polynomial in the target field.
func Isomorphism(from, to uint16) Matrix {
	for beta := 2; beta < 256; beta++ {
		// Evaluate from(beta) in the target field.
		var v, p byte = 0, 1
		for i := range 9 {
			if from>>i&1 != 0 {
				v ^= p
			}
			p = Mul(p, byte(beta), to)
		}
		if v != 0 {
			continue
		}
		var cols [8]byte
		p = 1
		for i := range 8 {
			cols[i] = p
			p = Mul(p, byte(beta), to)
		}
		return fromColumns(cols)
	}
	panic("gf256: no root: polynomial not irreducible")
}

// AESAffine and AESConst are the affine map of the AES S-box.
var (
	AESAffine = Circulant(0xF1)
	AESConst  = byte(0x63)
)

// SM4Affine and SM4Const are the affine map applied before and after the
// inversion in the SM4 S-box.
var (
	SM4Affine = Circulant(0xA7)
	SM4Const  = byte(0xD3)
)

// AESSbox returns the AES S-box: AESAffine·inv(x) ⊕ 0x63 in GF(2^8)/0x11B.
func AESSbox() [256]byte {
	var s [256]byte
	for x := range s {
		s[x] = AESAffine.Apply(Inv(byte(x), AESPoly)) ^ AESConst
	}
	return s
}

// SM4Sbox returns the SM4 S-box: A·inv(A·x ⊕ 0xD3) ⊕ 0xD3 in
// GF(2^8)/0x1F5.
func SM4Sbox() [256]byte {
	var s [256]byte
	for x := range s {
		s[x] = SM4Affine.Apply(Inv(SM4Affine.Apply(byte(x))^SM4Const, SM4Poly)) ^ SM4Const
	}
	return s
}

// An Affine map is x ↦ M·x ⊕ C.
type Affine struct {
	M Matrix
	C byte
}

// Apply returns M·x ⊕ C.
func (a Affine) Apply(x byte) byte { return a.M.Apply(x) ^ a.C }

// SM4InAESField returns the affine maps Pre and Post with
// SM4 S-box(x) = Post(invAES(Pre(x))), invAES the inversion in AES's field:
// SM4's inversion carried over by the field isomorphism.
func SM4InAESField() (pre, post Affine) {
	phi := Isomorphism(SM4Poly, AESPoly)
	phiInv, ok := phi.Inverse()
	if !ok {
		panic("gf256: isomorphism not invertible")
	}
	pre = Affine{M: phi.Mul(SM4Affine), C: phi.Apply(SM4Const)}
	post = Affine{M: SM4Affine.Mul(phiInv), C: SM4Const}
	return pre, post
}

// SM4ViaAESSbox returns the affine maps Pre and Post with
// SM4 S-box(x) = Post(AESSbox(Pre(x))): the inversion taken from the AES
// S-box (AESENCLAST) by undoing its affine map.
func SM4ViaAESSbox() (pre, post Affine) {
	pre, inner := SM4InAESField()
	aesInv, ok := AESAffine.Inverse()
	if !ok {
		panic("gf256: AES affine map not invertible")
	}
	// invAES(y) = aesInv·(AESSbox(y) ⊕ 0x63)
	m := inner.M.Mul(aesInv)
	return pre, Affine{M: m, C: m.Apply(AESConst) ^ inner.C}
}

// GFNIMatrix encodes m as the 64-bit matrix operand of GF2P8AFFINEQB and
// GF2P8AFFINEINVQB, which take row i from byte 7-i.
func GFNIMatrix(m Matrix) uint64 {
	var q uint64
	for i, row := range m {
		q |= uint64(row) << (8 * (7 - i))
	}
	return q
}

// GFNIAffine computes what GF2P8AFFINEQB computes for one byte, for tests
// and for the generators' checks.
func GFNIAffine(x byte, matrix uint64, c byte) byte {
	var out byte
	for i := range 8 {
		row := byte(matrix >> (8 * (7 - i)))
		out |= byte(bits.OnesCount8(row&x)&1) << i
	}
	return out ^ c
}

// NibbleTables returns the two 16-entry tables with
// a.Apply(x) = lo[x&15] ^ hi[x>>4], for PSHUFB lookups.
func NibbleTables(a Affine) (lo, hi [16]byte) {
	for i := range 16 {
		lo[i] = a.M.Apply(byte(i)) ^ a.C
		hi[i] = a.M.Apply(byte(i << 4))
	}
	return lo, hi
}
