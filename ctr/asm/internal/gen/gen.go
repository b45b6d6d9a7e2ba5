// Package gen holds the pieces the ctr kernel generators share: the counter
// constants, the tail that XORs a keystream kept on the stack, and the
// opmask arithmetic for AVX-512 tails.
//
// Every kernel keeps the 128-bit counter little-endian in each 128-bit
// lane (low quadword first), so a lane steps with one VPADDQ; a byte
// reversal (PSHUFB with ByteSwap) turns it into the big-endian counter
// block the cipher encrypts. The Go side splits calls so that the low
// quadword never carries inside a kernel.
package gen

import (
	"fmt"
	"sync"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// ByteSwap is the PSHUFB mask that reverses the 16 bytes of a lane.
var ByteSwap = sync.OnceValue(func() Mem {
	m := GLOBL("ctrByteSwap", NOPTR|RODATA)
	DATA(0, U64(0x08090a0b0c0d0e0f))
	DATA(8, U64(0x0001020304050607))
	return m
})

// LaneOffsets holds the little-endian 128-bit numbers 0, 1, 2, 3: added to
// a counter broadcast to every lane, it gives a register of consecutive
// counters (the first 32 bytes serve a ymm register).
var LaneOffsets = sync.OnceValue(func() Mem {
	m := GLOBL("ctrLaneOffsets", NOPTR|RODATA)
	for i := range 4 {
		DATA(16*i, U64(uint64(i)))
		DATA(16*i+8, U64(0))
	}
	return m
})

// Step returns a 16-byte constant holding the little-endian 128-bit number
// n, to broadcast as the per-register counter increment.
func Step(n int) Mem {
	if m, ok := steps[n]; ok {
		return m
	}
	m := GLOBL(fmt.Sprintf("ctrStep%d", n), NOPTR|RODATA)
	DATA(0, U64(uint64(n)))
	DATA(8, U64(0))
	steps[n] = m
	return m
}

var steps = map[int]Mem{}

// XORFromStack XORs n bytes (n in a register, less than the keystream held
// at ks) from src into dst, taking the keystream from ks, then overwrites
// the keystream with zeros (size bytes). It advances src, dst and the
// scratch registers. wide is the widest chunk it may use: 64 with AVX-512,
// 32 with AVX, 16 with SSE only. tmp and tmp2 are vector registers of that
// width, gp a spare general register, ptr a spare register for the
// keystream pointer.
//
// Kernels finish through the stack rather than with masked loads and
// stores: on Zen 4 a masked access whose masked-off bytes lie in the next
// page costs a microcode assist, about 800 cycles, and a buffer that ends
// at a page boundary is the common case for a storage engine.
func XORFromStack(ks Mem, size int, n, src, dst, ptr, gp GPPhysical, tmp, tmp2 VecPhysical, wide int, suffix string) {
	Comment("XOR the remaining bytes with the keystream on the stack.")
	LEAQ(ks, ptr)
	l := func(s string) string { return s + suffix }
	if wide == 64 {
		Label(l("tail64"))
		CMPQ(n, U32(64))
		JB(LabelRef(l("tail8")))
		VMOVDQU64(Mem{Base: src}, tmp)
		VPXORQ(Mem{Base: ptr}, tmp, tmp)
		VMOVDQU64(tmp, Mem{Base: dst})
		advance(src, dst, ptr, n, 64)
		JMP(LabelRef(l("tail64")))
	} else if wide == 32 {
		Label(l("tail32"))
		CMPQ(n, Imm(32))
		JB(LabelRef(l("tail8")))
		VMOVDQU(Mem{Base: src}, tmp)
		VPXOR(Mem{Base: ptr}, tmp, tmp)
		VMOVDQU(tmp, Mem{Base: dst})
		advance(src, dst, ptr, n, 32)
		JMP(LabelRef(l("tail32")))
	} else {
		Label(l("tail16"))
		CMPQ(n, Imm(16))
		JB(LabelRef(l("tail8")))
		MOVOU(Mem{Base: src}, tmp)
		// SSE's PXOR wants an aligned memory operand; the frame is
		// only 8-byte aligned, so load the keystream first.
		MOVOU(Mem{Base: ptr}, tmp2)
		PXOR(tmp2, tmp)
		MOVOU(tmp, Mem{Base: dst})
		advance(src, dst, ptr, n, 16)
		JMP(LabelRef(l("tail16")))
	}
	Label(l("tail8"))
	CMPQ(n, Imm(8))
	JB(LabelRef(l("tail1")))
	MOVQ(Mem{Base: src}, gp)
	XORQ(Mem{Base: ptr}, gp)
	MOVQ(gp, Mem{Base: dst})
	advance(src, dst, ptr, n, 8)
	JMP(LabelRef(l("tail8")))
	Label(l("tail1"))
	TESTQ(n, n)
	JZ(LabelRef(l("wipe")))
	MOVB(Mem{Base: src}, gp.As8())
	XORB(Mem{Base: ptr}, gp.As8())
	MOVB(gp.As8(), Mem{Base: dst})
	advance(src, dst, ptr, n, 1)
	JMP(LabelRef(l("tail1")))

	Label(l("wipe"))
	Comment("The keystream is as sensitive as the data: do not leave it on the stack.")
	switch wide {
	case 64:
		VPXORQ(tmp, tmp, tmp)
		for off := 0; off < size; off += 64 {
			VMOVDQU64(tmp, ks.Offset(off))
		}
	case 32:
		VPXOR(tmp, tmp, tmp)
		for off := 0; off < size; off += 32 {
			VMOVDQU(tmp, ks.Offset(off))
		}
	default:
		PXOR(tmp, tmp)
		for off := 0; off < size; off += 16 {
			MOVOU(tmp, ks.Offset(off))
		}
	}
}

func advance(src, dst, ptr, n GPPhysical, by int) {
	ADDQ(U32(by), src)
	ADDQ(U32(by), dst)
	ADDQ(U32(by), ptr)
	SUBQ(U32(by), n)
}

// FinishTail writes the registers of a tail batch, each holding width bytes
// of keystream for the data at src and dst. The first known of them are
// full for certain; each later one is checked against the n remaining
// bytes. A full register is XORed with the data straight into dst by
// fused(j, x); the first partial one is written to the stack by
// keystream(x), src, dst and n are advanced to it, and control goes to
// xorLabel (XORFromStack with size = width). If every register is full,
// control goes to doneLabel.
func FinishTail(regs []VecPhysical, width, known int, n, src, dst GPPhysical,
	fused func(j int, x VecPhysical), keystream func(x VecPhysical), xorLabel, doneLabel, prefix string) {
	partial := func(j int) string { return fmt.Sprintf("%spartial%d", prefix, j) }
	for j, x := range regs {
		if j >= known {
			CMPQ(n, U32(width*(j+1)))
			JB(LabelRef(partial(j)))
		}
		fused(j, x)
	}
	JMP(LabelRef(doneLabel))
	for j, x := range regs[known:] {
		j += known
		Label(partial(j))
		keystream(x)
		if j > 0 {
			ADDQ(U32(width*j), src)
			ADDQ(U32(width*j), dst)
			SUBQ(U32(width*j), n)
		}
		JMP(LabelRef(xorLabel))
	}
}
