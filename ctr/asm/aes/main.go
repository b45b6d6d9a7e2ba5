// Command aes generates the amd64 AES-CTR kernels of package ctr:
//
//	ctrAESVAES512  VAES on zmm: 4 blocks a register, 8 registers (32 blocks) in flight
//	ctrAESVAES256  VAES on ymm: 2 blocks a register, 8 registers (16 blocks) in flight
//	ctrAESNI       AES-NI on xmm: 12 blocks in flight (aesni.go)
//
// Each kernel is one loop over the whole buffer with the round keys loaded
// once a call (a round at a time where registers are short). The VAES
// kernels keep the counters in vector registers and step them with one add a
// register, a byte reversal making the big-endian counter block; the AES-NI
// kernel makes one base block a batch and XORs the block number into it
// (see aesni for why). The
// data is XORed into the last round key before AESENCLAST, which yields
// keystream XOR data in the same instruction. The tail (less than one batch)
// runs the smallest batch that covers it: every full register straight to
// the buffers, the one partial register through a keystream on the stack
// that is wiped afterwards (no masked stores: see gen.XORFromStack).
//
// Run by go generate in package ctr; the output is committed.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/atrest/atrest/ctr/asm/internal/gen"
)

const signature = "func(rounds int, rk *[240]byte, hi uint64, lo uint64, dst *byte, src *byte, n int)"

// General registers, the same in every kernel. R9-R11 are scratch.
var (
	rounds = RDX
	rk     = RAX
	dst    = RDI
	src    = RSI
	n      = RCX
)

var zmm = []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
	Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}

func main() {
	ConstraintExpr("!purego")
	vaes512()
	vaes256()
	aesni()
	Generate()
}

func loadArgs() {
	Load(Param("rounds"), rounds)
	Load(Param("rk"), rk)
	Load(Param("hi"), RBX)
	Load(Param("lo"), R8)
	Load(Param("dst"), dst)
	Load(Param("src"), src)
	Load(Param("n"), n)
}

// lastKeyAddr returns the address of round key number rounds.
func lastKeyAddr() Mem {
	MOVQ(rounds, R9)
	SHLQ(Imm(4), R9)
	return Mem{Base: rk, Index: R9, Scale: 1}
}

// middleRounds runs rounds 1 to rounds-1 on every register: nine for every
// key size, two more for AES-192 and four more for AES-256. key returns the
// operand holding round key r, emitting a load first if the kernel keeps it
// in memory.
func middleRounds(regs []VecPhysical, key func(r int) Op, enc func(k Op, x VecPhysical), label string) {
	round := func(r int) {
		k := key(r)
		for _, x := range regs {
			enc(k, x)
		}
	}
	for r := 1; r <= 9; r++ {
		round(r)
	}
	CMPQ(rounds, Imm(10))
	JE(LabelRef(label))
	round(10)
	round(11)
	CMPQ(rounds, Imm(12))
	JE(LabelRef(label))
	round(12)
	round(13)
	Label(label)
}

// tailDispatch jumps to the smallest batch of registers (each holding width
// bytes) in sizes, ascending, that covers the n remaining bytes, and returns
// the labels of the batches, for the caller to place.
func tailDispatch(width int, sizes []int, prefix string) []string {
	labels := make([]string, len(sizes))
	for i, g := range sizes {
		labels[i] = fmt.Sprintf("%sx%d", prefix, g)
	}
	for i := len(sizes) - 1; i > 0; i-- {
		CMPQ(n, U32(sizes[i-1]*width))
		JA(LabelRef(labels[i]))
	}
	JMP(LabelRef(labels[0]))
	return labels
}

// batchLoop emits the main loop: body encrypts one batch of batch bytes,
// as long as that many remain. It falls through to the tail, at label
// "tail"+suffix, which jumps to "done"+suffix when nothing remains.
func batchLoop(suffix string, batch int, body func()) {
	Label("loop" + suffix)
	CMPQ(n, U32(batch))
	JB(LabelRef("tail" + suffix))
	body()
	gen.Advance(src, dst, n, batch)
	JMP(LabelRef("loop" + suffix))

	Label("tail" + suffix)
	TESTQ(n, n)
	JZ(LabelRef("done" + suffix))
}

