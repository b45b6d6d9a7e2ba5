package main

import (
	"fmt"
	"sync"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/atrest/atrest/ctr/asm/internal/gen"
)

// aesniBlocks is the number of blocks a batch of the AES-NI kernel holds,
// aesniGroup the blocks made from one base block.
const (
	aesniBlocks = 12
	aesniGroup  = 4
)

// aesniJ holds, for j = 0..3, the 16-byte block with j in its last byte:
// XORed into a counter block whose low two bits are zero, it gives the
// block j further on.
var aesniJ = sync.OnceValue(func() Mem {
	m := GLOBL("ctrAESNIBlockNumbers", NOPTR|RODATA)
	for j := range aesniGroup {
		DATA(16*j, U64(0))
		DATA(16*j+8, U64(uint64(j)<<56))
	}
	return m
})

// aesni emits ctrAESNI. It is written for cores that issue two AESENC a
// cycle (Zen 2 to 5, Ice Lake and later; Skylake issues one) and for the
// machines such kernels run on, where other threads of the core or the
// host take issue slots: whatever is not an AES round should cost as few
// instructions as it can. Twelve blocks are in flight, half again the
// eight that AESENC's latency (4) times its throughput (2) needs, so that
// the batch boundaries and the other instructions do not starve the AES
// pipes. The counter blocks are not made one by one: the batches are
// aligned to four blocks, and each group of four blocks is one base block,
// already XORed with round key 0 (made in general registers, three moves),
// XOR the block number in its last byte (A + j = A ^ j for A a multiple of
// 4 and j < 4: no carry to handle), one load and one XOR a block. The
// first batch of a call starts at the aligned block at or before the
// call's first and skips the blocks before it (pointers moved back,
// stores skipped). The round keys are loaded once a round, one load for
// twelve AESENCs; the data is XORed into the last round key before
// AESENCLAST. A batch is about 17.5 instructions a block for AES-128, of
// which ten are the rounds (the kernel before made each counter in
// general registers and through a stack slot: about 19).
func aesni() {
	TEXT("ctrAESNI", NOSPLIT, signature)
	Pragma("noescape")
	Doc("ctrAESNI XORs n bytes of src with the AES-CTR keystream that starts at",
		fmt.Sprintf("counter (hi, lo) into dst: one block an xmm register, %d blocks in flight.", aesniBlocks),
		"It needs AES-NI and SSSE3 only (legacy SSE encoding); lo must not wrap within the call.")
	ks := AllocLocal(16)
	loadArgs()

	blocks := []VecPhysical{X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, X10, X11}
	rkey, last, tmp, hiVec := X12, X13, X14, X15
	batch := 16 * aesniBlocks

	// A counter block XORed with round key 0 is {bswap(hi) ^ k0, bswap(lo+j) ^ k1}
	// with k0, k1 the two little-endian quadwords of round key 0. The high
	// half is fixed for the call (lo does not wrap), so it is made once.
	hiKey, loKey := R12, R11
	MOVQ(Mem{Base: rk}, hiKey)
	MOVQ(RBX, R10)
	BSWAPQ(R10)
	XORQ(R10, hiKey)
	MOVQ(Mem{Base: rk}.Offset(8), loKey)
	MOVOU(lastKeyAddr(), last)

	MOVQ(hiKey, hiVec)
	CMPQ(n, U32(batch))
	JB(LabelRef("tailni"))
	keyOp := func(r int) Op {
		MOVOU(Mem{Base: rk}.Offset(16*r), rkey)
		return rkey
	}
	enc := func(k Op, x VecPhysical) { AESENC(k, x) }
	fused := func(j int, x VecPhysical) {
		MOVOU(Mem{Base: src}.Offset(16*j), tmp)
		PXOR(last, tmp)
		AESENCLAST(tmp, x)
		MOVOU(x, Mem{Base: dst}.Offset(16*j))
	}
	// body encrypts the batch at the aligned counter R8; store writes
	// block j.
	body := func(label string, store func(j int, x VecPhysical)) {
		base := rkey // free until the first round
		for g := 0; g < aesniBlocks; g += aesniGroup {
			LEAQ(Mem{Base: R8, Disp: g}, R10)
			BSWAPQ(R10)
			XORQ(loKey, R10)
			MOVO(hiVec, base)
			MOVQ(R10, tmp)
			PUNPCKLQDQ(tmp, base)
			for j, x := range blocks[g : g+aesniGroup] {
				if j == 0 {
					MOVO(base, x)
					continue
				}
				MOVOU(aesniJ().Offset(16*j), x)
				PXOR(base, x)
			}
		}
		middleRounds(blocks, keyOp, enc, label)
		for j, x := range blocks {
			store(j, x)
		}
		gen.Advance(src, dst, n, batch)
		ADDQ(U8(aesniBlocks), R8)
	}

	Comment("The first batch starts at the aligned block at or before the first:",
		"R9 is the bytes of keystream to skip, the stores before it are.")
	MOVQ(R8, R9)
	ANDQ(U8(aesniGroup-1), R9)
	SUBQ(R9, R8)
	SHLQ(U8(4), R9)
	SUBQ(R9, src)
	SUBQ(R9, dst)
	ADDQ(R9, n)
	body("lastnifirst", func(j int, x VecPhysical) {
		skip := fmt.Sprintf("firstskip%d", j)
		if j > 0 {
			CMPQ(R9, U8(16*j))
			JA(LabelRef(skip))
		} else {
			TESTQ(R9, R9)
			JNZ(LabelRef(skip))
		}
		fused(j, x)
		Label(skip)
	})

	Label("loopni")
	CMPQ(n, U32(batch))
	JB(LabelRef("tailni"))
	body("lastni", fused)
	JMP(LabelRef("loopni"))

	// The tail makes its few counter blocks one by one in registers.
	Label("tailni")
	TESTQ(n, n)
	JZ(LabelRef("doneni"))
	sizes := []int{1, 2, 4, 8, aesniBlocks}
	labels := tailDispatch(16, sizes, "tailni")
	for i, g := range sizes {
		Label(labels[i])
		regs := blocks[:g]
		for j, x := range regs {
			LEAQ(Mem{Base: R8, Disp: j}, R10)
			BSWAPQ(R10)
			XORQ(loKey, R10)
			MOVQ(R10, tmp)
			MOVO(hiVec, x)
			PUNPCKLQDQ(tmp, x)
		}
		middleRounds(regs, keyOp, enc, fmt.Sprintf("lastnix%d", g))
		gen.FinishTail(regs, 16, g/2, n, src, dst, fused, func(x VecPhysical) {
			AESENCLAST(last, x)
			MOVOU(x, ks)
		}, "xorni", "doneni", fmt.Sprintf("tailnix%d", g))
	}
	Label("xorni")
	gen.XORFromStack(ks, 16, n, src, dst, R9, R10, tmp, rkey, 16, "ni")

	Label("doneni")
	RET()
}
