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

// ctrSM4GFNI512 runs whole kilobytes byte-sliced: 64 blocks in flight, each
// of the four words of a block held as four registers of bytes (register j
// of a word holds its byte j, bits 8j to 8j+7, for all 64 blocks), and every
// word carried through the rounds as gf256.SM4Sliced's Y = Pre.M·x byte by
// byte. A round then needs no shift or rotate at all: L's mixing of the
// four bytes is folded into sixteen GF2P8AFFINEINVQB, one for each pair of
// input and output byte, whose matrices carry L's shifts inside a byte and
// SM4's output map (gf256.SM4Sliced.Q). Per 64 blocks a round is those 16
// GFNI instructions and 16 XORs, against 24 GFNI and rotate instructions
// for the same blocks in the word-sliced form, whose rotates share GFNI's
// two pipes on Zen 4; and its dependency chain is one XOR, the inversion
// and two XORs. Every output byte of a round needs every input byte, so
// rounds overlap only as far as the scheduler reaches: 20 cycles a round
// measured on Zen 4 against the 16 its inversions take.
//
// The rest of a call, under a kilobyte, runs the word-sliced sets of
// emitLoop: fewer blocks, less latency per call.

var sliced = gf256.SM4SlicedConstants()

// Registers of the byte-sliced batch. Word w byte j is Z(4w+j).
var (
	slicedWord = func(w, j int) VecPhysical { return zmm[4*w+j] }
	slicedZ    = []VecPhysical{Z16, Z17, Z18, Z19}                     // a round's S-box inputs, byte j
	slicedQ    = []VecPhysical{Z20, Z21, Z22, Z23}                     // the Q matrices, all round long
	slicedTmp  = []VecPhysical{Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31} // the inversions' outputs
)

var zmm = []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
	Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}

// Constants of the byte-sliced batch, each defined on first use.
var (
	slicedPre  = sync.OnceValue(func() Mem { return qwordConst("sm4SlicedPre", gf256.GFNIMatrix(sliced.Pre.M)) })
	slicedBack = sync.OnceValue(func() Mem { return qwordConst("sm4SlicedBack", gf256.GFNIMatrix(sliced.Back)) })
	slicedQMem = sync.OnceValue(func() Mem {
		m := GLOBL("sm4SlicedQ", NOPTR|RODATA)
		for d, q := range sliced.Q {
			DATA(8*d, U64(gf256.GFNIMatrix(q)))
		}
		return m
	})
	// replicate turns a lane holding 16 bytes into 16 dwords: lane L byte
	// k takes byte 4L + k/4, so each dword of a register holds one byte
	// four times (a round key byte as a 32-bit broadcast operand).
	replicate = sync.OnceValue(func() Mem {
		m := GLOBL("sm4Replicate", NOPTR|RODATA)
		for i := range 64 {
			DATA(i, U8(byte(4*(i/16)+i%16/4)))
		}
		return m
	})
	// gatherBytes collects, within each lane, byte j of the lane's four
	// dwords into dword j.
	gatherBytes = sync.OnceValue(func() Mem {
		m := GLOBL("sm4GatherBytes", NOPTR|RODATA)
		for i := range 64 {
			j, d := i%16/4, i%4
			DATA(i, U8(byte(16*(i/16)+4*d+j)))
		}
		return m
	})
	// slicedOffsets are the block numbers of the counter lanes (dword m of
	// register k), so that after the transposition in and the one out
	// every output register holds four consecutive blocks.
	slicedOffsets = sync.OnceValue(func() Mem {
		m := GLOBL("sm4SlicedOffsets", NOPTR|RODATA)
		order := slicedBlockOrder()
		for k := range 4 {
			for lane := range 4 {
				for d := range 4 {
					DATA(64*k+16*lane+4*d, U32(uint32(order[16*lane+4*k+d])))
				}
			}
		}
		return m
	})
)

