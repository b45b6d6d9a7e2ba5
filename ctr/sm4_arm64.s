// Hand-written (avo has no arm64 back end). See kernel_arm64.go for the
// Go declaration and the contract.

//go:build !purego

#include "textflag.h"
#include "shared_arm64.h"

// SM4E Vd.4S, Vn.4S (FEAT_SM4): four SM4 rounds on the state words in Vd
// (lane 0 the oldest) with the four round keys in Vn. The Go assembler has
// no mnemonic for it, so it is encoded by hand: 0xcec08400 | n<<5 | d.
#define SM4E(n, d) WORD $(0xcec08400 | ((n) << 5) | (d))

// Four rounds on eight blocks (V0-V7) with the round keys in register k.
#define ROUNDS8(k) \
	SM4E(k, 0) \
	SM4E(k, 1) \
	SM4E(k, 2) \
	SM4E(k, 3) \
	SM4E(k, 4) \
	SM4E(k, 5) \
	SM4E(k, 6) \
	SM4E(k, 7)

#define ROUNDS4(k) \
	SM4E(k, 0) \
	SM4E(k, 1) \
	SM4E(k, 2) \
	SM4E(k, 3)

// All 32 rounds: round keys rk0-rk31 are in V24-V31, four to a register.
#define ENCRYPT8 \
	ROUNDS8(24) \
	ROUNDS8(25) \
	ROUNDS8(26) \
	ROUNDS8(27) \
	ROUNDS8(28) \
	ROUNDS8(29) \
	ROUNDS8(30) \
	ROUNDS8(31)

#define ENCRYPT4 \
	ROUNDS4(24) \
	ROUNDS4(25) \
	ROUNDS4(26) \
	ROUNDS4(27) \
	ROUNDS4(28) \
	ROUNDS4(29) \
	ROUNDS4(30) \
	ROUNDS4(31)

#define ENCRYPT1 \
	SM4E(24, 0) \
	SM4E(25, 0) \
	SM4E(26, 0) \
	SM4E(27, 0) \
	SM4E(28, 0) \
	SM4E(29, 0) \
	SM4E(30, 0) \
	SM4E(31, 0)

// After 32 rounds a block holds the native words X32..X35 in lanes 0..3;
// the ciphertext is X35..X32 as big-endian words, which is the register's
// 16 bytes in reverse order: one TBL with the index vector in V18.
#define OUT(b) \
	VTBL	V18.B16, [b.B16], b.B16

// Bytes 15, 14, ..., 0: the TBL index that reverses a register.
DATA sm4Reverse<>+0x00(SB)/8, $0x08090a0b0c0d0e0f
DATA sm4Reverse<>+0x08(SB)/8, $0x0001020304050607
GLOBL sm4Reverse<>(SB), (NOPTR+RODATA), $16

// func ctrSM4ARMv8(rk *[240]byte, hi, lo uint64, dst, src *byte, n int)
//
// Registers:
//	R0       rk (32 little-endian round-key words), then the index address
//	R1, R2   hi, lo (the counter; the low 32 bits of lo do not wrap
//	         within the call: the kernel adds to the last word only)
//	R3, R4   dst, src, advanced as blocks are done
//	R5       n, the bytes left
//	R6, R7   the last keystream block's halves in the partial tail
//	R8       scratch: the counter halves, a data word or byte
//	V0-V7    eight counter blocks in flight, as native 32-bit words
//	         (lane 0 the first word), becoming keystream
//	V8-V15   eight blocks of src
//	V16      the next counter in the same native-word form
//	V17      the increment: 1 in lane 3, 0 elsewhere
//	V18      the byte-reversal index for TBL
//	V24-V31  the round keys rk0-rk31, four to a register
TEXT ·ctrSM4ARMv8(SB), NOSPLIT, $0-48
	MOVD	rk+0(FP), R0
	MOVD	hi+8(FP), R1
	MOVD	lo+16(FP), R2
	MOVD	dst+24(FP), R3
	MOVD	src+32(FP), R4
	MOVD	n+40(FP), R5

	// The round keys, once per call.
	VLD1.P	64(R0), [V24.S4, V25.S4, V26.S4, V27.S4]
	VLD1	(R0), [V28.S4, V29.S4, V30.S4, V31.S4]
	MOVD	$sm4Reverse<>(SB), R0
	VLD1	(R0), [V18.B16]

	// The counter's big-endian words c0..c3 as lanes 0..3: each 64-bit
	// half of it, rotated by 32, is one D lane.
	ROR	$32, R1, R8
	VMOV	R8, V16.D[0]
	ROR	$32, R2, R8
	VMOV	R8, V16.D[1]
	VEOR	V17.B16, V17.B16, V17.B16
	MOVD	$0x100000000, R8
	VMOV	R8, V17.D[1]

	CMP	$128, R5
	BLT	tail4

loop8:
	VMOV	V16.B16, V0.B16
	VADD	V17.S4, V0.S4, V1.S4
	VADD	V17.S4, V1.S4, V2.S4
	VADD	V17.S4, V2.S4, V3.S4
	VADD	V17.S4, V3.S4, V4.S4
	VADD	V17.S4, V4.S4, V5.S4
	VADD	V17.S4, V5.S4, V6.S4
	VADD	V17.S4, V6.S4, V7.S4
	VADD	V17.S4, V7.S4, V16.S4
	VLD1.P	64(R4), [V8.B16, V9.B16, V10.B16, V11.B16]
	VLD1.P	64(R4), [V12.B16, V13.B16, V14.B16, V15.B16]
	ENCRYPT8
	OUT(V0)
	OUT(V1)
	OUT(V2)
	OUT(V3)
	OUT(V4)
	OUT(V5)
	OUT(V6)
	OUT(V7)
	XOR8_STORE(R3)
	SUB	$128, R5
	CMP	$128, R5
	BGE	loop8

tail4:
	// Fewer than eight blocks left: four at a time while there are four.
	CMP	$64, R5
	BLT	tail1
	VMOV	V16.B16, V0.B16
	VADD	V17.S4, V0.S4, V1.S4
	VADD	V17.S4, V1.S4, V2.S4
	VADD	V17.S4, V2.S4, V3.S4
	VADD	V17.S4, V3.S4, V16.S4
	VLD1.P	64(R4), [V8.B16, V9.B16, V10.B16, V11.B16]
	ENCRYPT4
	OUT(V0)
	OUT(V1)
	OUT(V2)
	OUT(V3)
	XOR4_STORE(R3)
	SUB	$64, R5

tail1:
	// Then one block at a time, the last one possibly partial.
	CBZ	R5, done
	VMOV	V16.B16, V0.B16
	VADD	V17.S4, V16.S4, V16.S4
	ENCRYPT1
	OUT(V0)
	CMP	$16, R5
	BLT	partial
	VLD1.P	16(R4), [V8.B16]
	VEOR	V8.B16, V0.B16, V0.B16
	VST1.P	[V0.B16], 16(R3)
	SUB	$16, R5
	B	tail1

partial:
	// 1 to 15 bytes, from the keystream block's halves in general
	// registers (see shared_arm64.h).
	PARTIAL_TAIL(V0, R6, R7, R4, R3, R5, R8, partialBytes, done)

done:
	RET
