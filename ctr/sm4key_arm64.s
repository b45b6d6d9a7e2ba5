// Hand-written (avo has no arm64 back end). See sm4key_arm64.go.

//go:build !purego

#include "textflag.h"

// SM4EKEY Vd.4S, Vn.4S, Vm.4S (FEAT_SM4): the next four round keys from
// the four key words before them (Vn, lane 0 the oldest) and four CK
// constants (Vm). No mnemonic in the Go assembler, so encoded by hand:
// 0xce60c800 | m<<16 | n<<5 | d.
#define SM4EKEY(d, n, m) WORD $(0xce60c800 | ((m) << 16) | ((n) << 5) | (d))

// func expandSM4KeyARMv8(key *byte, ck *[32]uint32, fk *[4]uint32, rk *[240]byte)
//
// Registers: V0 the key words K0-K3 (key XOR FK), V1 FK, V16-V23 the 32 CK
// constants four to a register, V24-V31 the round keys rk0-rk31 as they are
// made (each SM4EKEY takes the four words before it). The round keys are
// stored as little-endian 32-bit words, the layout every kernel reads.
TEXT ·expandSM4KeyARMv8(SB), NOSPLIT, $0-32
	MOVD	key+0(FP), R0
	MOVD	ck+8(FP), R1
	MOVD	fk+16(FP), R2
	MOVD	rk+24(FP), R3

	// The key is four big-endian words; in a lane a word is a number.
	VLD1	(R0), [V0.B16]
	VREV32	V0.B16, V0.B16
	VLD1	(R2), [V1.S4]
	VEOR	V1.B16, V0.B16, V0.B16

	VLD1.P	64(R1), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1	(R1), [V20.S4, V21.S4, V22.S4, V23.S4]

	SM4EKEY(24, 0, 16)
	SM4EKEY(25, 24, 17)
	SM4EKEY(26, 25, 18)
	SM4EKEY(27, 26, 19)
	SM4EKEY(28, 27, 20)
	SM4EKEY(29, 28, 21)
	SM4EKEY(30, 29, 22)
	SM4EKEY(31, 30, 23)

	VST1.P	[V24.S4, V25.S4, V26.S4, V27.S4], 64(R3)
	VST1	[V28.S4, V29.S4, V30.S4, V31.S4], (R3)

	// Leave no key material in the vector registers.
	VEOR	V0.B16, V0.B16, V0.B16
	VEOR	V24.B16, V24.B16, V24.B16
	VEOR	V25.B16, V25.B16, V25.B16
	VEOR	V26.B16, V26.B16, V26.B16
	VEOR	V27.B16, V27.B16, V27.B16
	VEOR	V28.B16, V28.B16, V28.B16
	VEOR	V29.B16, V29.B16, V29.B16
	VEOR	V30.B16, V30.B16, V30.B16
	VEOR	V31.B16, V31.B16, V31.B16
	RET