// The word-sliced sets' counter constants: lane offsets and the step.
var (
	lanes16 = sync.OnceValue(func() Mem { return dwordConst("sm4Lanes16", laneOrder(16)) })
	step16  = sync.OnceValue(func() Mem { return dwordConst("sm4Step16", []uint32{16}) })
)

// A token is what one byte of a register holds during the output
// transposition: byte plane of block position pos.
type token struct{ plane, pos int }

// unpack simulates VPUNPCKL*/VPUNPCKH* (hi) on elements of size bytes:
// within each 128-bit lane, the elements of a and b from the lane's lower
// (or upper) half, interleaved, a's first.
func unpack(a, b []token, size int, hi bool) []token {
	out := make([]token, 64)
	half := 8 / size
	for lane := range 4 {
		for e := range half {
			src := e
			if hi {
				src += half
			}
			for k := range size {
				out[16*lane+2*e*size+k] = a[16*lane+src*size+k]
				out[16*lane+(2*e+1)*size+k] = b[16*lane+src*size+k]
			}
		}
	}
	return out
}

// transposeOut is the network that turns the 16 byte planes into blocks:
// four levels of unpacks (bytes, words, dwords, qwords). emit, if not nil,
// is called for each instruction with the indices of its operands in the
// list of live values; transposeOut returns, for each final value, the
// tokens it holds. Planes enter in the order of the bytes of a block:
// block byte b is plane 15-b (word 3-b/4, byte 3-b%4, the words being
// big-endian).
func transposeOut(emit func(size int, hi bool, a, b, out int)) ([][]token, []int) {
	vals := make([][]token, 16)
	for b := range 16 {
		vals[b] = make([]token, 64)
		for pos := range 64 {
			vals[b][pos] = token{plane: 15 - b, pos: pos}
		}
	}
	idx := make([]int, 16) // value index of each list entry
	for i := range idx {
		idx[i] = i
	}
	next := 16
	for _, size := range []int{1, 2, 4, 8} {
		nv := make([][]token, 16)
		nidx := make([]int, 16)
		for i := range 8 {
			a, b := 2*i, 2*i+1
			for h, hi := range []bool{false, true} {
				nv[8*h+i] = unpack(vals[a], vals[b], size, hi)
				nidx[8*h+i] = next
				if emit != nil {
					emit(size, hi, idx[a], idx[b], next)
				}
				next++
			}
		}
		vals, idx = nv, nidx
	}
	return vals, idx
}

// slicedBlockOrder returns, for each byte position of a plane, the block
// (0-63 within the batch) it must hold so that final value r of
// transposeOut holds blocks 4r to 4r+3, whole and in order.
func slicedBlockOrder() [64]int {
	var order [64]int
	seen := map[int]bool{}
	vals, _ := transposeOut(nil)
	for r, v := range vals {
		for lane := range 4 {
			pos := v[16*lane].pos
			for b := range 16 {
				if t := v[16*lane+b]; t.plane != 15-b || t.pos != pos {
					panic(fmt.Sprintf("transposition: value %d lane %d byte %d holds %+v", r, lane, b, t))
				}
			}
			order[pos] = 4*r + lane
			seen[pos] = true
		}
	}
	if len(seen) != 64 {
		panic("transposition does not place every block")
	}
	return order
}

