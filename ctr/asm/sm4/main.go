// Command sm4 generates the amd64 SM4-CTR kernels of package ctr:
//
//	ctrSM4GFNI512  GFNI and AVX-512 on zmm: 64 blocks in flight over whole
//	               kilobytes, byte-sliced (gfni512.go), two sets of 16 over
//	               the rest
//	ctrSM4GFNI256  GFNI and AVX2 on ymm: two sets of 8 blocks in flight
//	ctrSM4AESNI    AES-NI and AVX2 on ymm: two sets of 8 blocks in flight
//
// SM4 works on 32-bit words, so the blocks are held transposed: register j
// of a set holds word j of every block in the set, and one instruction
// does a step of the round function for all of them. The counter blocks
// are made directly in that form: the first three words of the counter are
// the same for every block of a call (the Go side splits calls where the
// low word would wrap), and the fourth is the low word plus a lane offset.
// The offsets are ordered so that the 4×4 transposition at the end, done
// within each 128-bit lane, leaves whole consecutive blocks in each
// register, ready to be XORed with the data.
//
// The S-box is the inversion in GF(2^8) between two affine maps (see
// internal/gf256): with GFNI, GF2P8AFFINEQB then GF2P8AFFINEINVQB; without
// it, nibble-table lookups around AESENCLAST's SubBytes. The linear layer is
// L(B) = B ^ B<<<2 ^ B<<<10 ^ B<<<18 ^ B<<<24.
//
// Run by go generate in package ctr; the output is committed.
package main

import (
	"fmt"
	"sync"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/atrest/atrest/ctr/asm/internal/gen"
	"github.com/atrest/atrest/internal/gf256"
)

const signature = "func(rk *[240]byte, hi uint64, lo uint64, dst *byte, src *byte, n int)"

// signatureSkip is ctrSM4GFNI512's: skip bytes of keystream are dropped
// before dst, so that a call starting inside a block is one call.
const signatureSkip = "func(rk *[240]byte, hi uint64, lo uint64, dst *byte, src *byte, n int, skip int)"

// skipReg holds ctrSM4GFNI512's skip until the first batch has used it.
var skipReg = R11

// wideBatch512 is the bytes of ctrSM4GFNI512's byte-sliced batch, 64
// blocks: a call with a skip must be at least this long, so that the first
// batch is a wide one (package ctr's sm4WideBatch is the same number).
const wideBatch512 = 64 * 16

// General registers, the same in every kernel: RBX holds the high half of
// the counter and R8 the low half. R9 and R10 are scratch; ctrSM4GFNI512
// keeps skip in R11 (skipReg) and uses R12 and R13 besides while it writes
// its first register.
var (
	rk  = RAX
	dst = RDI
	src = RSI
	n   = RCX
)

func main() {
	checkConstants()
	ConstraintExpr("!purego")
	gfni512()
	gfni256()
	aesni256()
	Generate()
}

func loadArgs() {
	Load(Param("rk"), rk)
	Load(Param("hi"), RBX)
	Load(Param("lo"), R8)
	Load(Param("dst"), dst)
	Load(Param("src"), src)
	Load(Param("n"), n)
}

// The S-box decompositions, from internal/gf256.
var (
	gfniPre, gfniPost = gf256.SM4InAESField()
	aesPre, aesPost   = gf256.SM4ViaAESSbox()
)

// checkConstants refuses to generate kernels whose constants do not give
// the SM4 S-box for every byte.
func checkConstants() {
	sbox, aes := gf256.SM4Sbox(), gf256.AESSbox()
	m1, m2 := gf256.GFNIMatrix(gfniPre.M), gf256.GFNIMatrix(gfniPost.M)
	plo, phi := gf256.NibbleTables(aesPre)
	qlo, qhi := gf256.NibbleTables(aesPost)
	for x := range 256 {
		b := byte(x)
		y := gf256.GFNIAffine(b, m1, gfniPre.C)
		if gf256.GFNIAffine(gf256.Inv(y, gf256.AESPoly), m2, gfniPost.C) != sbox[x] {
			panic(fmt.Sprintf("GFNI constants wrong at %#x", x))
		}
		z := aes[plo[b&15]^phi[b>>4]]
		if qlo[z&15]^qhi[z>>4] != sbox[x] {
			panic(fmt.Sprintf("AES-NI constants wrong at %#x", x))
		}
	}
	checkSliced()
}

