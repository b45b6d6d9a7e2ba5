//go:build !purego

package ctr

import "github.com/klauspost/cpuid/v2"

// kernelUsable reports whether this CPU can run kernel id. cpuid checks the
// OS as well as the CPU: AVX and AVX-512 count only where the kernel saves
// their registers on a context switch.
func kernelUsable(id kernelID) bool {
	c := &cpuid.CPU
	switch id {
	case kernCopy, kernAESGeneric, kernSM4Generic:
		return true
	case kernAESAESNI:
		return c.Supports(cpuid.AESNI, cpuid.SSSE3)
	case kernAESVAES256:
		return c.Supports(cpuid.AESNI, cpuid.AVX, cpuid.AVX2, cpuid.VAES)
	case kernAESVAES512:
		// AVX2 too: calls of up to vaes512Small bytes run the ymm kernel.
		return c.Supports(cpuid.AESNI, cpuid.AVX, cpuid.AVX2, cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL, cpuid.VAES)
	case kernSM4AESNI:
		return c.Supports(cpuid.AESNI, cpuid.AVX, cpuid.AVX2)
	case kernSM4GFNI256:
		return c.Supports(cpuid.GFNI, cpuid.AVX, cpuid.AVX2)
	case kernSM4GFNI512:
		return c.Supports(cpuid.GFNI, cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL)
	}
	return false
}

// vaes512Small is the size up to which the VAES-512 kernel hands a call to
// the VAES-256 one: a few blocks are bound by AESENC's latency, which is
// lower on ymm, and by loading the round keys, which the ymm kernel does
// a round at a time. Measured here: the ymm kernel is 1-4 ns faster up to
// 128 bytes, the zmm kernel faster from 192 bytes.
const vaes512Small = 128

// xorBlocks runs the Stream's kernel over src from counter (hi, lo). src is
// not empty, dst is as long, and lo does not wrap within the call.
func xorBlocks(s *Stream, dst, src []byte, hi, lo uint64) {
	switch s.kern {
	case kernAESVAES512:
		if len(src) <= vaes512Small {
			ctrAESVAES256(s.rounds, &s.rk, hi, lo, &dst[0], &src[0], len(src))
			return
		}
		ctrAESVAES512(s.rounds, &s.rk, hi, lo, &dst[0], &src[0], len(src))
	case kernAESVAES256:
		ctrAESVAES256(s.rounds, &s.rk, hi, lo, &dst[0], &src[0], len(src))
	case kernAESAESNI:
		ctrAESNI(s.rounds, &s.rk, hi, lo, &dst[0], &src[0], len(src))
	case kernSM4GFNI512:
		ctrSM4GFNI512(&s.rk, hi, lo, &dst[0], &src[0], len(src), 0)
	case kernSM4GFNI256:
		ctrSM4GFNI256(&s.rk, hi, lo, &dst[0], &src[0], len(src))
	case kernSM4AESNI:
		ctrSM4AESNI(&s.rk, hi, lo, &dst[0], &src[0], len(src))
	default:
		xorBlocksGeneric(s, dst, src, hi, lo)
	}
}

// sm4WideBatch is the batch sm4-gfni512 runs first when a call is long
// enough: 64 blocks byte-sliced (wideBatch512 in ctr/asm/sm4, whose
// kernel traps on a skip with less).
const sm4WideBatch = 1024

// xorBlocksSkipping runs the kernel over src from byte skip (1-15) of the
// block at counter (hi, lo), in one call, where the kernel can: SM4's
// rounds make a call cost about 130 ns of latency before its first byte,
// so a separate call for a partial first block is a second such wait. It
// reports false, having done nothing, where the kernel cannot. lo must
// not wrap within the call.
func xorBlocksSkipping(s *Stream, dst, src []byte, hi, lo uint64, skip int) bool {
	if s.kern != kernSM4GFNI512 || skip+len(src) < sm4WideBatch {
		return false
	}
	ctrSM4GFNI512(&s.rk, hi, lo, &dst[0], &src[0], len(src), skip)
	return true
}