func vaes512() {
	TEXT("ctrAESVAES512", NOSPLIT, signature)
	Pragma("noescape")
	Doc("ctrAESVAES512 XORs n bytes of src with the AES-CTR keystream that starts",
		"at counter (hi, lo) into dst: 4 blocks a zmm register, 32 blocks in flight.",
		"It needs AVX-512 F/BW/VL and VAES; lo must not wrap within the call.")
	ks := AllocLocal(64)
	loadArgs()

	blocks := zmm[0:8]
	tmp, ctr, step, bswap, last := Z8, Z9, Z10, Z11, Z27
	key := func(r int) VecPhysical { return zmm[12+r] } // Z12..Z26

	Comment("Counters: lane i of Z9 holds counter + i, little-endian.")
	VMOVQ(R8, X9)
	VPINSRQ(Imm(1), RBX, X9, X9)
	VSHUFI64X2(Imm(0), ctr, ctr, ctr)
	VPADDQ(gen.LaneOffsets(), ctr, ctr)
	VBROADCASTI32X4(gen.Step(4), step)
	VBROADCASTI32X4(gen.ByteSwap(), bswap)

	Comment("Round keys stay in Z12-Z26 for the whole call, the last one also in Z27.")
	for r := 0; r <= 10; r++ {
		VBROADCASTI32X4(Mem{Base: rk}.Offset(16*r), key(r))
	}
	CMPQ(rounds, Imm(10))
	JE(LabelRef("keysdone512"))
	VBROADCASTI32X4(Mem{Base: rk}.Offset(16*11), key(11))
	VBROADCASTI32X4(Mem{Base: rk}.Offset(16*12), key(12))
	CMPQ(rounds, Imm(12))
	JE(LabelRef("keysdone512"))
	VBROADCASTI32X4(Mem{Base: rk}.Offset(16*13), key(13))
	VBROADCASTI32X4(Mem{Base: rk}.Offset(16*14), key(14))
	Label("keysdone512")
	VBROADCASTI32X4(lastKeyAddr(), last)

	counters := func(regs []VecPhysical) {
		for _, x := range regs {
			VPSHUFB(bswap, ctr, x)
			VPADDQ(step, ctr, ctr)
		}
		for _, x := range regs {
			VPXORD(key(0), x, x)
		}
	}
	enc := func(k Op, x VecPhysical) { VAESENC(k, x, x) }
	keyOp := func(r int) Op { return key(r) }

	batchLoop("512", 512, func() {
		counters(blocks)
		middleRounds(blocks, keyOp, enc, "last512")
		for j, x := range blocks {
			VPXORD(Mem{Base: src}.Offset(64*j), last, tmp)
			VAESENCLAST(tmp, x, x)
			VMOVDQU64(x, Mem{Base: dst}.Offset(64*j))
		}
	})
	sizes := []int{1, 2, 4, 8}
	labels := tailDispatch(64, sizes, "tail512")
	for i, g := range sizes {
		Label(labels[i])
		regs := blocks[:g]
		counters(regs)
		middleRounds(regs, keyOp, enc, fmt.Sprintf("last512x%d", g))
		gen.FinishTail(regs, 64, g/2, n, src, dst, func(j int, x VecPhysical) {
			VPXORD(Mem{Base: src}.Offset(64*j), last, tmp)
			VAESENCLAST(tmp, x, x)
			VMOVDQU64(x, Mem{Base: dst}.Offset(64*j))
		}, func(x VecPhysical) {
			VAESENCLAST(last, x, x)
			VMOVDQU64(x, ks)
		}, "xor512", "done512", fmt.Sprintf("tail512x%d", g))
	}
	Label("xor512")
	gen.XORFromStack(ks, 64, n, src, dst, R9, R10, tmp, Z28, 64, "512")

	Label("done512")
	VZEROUPPER()
	RET()
}

func vaes256() {
	TEXT("ctrAESVAES256", NOSPLIT, signature)
	Pragma("noescape")
	Doc("ctrAESVAES256 XORs n bytes of src with the AES-CTR keystream that starts",
		"at counter (hi, lo) into dst: 2 blocks a ymm register, 16 blocks in flight.",
		"It needs AVX2 and VAES (VEX encoding only, Y0-Y15); lo must not wrap within the call.")
	ks := AllocLocal(32)
	loadArgs()

	blocks := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7}
	rkey, ctr, step, bswap, key0, last, tmp, tmp2 := Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15

	VMOVQ(R8, X9)
	VPINSRQ(Imm(1), RBX, X9, X9)
	VINSERTI128(Imm(1), X9, ctr, ctr)
	VPADDQ(gen.LaneOffsets(), ctr, ctr)
	VBROADCASTI128(gen.Step(2), step)
	VBROADCASTI128(gen.ByteSwap(), bswap)
	VBROADCASTI128(Mem{Base: rk}, key0)
	VBROADCASTI128(lastKeyAddr(), last)

	counters := func(regs []VecPhysical) {
		for _, x := range regs {
			VPSHUFB(bswap, ctr, x)
			VPADDQ(step, ctr, ctr)
			VPXOR(key0, x, x)
		}
	}
	// Sixteen registers cannot hold 15 round keys and 8 blocks: the middle
	// keys are loaded once a round, one load for eight VAESENCs.
	keyOp := func(r int) Op {
		VBROADCASTI128(Mem{Base: rk}.Offset(16*r), rkey)
		return rkey
	}
	enc := func(k Op, x VecPhysical) { VAESENC(k, x, x) }

	batchLoop("256", 256, func() {
		counters(blocks)
		middleRounds(blocks, keyOp, enc, "last256")
		for j, x := range blocks {
			VPXOR(Mem{Base: src}.Offset(32*j), last, tmp)
			VAESENCLAST(tmp, x, x)
			VMOVDQU(x, Mem{Base: dst}.Offset(32*j))
		}
	})
	sizes := []int{1, 2, 4, 8}
	labels := tailDispatch(32, sizes, "tail256")
	for i, g := range sizes {
		Label(labels[i])
		regs := blocks[:g]
		counters(regs)
		middleRounds(regs, keyOp, enc, fmt.Sprintf("last256x%d", g))
		gen.FinishTail(regs, 32, g/2, n, src, dst, func(j int, x VecPhysical) {
			VPXOR(Mem{Base: src}.Offset(32*j), last, tmp)
			VAESENCLAST(tmp, x, x)
			VMOVDQU(x, Mem{Base: dst}.Offset(32*j))
		}, func(x VecPhysical) {
			VAESENCLAST(last, x, x)
			VMOVDQU(x, ks)
		}, "xor256", "done256", fmt.Sprintf("tail256x%d", g))
	}
	Label("xor256")
	gen.XORFromStack(ks, 32, n, src, dst, R9, R10, tmp, tmp2, 32, "256")

	Label("done256")
	VZEROUPPER()
	RET()
}