// slicedLoop emits the byte-sliced loop over whole kilobytes and falls
// through when less remains. keys is 512 bytes of frame for the round keys
// in the Y domain, each byte as a dword; words 64 bytes for the fixed
// counter words' bytes, likewise; head writes the batch's first register.
func slicedLoop(keys, words Mem, head func(o VecPhysical, normal func())) {
	CMPQ(n, U32(wideBatch512))
	JB(LabelRef("slicedskip512"))
	Comment("Byte-sliced kilobytes: the round keys' bytes into the Y domain, each",
		"four times over, for VPTERNLOGD's 32-bit broadcast.")
	t := slicedTmp[0]
	VMOVDQU64(replicate(), slicedTmp[1])
	for r := range 8 {
		VBROADCASTI32X4(Mem{Base: rk}.Offset(16*r), t)
		VPSHUFB(slicedTmp[1], t, t)
		VGF2P8AFFINEQB_BCST(U8(sliced.Pre.C), slicedPre(), t, t)
		VMOVDQU64(t, keys.Offset(64*r))
	}
	Comment("The fixed counter words W0-W2 likewise: lane w holds word w's bytes.")
	MOVQ(RBX, R9)
	RORQ(U8(32), R9) // W1:W0, W0 in the low dword
	VMOVQ(R9, t.AsX())
	MOVQ(R8, R9)
	SHRQ(U8(32), R9) // W2
	VPINSRQ(U8(1), R9, t.AsX(), t.AsX())
	VSHUFI64X2(U8(0), t, t, t)
	VPSHUFB(slicedTmp[1], t, t)
	VGF2P8AFFINEQB_BCST(U8(0), slicedPre(), t, t)
	VMOVDQU64(t, words)

	Label("sliced512")
	CMPQ(n, U32(wideBatch512))
	JB(LabelRef("slicedend512"))
	Comment("The Q matrices (the transposition at the end reuses their registers).")
	for d, q := range slicedQ {
		VPBROADCASTQ(slicedQMem().Offset(8*d), q)
	}

	Comment("Counter blocks: W0-W2 broadcast, W3 = lo + block, transposed to bytes.")
	for w := range 3 {
		for j := range 4 {
			VPBROADCASTD(words.Offset(16*w+4*j), slicedWord(w, j))
		}
	}
	c := slicedZ[0]
	VPBROADCASTD(R8.As32(), c)
	d := slicedTmp[:4]
	for k, x := range d {
		VPADDD(slicedOffsets().Offset(64*k), c, x)
		VGF2P8AFFINEQB_BCST(U8(0), slicedPre(), x, x)
		VPSHUFB(gatherBytes(), x, x)
	}
	// A 4×4 transposition of dwords within each lane: plane j gets dword
	// j of every register.
	t0, t1, t2, t3 := slicedTmp[4], slicedTmp[5], slicedTmp[6], slicedTmp[7]
	VPUNPCKLDQ(d[1], d[0], t0)
	VPUNPCKHDQ(d[1], d[0], t1)
	VPUNPCKLDQ(d[3], d[2], t2)
	VPUNPCKHDQ(d[3], d[2], t3)
	VPUNPCKLQDQ(t2, t0, slicedWord(3, 0))
	VPUNPCKHQDQ(t2, t0, slicedWord(3, 1))
	VPUNPCKLQDQ(t3, t1, slicedWord(3, 2))
	VPUNPCKHQDQ(t3, t1, slicedWord(3, 3))
	ADDQ(U8(64), R8)

	for i := range 32 {
		slicedRound(keys, i)
	}

	Comment("Back from the Y domain, then bytes to blocks.")
	for p := range 16 {
		VGF2P8AFFINEQB_BCST(U8(0), slicedBack(), zmm[p], zmm[p])
	}
	regs := map[int]VecPhysical{}
	for b := range 16 {
		regs[b] = zmm[15-b] // block byte b is plane 15-b
	}
	free := append([]VecPhysical{}, zmm[16:]...)
	var pending []VecPhysical
	_, final := transposeOut(func(size int, hi bool, a, b, out int) {
		o := free[0]
		free = free[1:]
		ra, rb := regs[a], regs[b]
		switch {
		case size == 1 && !hi:
			VPUNPCKLBW(rb, ra, o)
		case size == 1:
			VPUNPCKHBW(rb, ra, o)
		case size == 2 && !hi:
			VPUNPCKLWD(rb, ra, o)
		case size == 2:
			VPUNPCKHWD(rb, ra, o)
		case size == 4 && !hi:
			VPUNPCKLDQ(rb, ra, o)
		case size == 4:
			VPUNPCKHDQ(rb, ra, o)
		case !hi:
			VPUNPCKLQDQ(rb, ra, o)
		default:
			VPUNPCKHQDQ(rb, ra, o)
		}
		regs[out] = o
		if hi { // both halves made: the sources are free
			pending = append(pending, ra, rb)
			free = append(free, pending...)
			pending = nil
		}
	})
	outs := make([]VecPhysical, 16)
	for r, v := range final {
		outs[r] = regs[v]
	}
	fused := func(r int, o VecPhysical) {
		VPXORQ(Mem{Base: src}.Offset(64*r), o, o)
		VMOVDQU64(o, Mem{Base: dst}.Offset(64*r))
	}
	// Final value r holds blocks 4r to 4r+3 (slicedBlockOrder).
	for r, o := range outs {
		if r == 0 {
			head(o, func() { fused(0, o) })
			continue
		}
		fused(r, o)
	}
	gen.Advance(src, dst, n, wideBatch512)
	JMP(LabelRef("sliced512"))
	Label("slicedend512")
	Comment("The round keys in the Y domain are as secret as the round keys.")
	VPXORD(t, t, t)
	for r := range 8 {
		VMOVDQU64(t, keys.Offset(64*r))
	}
	Label("slicedskip512")
}

