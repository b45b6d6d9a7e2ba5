//go:build !purego

package ctr

import "github.com/klauspost/cpuid/v2"

// The arm64 kernels are hand-written Go assembly (avo has no arm64 back
// end): aes_arm64.s and sm4_arm64.s, each routine with its register use at
// the top.

// ctrAESARMv8 XORs n bytes of src with the AES-CTR keystream that starts at
// counter (hi, lo) into dst: AESE/AESMC, 8 blocks in flight, the round keys
// in registers for the whole call. It needs the ARMv8 AES instructions; lo
// must not wrap within the call.
//
//go:noescape
func ctrAESARMv8(rounds int, rk *[240]byte, hi uint64, lo uint64, dst *byte, src *byte, n int)

// ctrSM4ARMv8 XORs n bytes of src with the SM4-CTR keystream that starts at
// counter (hi, lo) into dst: SM4E (four rounds an instruction), 8 blocks in
// flight, the round keys (made by SM4EKEY, see sm4key_arm64.go) in
// registers for the whole call. It needs the ARMv8.2 SM4 instructions; the
// low 32 bits of lo must not wrap within the call.
//
//go:noescape
func ctrSM4ARMv8(rk *[240]byte, hi uint64, lo uint64, dst *byte, src *byte, n int)

// kernelUsable reports whether this CPU can run kernel id. cpuid reads the
// features the OS reports: HWCAP from the auxiliary vector on Linux, sysctl
// on macOS (where every Apple core has AES and none has SM4).
func kernelUsable(id kernelID) bool {
	c := &cpuid.CPU
	switch id {
	case kernCopy, kernAESGeneric, kernSM4Generic:
		return true
	case kernAESARMv8:
		return c.Supports(cpuid.AESARM)
	case kernSM4ARMv8:
		return c.Supports(cpuid.SM4)
	}
	return false
}

// xorBlocks runs the Stream's kernel over src from counter (hi, lo). src is
// not empty, dst is as long, and lo does not wrap within the call.
func xorBlocks(s *Stream, dst, src []byte, hi, lo uint64) {
	switch s.kern {
	case kernAESARMv8:
		ctrAESARMv8(s.rounds, &s.rk, hi, lo, &dst[0], &src[0], len(src))
	case kernSM4ARMv8:
		ctrSM4ARMv8(&s.rk, hi, lo, &dst[0], &src[0], len(src))
	default:
		xorBlocksGeneric(s, dst, src, hi, lo)
	}
}

// xorBlocksSkipping reports false: no kernel here starts inside a block
// (see the amd64 version).
func xorBlocksSkipping(s *Stream, dst, src []byte, hi, lo uint64, skip int) bool { return false }