// bytes16 defines a read-only constant of the 16-byte pattern p repeated
// copies times.
func bytes16(name string, p [16]byte, copies int) Mem {
	m := GLOBL(name, NOPTR|RODATA)
	for c := range copies {
		for i, b := range p {
			DATA(16*c+i, U8(b))
		}
	}
	return m
}

// dwordShuffle returns the PSHUFB pattern that maps each 32-bit lane's
// bytes through perm (result byte i = input byte perm[i]).
func dwordShuffle(perm [4]byte) [16]byte {
	var p [16]byte
	for i := range p {
		p[i] = byte(i&^3) + perm[i&3]
	}
	return p
}

// Constants, each defined on first use.
var (
	byteSwap = sync.OnceValue(func() Mem { return bytes16("sm4ByteSwap", dwordShuffle([4]byte{3, 2, 1, 0}), 2) })
	rotl8    = sync.OnceValue(func() Mem { return bytes16("sm4Rotl8", dwordShuffle([4]byte{3, 0, 1, 2}), 2) })
	rotl16   = sync.OnceValue(func() Mem { return bytes16("sm4Rotl16", dwordShuffle([4]byte{2, 3, 0, 1}), 2) })
	rotl24   = sync.OnceValue(func() Mem { return bytes16("sm4Rotl24", dwordShuffle([4]byte{1, 2, 3, 0}), 2) })
	gfniM1   = sync.OnceValue(func() Mem { return qwordConst("sm4GFNIPre", gf256.GFNIMatrix(gfniPre.M)) })
	gfniM2   = sync.OnceValue(func() Mem { return qwordConst("sm4GFNIPost", gf256.GFNIMatrix(gfniPost.M)) })
	nibbles  = sync.OnceValue(func() Mem {
		return bytes16("sm4LowNibbles", [16]byte{15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15}, 2)
	})
	zero128 = sync.OnceValue(func() Mem { return bytes16("sm4Zero", [16]byte{}, 1) })
	// invShiftRows undoes AESENCLAST's ShiftRows, so that its SubBytes
	// acts on each byte where it is: byte r+4c takes byte r+4((c-r) mod 4).
	invShiftRows = sync.OnceValue(func() Mem {
		var p [16]byte
		for r := range 4 {
			for c := range 4 {
				p[r+4*c] = byte(r + 4*((c-r+4)%4))
			}
		}
		return bytes16("sm4InvShiftRows", p, 2)
	})
	lanes8         = sync.OnceValue(func() Mem { return dwordConst("sm4Lanes8", laneOrder(8)) })
	step8          = sync.OnceValue(func() Mem { return dwordConst("sm4Step8", []uint32{8, 8, 8, 8, 8, 8, 8, 8}) })
	preLo, preHi   = nibbleTable("sm4PreLo", aesPre, false), nibbleTable("sm4PreHi", aesPre, true)
	postLo, postHi = nibbleTable("sm4PostLo", aesPost, false), nibbleTable("sm4PostHi", aesPost, true)
)

func qwordConst(name string, q uint64) Mem {
	m := GLOBL(name, NOPTR|RODATA)
	for i := range 4 { // 32 bytes: a ymm memory operand
		DATA(8*i, U64(q))
	}
	return m
}

func nibbleTable(name string, a gf256.Affine, high bool) func() Mem {
	return sync.OnceValue(func() Mem {
		lo, hi := gf256.NibbleTables(a)
		if high {
			return bytes16(name, hi, 2)
		}
		return bytes16(name, lo, 2)
	})
}