// slicedRound emits round i: for each byte j, z = y1 ⊕ y2 ⊕ y3 ⊕ rk'
// (the newest word, y3, last), then y0 byte j ^= the four inversions that
// reach it.
func slicedRound(keys Mem, i int) {
	word := func(k int) int { return (i + k) % 4 }
	for j, z := range slicedZ {
		VMOVDQA64(slicedWord(word(1), j), z)
		VPTERNLOGD_BCST(U8(0x96), keys.Offset(16*i+4*j), slicedWord(word(2), j), z)
	}
	for j, z := range slicedZ {
		VPXORD(slicedWord(word(3), j), z, z)
	}
	g := 0
	for j := range 4 {
		a0 := slicedWord(word(0), j)
		var ts [4]VecPhysical
		for d := range 4 {
			ts[d] = slicedTmp[g%len(slicedTmp)]
			g++
			c := byte(0)
			if d == 0 {
				c = sliced.C[j]
			}
			VGF2P8AFFINEINVQB(U8(c), slicedQ[d], slicedZ[(j-d+4)%4], ts[d])
			if d%2 == 1 {
				VPTERNLOGD(U8(0x96), ts[d], ts[d-1], a0)
			}
		}
	}
}

func gfni512() {
	TEXT("ctrSM4GFNI512", NOSPLIT, signatureSkip)
	Pragma("noescape")
	Doc("ctrSM4GFNI512 XORs n bytes of src with the SM4-CTR keystream that starts",
		"at counter (hi, lo) into dst: 64 blocks in flight, byte-sliced, over",
		"whole kilobytes, and two sets of 16 blocks over the rest.",
		"It needs AVX-512 F/BW/VL and GFNI; the low 32 bits of lo must not wrap",
		"within the call. The first skip (0-15) bytes of keystream are dropped:",
		"byte i of dst gets keystream byte skip+i. A skip other than 0 needs",
		"skip+n of at least 1024, so that the first batch is a whole kilobyte.")
	ks := AllocLocal(64)
	keys := AllocLocal(512)
	words := AllocLocal(64)
	loadArgs()
	Load(Param("skip"), skipReg)
	Comment("Run on the block grid: dst and src start skip bytes early, and only",
		"the first batch's first register, which holds those bytes, is",
		"written through the stack from byte skip on.")
	SUBQ(skipReg, dst)
	SUBQ(skipReg, src)
	ADDQ(skipReg, n)
	Comment("A skip with less than a kilobyte would reach before dst: refuse it.")
	TESTQ(skipReg, skipReg)
	JZ(LabelRef("skipok512"))
	CMPQ(n, U32(wideBatch512))
	JAE(LabelRef("skipok512"))
	UD2()
	Label("skipok512")

	// head writes bytes skip to 63 of the batch from register o through
	// the stack, one quadword (then one byte) at a time, and clears skip;
	// with skip 0 it writes o as any other register.
	head := func(o VecPhysical, normal func()) {
		ksPtr, out, in, tmp := R9, R10, R12, R13
		TESTQ(skipReg, skipReg)
		JNZ(LabelRef("head512"))
		normal()
		JMP(LabelRef("headdone512"))
		Label("head512")
		VMOVDQU64(o, ks)
		LEAQ(ks, ksPtr)
		ADDQ(skipReg, ksPtr)
		LEAQ(Mem{Base: dst, Index: skipReg, Scale: 1}, out)
		LEAQ(Mem{Base: src, Index: skipReg, Scale: 1}, in)
		NEGQ(skipReg)
		ADDQ(U8(64), skipReg) // the count of bytes left: 64 - skip
		step := func(by int) {
			ADDQ(U8(by), ksPtr)
			ADDQ(U8(by), out)
			ADDQ(U8(by), in)
			SUBQ(U8(by), skipReg)
		}
		Label("head8_512")
		CMPQ(skipReg, U8(8))
		JB(LabelRef("head1_512"))
		MOVQ(Mem{Base: in}, tmp)
		XORQ(Mem{Base: ksPtr}, tmp)
		MOVQ(tmp, Mem{Base: out})
		step(8)
		JMP(LabelRef("head8_512"))
		Label("head1_512")
		TESTQ(skipReg, skipReg)
		JZ(LabelRef("headwipe512"))
		MOVB(Mem{Base: in}, tmp.As8())
		XORB(Mem{Base: ksPtr}, tmp.As8())
		MOVB(tmp.As8(), Mem{Base: out})
		step(1)
		JMP(LabelRef("head1_512"))
		Label("headwipe512")
		Comment("skipReg is 0 now: later batches write all their registers.")
		VPXORD(o, o, o)
		VMOVDQU64(o, ks)
		Label("headdone512")
	}
	slicedLoop(keys, words, head)

	Comment("Under a kilobyte: word-sliced sets of 16 blocks.")
	a := set{x: [4]VecPhysical{Z0, Z1, Z2, Z3}, tmp: [3]VecPhysical{Z8, Z9, Z10}}
	b := set{x: [4]VecPhysical{Z4, Z5, Z6, Z7}, tmp: [3]VecPhysical{Z11, Z12, Z13}}
	m1, m2, bswap := Z14, Z15, Z16
	w0, w1, w2, ctr, lanes, step := Z17, Z18, Z19, Z20, Z21, Z22

	VPBROADCASTQ(gfniM1(), m1)
	VPBROADCASTQ(gfniM2(), m2)
	VBROADCASTI32X4(byteSwap(), bswap)
	Comment("The counter's words: W0-W2 the same in every block, W3 counting.")
	MOVQ(RBX, R9)
	SHRQ(U8(32), R9)
	VPBROADCASTD(R9.As32(), w0)
	VPBROADCASTD(EBX, w1)
	MOVQ(R8, R9)
	SHRQ(U8(32), R9)
	VPBROADCASTD(R9.As32(), w2)
	VPBROADCASTD(R8.As32(), ctr)
	VMOVDQU32(lanes16(), lanes)
	VPBROADCASTD(step16(), step)

	counters := func(s set) {
		VMOVDQA64(w0, s.x[0])
		VMOVDQA64(w1, s.x[1])
		VMOVDQA64(w2, s.x[2])
		VPADDD(lanes, ctr, s.x[3])
		VPADDD(step, ctr, ctr)
	}
	// The round is latency bound: each round needs the word the one
	// before made. So the two older words and the round key are combined
	// first, off that path, and L is four independent rotates folded in by
	// two three-way XORs.
	round := func(s set, i int) {
		a0, x1, x2, x3 := roundWords(s, i)
		t, u, v := s.tmp[0], s.tmp[1], s.tmp[2]
		VMOVDQA64(x1, t)
		VPTERNLOGD_BCST(U8(0x96), Mem{Base: rk, Disp: 4 * i}, x2, t) // x1 ^ x2 ^ rk[i]
		VPXORD(x3, t, t)
		VGF2P8AFFINEQB(U8(gfniPre.C), m1, t, t)
		VGF2P8AFFINEINVQB(U8(gfniPost.C), m2, t, t) // t = B = S-box of every byte
		VPROLD(U8(2), t, u)
		VPROLD(U8(10), t, v)
		VPTERNLOGD(U8(0x96), u, t, a0) // a0 ^= B ^ B<<<2
		VPROLD(U8(18), t, u)
		VPROLD(U8(24), t, t)
		VPTERNLOGD(U8(0x96), u, v, t) // t = B<<<10 ^ B<<<18 ^ B<<<24
		VPXORD(t, a0, a0)
	}
	kernel{suffix: "512", width: 64, a: a, b: b, bswap: bswap, ks: ks,
		counters: counters, round: round}.emitLoop()
}

