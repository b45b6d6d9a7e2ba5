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
		return c.Supports(cpuid.AESNI, cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL, cpuid.VAES)
	case kernSM4AESNI:
		return c.Supports(cpuid.AESNI, cpuid.AVX, cpuid.AVX2)
	case kernSM4GFNI256:
		return c.Supports(cpuid.GFNI, cpuid.AVX, cpuid.AVX2)
	case kernSM4GFNI512:
		return c.Supports(cpuid.GFNI, cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL)
	}
	return false
}

// xorBlocks runs the Stream's kernel over src from counter (hi, lo). src is
// not empty, dst is as long, and lo does not wrap within the call.
func xorBlocks(s *Stream, dst, src []byte, hi, lo uint64) {
	switch s.kern {
	case kernAESVAES512:
		ctrAESVAES512(s.rounds, &s.rk, hi, lo, &dst[0], &src[0], len(src))
	case kernAESVAES256:
		ctrAESVAES256(s.rounds, &s.rk, hi, lo, &dst[0], &src[0], len(src))
	case kernAESAESNI:
		ctrAESNI(s.rounds, &s.rk, hi, lo, &dst[0], &src[0], len(src))
	case kernSM4GFNI512:
		ctrSM4GFNI512(&s.rk, hi, lo, &dst[0], &src[0], len(src))
	case kernSM4GFNI256:
		ctrSM4GFNI256(&s.rk, hi, lo, &dst[0], &src[0], len(src))
	case kernSM4AESNI:
		ctrSM4AESNI(&s.rk, hi, lo, &dst[0], &src[0], len(src))
	default:
		xorBlocksGeneric(s, dst, src, hi, lo)
	}
}