// dwordConst defines a constant of 32-bit little-endian words.
func dwordConst(name string, words []uint32) Mem {
	m := GLOBL(name, NOPTR|RODATA)
	for i, w := range words {
		DATA(4*i, U32(w))
	}
	return m
}

// laneOrder returns the counter offsets for a register of lanes dwords
// (4 or 2 blocks a register after transposition): lane 4L+k holds block
// k·(lanes/4)+L, so that after the transposition within 128-bit lanes,
// output register k holds blocks k·(lanes/4) onwards, in order.
func laneOrder(lanes int) []uint32 {
	groups := lanes / 4
	out := make([]uint32, lanes)
	for p := range out {
		l, k := p/4, p%4
		out[p] = uint32(k*groups + l)
	}
	return out
}

// A set is one group of blocks in flight: its four word registers and
// three temporaries.
type set struct {
	x   [4]VecPhysical
	tmp [3]VecPhysical
}

// transpose turns the words of a set after the last round, X32-X35 in
// x[0]-x[3], into ciphertext blocks, and returns the four registers that
// hold them in order. The blocks are (X35, X34, X33, X32).
func (s set) transpose() [4]VecPhysical {
	y0, y1, y2, y3 := s.x[3], s.x[2], s.x[1], s.x[0]
	t0, t1, t2 := s.tmp[0], s.tmp[1], s.tmp[2]
	VPUNPCKLDQ(y1, y0, t0) // y0[0] y1[0] y0[1] y1[1] in each 128-bit lane
	VPUNPCKHDQ(y1, y0, t1) // y0[2] y1[2] y0[3] y1[3]
	VPUNPCKLDQ(y3, y2, t2) // y2[0] y3[0] y2[1] y3[1]
	VPUNPCKHDQ(y3, y2, y0) // y2[2] y3[2] y2[3] y3[3]
	VPUNPCKLQDQ(t2, t0, s.x[0])
	VPUNPCKHQDQ(t2, t0, s.x[1])
	VPUNPCKLQDQ(y0, t1, s.x[2])
	VPUNPCKHQDQ(y0, t1, t0)
	return [4]VecPhysical{s.x[0], s.x[1], s.x[2], t0}
}

// rounds emits the 32 rounds for the sets, interleaved round by round.
// The round keys are 32 little-endian words at rk. round emits one round
// for one set; perRound, if not nil, runs once before each round.
func rounds(sets []set, perRound func(i int), round func(s set, i int)) {
	for i := range 32 {
		if perRound != nil {
			perRound(i)
		}
		for _, s := range sets {
			round(s, i)
		}
	}
}

// roundWords returns the register the round updates and the three it
// reads: round i computes X[i+4] = X[i] ^ T(X[i+1] ^ X[i+2] ^ X[i+3] ^ rk[i])
// in place of X[i].
func roundWords(s set, i int) (a0, x1, x2, x3 VecPhysical) {
	return s.x[i%4], s.x[(i+1)%4], s.x[(i+2)%4], s.x[(i+3)%4]
}

// A kernel is what the SM4 kernels differ in; emitLoop lays out the loop
// they share. Each register holds width bytes, so a set is four registers
// of width/4 blocks.
type kernel struct {
	suffix   string // makes the labels unique
	width    int    // 64 (zmm) or 32 (ymm)
	a, b     set
	bswap    Op  // the per-word byte swap mask, in a register or memory
	ks       Mem // room for one register of keystream
	counters func(s set)
	perRound func(i int) // nil, or run once before each round
	round    func(s set, i int)
}