// checkSliced refuses byte-sliced constants that do not give SM4's round:
// for pseudo-random words it runs the round as the kernel does, through
// the GFNI encodings of the matrices it emits, and compares it with
// x0 ^ L(τ(x1^x2^x3^rk)) from the S-box table.
func checkSliced() {
	sbox := gf256.SM4Sbox()
	rotl := func(x uint32, k int) uint32 { return x<<k | x>>(32-k) }
	ref := func(x0, x1, x2, x3, rk uint32) uint32 {
		t := x1 ^ x2 ^ x3 ^ rk
		b := uint32(sbox[t>>24])<<24 | uint32(sbox[t>>16&0xff])<<16 | uint32(sbox[t>>8&0xff])<<8 | uint32(sbox[t&0xff])
		return x0 ^ b ^ rotl(b, 2) ^ rotl(b, 10) ^ rotl(b, 18) ^ rotl(b, 24)
	}
	pre, back := gf256.GFNIMatrix(sliced.Pre.M), gf256.GFNIMatrix(sliced.Back)
	toY := func(x uint32) (y [4]byte) {
		for j := range y {
			y[j] = gf256.GFNIAffine(byte(x>>(8*j)), pre, 0)
		}
		return y
	}
	state := uint32(1)
	next := func() uint32 { // xorshift32
		state ^= state << 13
		state ^= state >> 17
		state ^= state << 5
		return state
	}
	for range 10000 {
		x0, x1, x2, x3, rk := next(), next(), next(), next(), next()
		y0, y1, y2, y3 := toY(x0), toY(x1), toY(x2), toY(x3)
		var got uint32
		for j := range 4 {
			var z [4]byte
			for i := range z {
				z[i] = y1[i] ^ y2[i] ^ y3[i] ^ gf256.GFNIAffine(byte(rk>>(8*i)), pre, sliced.Pre.C)
			}
			out := y0[j]
			for d := range 4 {
				c := byte(0)
				if d == 0 {
					c = sliced.C[j]
				}
				out ^= gf256.GFNIAffine(gf256.Inv(z[(j-d+4)%4], gf256.AESPoly), gf256.GFNIMatrix(sliced.Q[d]), c)
			}
			got |= uint32(gf256.GFNIAffine(out, back, 0)) << (8 * j)
		}
		if want := ref(x0, x1, x2, x3, rk); got != want {
			panic(fmt.Sprintf("byte-sliced constants wrong: round(%#x %#x %#x %#x, %#x) = %#x, want %#x", x0, x1, x2, x3, rk, got, want))
		}
	}
}
