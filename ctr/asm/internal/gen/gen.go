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

// Vector moves and XORs by width in bytes: 16 (legacy SSE, for CPUs with
// AES-NI but maybe no AVX), 32 (AVX2, VEX encoding), 64 (AVX-512).

// LoadVec loads width bytes at m into x.
func LoadVec(width int, m Mem, x VecPhysical) {
	switch width {
	case 64:
		VMOVDQU64(m, x)
	case 32:
		VMOVDQU(m, x)
	default:
		MOVOU(m, x)
	}
}

// StoreVec stores x's width bytes at m.
func StoreVec(width int, x VecPhysical, m Mem) {
	switch width {
	case 64:
		VMOVDQU64(x, m)
	case 32:
		VMOVDQU(x, m)
	default:
		MOVOU(x, m)
	}
}

// Zero clears x.
func Zero(width int, x VecPhysical) {
	switch width {
	case 64:
		VPXORQ(x, x, x)
	case 32:
		VPXOR(x, x, x)
	default:
		PXOR(x, x)
	}
}

// XORMem sets x ^= the width bytes at m. SSE's PXOR wants an aligned memory
// operand, so at width 16 m is loaded into tmp first; wider forms take any
// address and leave tmp alone (it may be nil).
func XORMem(width int, m Mem, x, tmp VecPhysical) {
	switch width {
	case 64:
		VPXORQ(m, x, x)
	case 32:
		VPXOR(m, x, x)
	default:
		MOVOU(m, tmp)
		PXOR(tmp, x)
	}
}

// Advance moves src and dst on by bytes and takes bytes off n.
func Advance(src, dst, n GPPhysical, bytes int) {
	ADDQ(U32(bytes), src)
	ADDQ(U32(bytes), dst)
	SUBQ(U32(bytes), n)
}

// XORFromStack XORs n bytes (n in a register, less than the keystream held
// at ks) from src into dst, taking the keystream from ks, then overwrites
// the keystream with zeros (size bytes). It advances src, dst and the
// scratch registers. wide is the widest chunk it may use (see LoadVec). tmp
// and tmp2 are vector registers of that width, gp a spare general
// register, ptr a spare register for the keystream pointer.
//
// Kernels finish through the stack rather than with masked loads and
// stores: on Zen 4 a masked access whose masked-off bytes lie in the next
// page costs a microcode assist, about 800 cycles, and a buffer that ends
// at a page boundary is the common case for a storage engine.
func XORFromStack(ks Mem, size int, n, src, dst, ptr, gp GPPhysical, tmp, tmp2 VecPhysical, wide int, suffix string) {
	Comment("XOR the remaining bytes with the keystream on the stack.")
	LEAQ(ks, ptr)
	l := func(s string) string { return s + suffix }
	advance := func(by int) {
		Advance(src, dst, n, by)
		ADDQ(U32(by), ptr)
	}
	Label(l("tailvec"))
	CMPQ(n, U32(wide))
	JB(LabelRef(l("tail8")))
	LoadVec(wide, Mem{Base: src}, tmp)
	XORMem(wide, Mem{Base: ptr}, tmp, tmp2)
	StoreVec(wide, tmp, Mem{Base: dst})
	advance(wide)
	JMP(LabelRef(l("tailvec")))

	Label(l("tail8"))
	CMPQ(n, U32(8))
	JB(LabelRef(l("tail1")))
	MOVQ(Mem{Base: src}, gp)
	XORQ(Mem{Base: ptr}, gp)
	MOVQ(gp, Mem{Base: dst})
	advance(8)
	JMP(LabelRef(l("tail8")))
	Label(l("tail1"))
	TESTQ(n, n)
	JZ(LabelRef(l("wipe")))
	MOVB(Mem{Base: src}, gp.As8())
	XORB(Mem{Base: ptr}, gp.As8())
	MOVB(gp.As8(), Mem{Base: dst})
	advance(1)
	JMP(LabelRef(l("tail1")))

	Label(l("wipe"))
	Comment("The keystream is as sensitive as the data: do not leave it on the stack.")
	Zero(wide, tmp)
	for off := 0; off < size; off += wide {
		StoreVec(wide, tmp, ks.Offset(off))
	}
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
			Advance(src, dst, n, width*j)
		}
		JMP(LabelRef(xorLabel))
	}
}