// emitLoop emits the main loop and the tail. One body serves whole batches
// and a last batch of more than one set, which differ only in how the
// second set is written; a last batch of one set or less runs one set. The
// rounds are the bulk of the code, so each exists once per set count.
func (k kernel) emitLoop() {
	setBytes := 4 * k.width
	blocks := setBytes / 16
	l := func(name string) string { return name + k.suffix }
	// swapped transposes a set into blocks with the words' bytes in memory
	// order.
	swapped := func(s set) []VecPhysical {
		outs := s.transpose()
		for _, o := range outs {
			VPSHUFB(k.bswap, o, o)
		}
		return outs[:]
	}
	fused := func(base int) func(j int, o VecPhysical) {
		return func(j int, o VecPhysical) {
			gen.XORMem(k.width, Mem{Base: src}.Offset(base+k.width*j), o, nil)
			gen.StoreVec(k.width, o, Mem{Base: dst}.Offset(base+k.width*j))
		}
	}
	out := func(s set, base int) {
		for j, o := range swapped(s) {
			fused(base)(j, o)
		}
	}
	// finish ends the last set: full registers straight to dst, the
	// partial one through the stack.
	finish := func(s set, prefix string) {
		gen.FinishTail(swapped(s), k.width, 0, n, src, dst, fused(0),
			func(o VecPhysical) { gen.StoreVec(k.width, o, k.ks) }, l("xor"), l("done"), l(prefix))
	}

	Label(l("loop"))
	CMPQ(n, U32(setBytes))
	JBE(LabelRef(l("one")))
	k.counters(k.a)
	k.counters(k.b)
	rounds([]set{k.a, k.b}, k.perRound, k.round)
	out(k.a, 0)
	CMPQ(n, U32(2*setBytes))
	JB(LabelRef(l("lastb")))
	out(k.b, setBytes)
	gen.Advance(src, dst, n, 2*setBytes)
	JMP(LabelRef(l("loop")))
	Label(l("lastb"))
	Commentf("%d to %d blocks: the second set is the last.", blocks+1, 2*blocks-1)
	gen.Advance(src, dst, n, setBytes)
	finish(k.b, "lastb")

	Label(l("one"))
	TESTQ(n, n)
	JZ(LabelRef(l("done")))
	Commentf("Up to %d blocks: one set.", blocks)
	k.counters(k.a)
	rounds([]set{k.a}, k.perRound, k.round)
	finish(k.a, "one")
	Label(l("xor"))
	gen.XORFromStack(k.ks, k.width, n, src, dst, R9, R10, k.a.tmp[0], k.a.tmp[1], k.width, k.suffix)

	Label(l("done"))
	VZEROUPPER()
	RET()
}

// ymmKernel holds what the two ymm kernels share: eight blocks a set, two
// sets, sixteen registers (VEX encoding only), and a tail through the stack.
type ymmKernel struct {
	name, doc1, doc2 string
	// sbox replaces each byte of t by its S-box value, using u and v.
	sbox func(t, u, v VecPhysical)
}

func (k ymmKernel) emit() {
	TEXT(k.name, NOSPLIT, signature)
	Pragma("noescape")
	Doc(k.name+" XORs n bytes of src with the SM4-CTR keystream that starts",
		"at counter (hi, lo) into dst: 8 blocks a set, two sets in flight.",
		k.doc1, k.doc2)
	ks := AllocLocal(32)
	words := AllocLocal(96) // W0, W1, W2 broadcast to 32 bytes each
	loadArgs()

	a := set{x: [4]VecPhysical{Y0, Y1, Y2, Y3}, tmp: [3]VecPhysical{Y8, Y9, Y10}}
	b := set{x: [4]VecPhysical{Y4, Y5, Y6, Y7}, tmp: [3]VecPhysical{Y11, Y12, Y13}}
	rkey, ctr := Y14, Y15

	Comment("The counter's words: W0-W2 the same in every block, kept on the stack;",
		"W3 counting, in Y15.")
	MOVQ(RBX, R9)
	SHRQ(U8(32), R9)
	for i, w := range []GPPhysical{R9, RBX, R10} {
		if i == 2 {
			MOVQ(R8, R10)
			SHRQ(U8(32), R10)
		}
		VMOVD(w.As32(), X8)
		VPBROADCASTD(X8, Y8)
		VMOVDQU(Y8, words.Offset(32*i))
	}
	VMOVD(R8.As32(), X15)
	VPBROADCASTD(X15, ctr)
	lanes, step := lanes8(), step8()

	counters := func(s set) {
		for i := range 3 {
			VMOVDQU(words.Offset(32*i), s.x[i])
		}
		VPADDD(lanes, ctr, s.x[3])
		VPADDD(step, ctr, ctr)
	}
	perRound := func(i int) { VPBROADCASTD(Mem{Base: rk, Disp: 4 * i}, rkey) }
	// As in the zmm kernel, what does not depend on the newest word comes
	// first, and L is summed as two halves that run side by side:
	// B ^ B<<<24 ^ B<<<2 (B<<<2 by shifts), and B<<<10 ^ B<<<18 as byte
	// rotations of B<<<2.
	round := func(s set, i int) {
		a0, x1, x2, x3 := roundWords(s, i)
		t, u, v := s.tmp[0], s.tmp[1], s.tmp[2]
		VPXOR(x2, x1, t)
		VPXOR(rkey, t, t)
		VPXOR(x3, t, t)
		k.sbox(t, u, v) // t = B
		VPSHUFB(rotl24(), t, u)
		VPXOR(u, t, u) // u = B ^ B<<<24
		VPSLLD(U8(2), t, v)
		VPSRLD(U8(30), t, t)
		VPOR(v, t, t)  // t = B<<<2
		VPXOR(t, u, u) // u = B ^ B<<<24 ^ B<<<2
		VPXOR(u, a0, a0)
		VPSHUFB(rotl8(), t, u)
		VPSHUFB(rotl16(), t, v)
		VPXOR(v, u, u) // u = B<<<10 ^ B<<<18
		VPXOR(u, a0, a0)
	}
	kernel{suffix: k.name, width: 32, a: a, b: b, bswap: byteSwap(), ks: ks,
		counters: counters, perRound: perRound, round: round}.emitLoop()
}

func gfni256() {
	ymmKernel{
		name: "ctrSM4GFNI256",
		doc1: "It needs AVX2 and GFNI (VEX encoding only); the low 32 bits of lo",
		doc2: "must not wrap within the call.",
		sbox: func(t, _, _ VecPhysical) {
			VGF2P8AFFINEQB(U8(gfniPre.C), gfniM1(), t, t)
			VGF2P8AFFINEINVQB(U8(gfniPost.C), gfniM2(), t, t)
		},
	}.emit()
}

func aesni256() {
	// affine applies x -> lo[x&15] ^ hi[x>>4] to every byte of t. PSHUFB
	// takes its table from a register, so the tables are loaded into u.
	affine := func(t, u, v VecPhysical, lo, hi Mem) {
		VPSRLW(U8(4), t, v)
		VPAND(nibbles(), v, v)
		VPAND(nibbles(), t, t)
		VMOVDQU(hi, u)
		VPSHUFB(v, u, v)
		VMOVDQU(lo, u)
		VPSHUFB(t, u, t)
		VPXOR(v, t, t)
	}
	ymmKernel{
		name: "ctrSM4AESNI",
		doc1: "It needs AVX2 and AES-NI: the S-box is AESENCLAST's SubBytes between",
		doc2: "two affine maps; the low 32 bits of lo must not wrap within the call.",
		sbox: func(t, u, v VecPhysical) {
			affine(t, u, v, preLo(), preHi())
			VPSHUFB(invShiftRows(), t, t)
			// AESENCLAST works on 128 bits without VAES: one half at a time.
			// The VEX form on X clears the upper half of Y, which is put
			// back from u.
			xt, xu := t.AsX(), u.AsX()
			VEXTRACTI128(U8(1), t, xu)
			VAESENCLAST(zero128(), xt, xt)
			VAESENCLAST(zero128(), xu, xu)
			VINSERTI128(U8(1), xu, t, t)
			affine(t, u, v, postLo(), postHi())
		},
	}.emit()
}
