// Hand-written (avo has no arm64 back end). See kernel_arm64.go for the
// Go declaration and the contract.

//go:build !purego

#include "textflag.h"
#include "shared_arm64.h"

// One AES round (AESE = AddRoundKey, SubBytes, ShiftRows; AESMC =
// MixColumns) on one block. AESE and AESMC on the same register stay
// adjacent so that cores which fuse the pair (Cortex-A57 onwards, Neoverse,
// Apple) issue them as one operation.
#define ROUND(k, b) \
	AESE	k.B16, b.B16 \
	AESMC	b.B16, b.B16

#define ROUND8(k) \
	ROUND(k, V0) \
	ROUND(k, V1) \
	ROUND(k, V2) \
	ROUND(k, V3) \
	ROUND(k, V4) \
	ROUND(k, V5) \
	ROUND(k, V6) \
	ROUND(k, V7)

#define ROUND4(k) \
	ROUND(k, V0) \
	ROUND(k, V1) \
	ROUND(k, V2) \
	ROUND(k, V3)

// The last-but-one key is an AESE without AESMC; the last key was folded
// into the data beforehand (see below), so one EOR finishes a block.
#define LAST8 \
	AESE	V29.B16, V0.B16 \
	AESE	V29.B16, V1.B16 \
	AESE	V29.B16, V2.B16 \
	AESE	V29.B16, V3.B16 \
	AESE	V29.B16, V4.B16 \
	AESE	V29.B16, V5.B16 \
	AESE	V29.B16, V6.B16 \
	AESE	V29.B16, V7.B16

#define LAST4 \
	AESE	V29.B16, V0.B16 \
	AESE	V29.B16, V1.B16 \
	AESE	V29.B16, V2.B16 \
	AESE	V29.B16, V3.B16

// The middle rounds shared by every key size: keys k(r-9) .. k(r-1) live
// in V20 .. V28 whatever r is.
#define MIDDLE8 \
	ROUND8(V20) \
	ROUND8(V21) \
	ROUND8(V22) \
	ROUND8(V23) \
	ROUND8(V24) \
	ROUND8(V25) \
	ROUND8(V26) \
	ROUND8(V27) \
	ROUND8(V28)

#define MIDDLE4 \
	ROUND4(V20) \
	ROUND4(V21) \
	ROUND4(V22) \
	ROUND4(V23) \
	ROUND4(V24) \
	ROUND4(V25) \
	ROUND4(V26) \
	ROUND4(V27) \
	ROUND4(V28)

#define MIDDLE1(b) \
	ROUND(V20, b) \
	ROUND(V21, b) \
	ROUND(V22, b) \
	ROUND(V23, b) \
	ROUND(V24, b) \
	ROUND(V25, b) \
	ROUND(V26, b) \
	ROUND(V27, b) \
	ROUND(V28, b)

// NEXT(b) puts the big-endian bytes of the counter in V31 into block b
// and adds the increment in V8 (0 in the high lane, 1 in the low) to V31.
#define NEXT(b) \
	VREV64	V31.B16, b.B16 \
	VADD	V8.D2, V31.D2, V31.D2

// INC sets V8 to the increment: the data registers are free until the
// blocks' data is loaded, so the increment borrows V8 rather than keep a
// register of its own (AES-256 uses all 32).
#define INC \
	VEOR	V8.B16, V8.B16, V8.B16 \
	VMOV	R9, V8.D[1]

// func ctrAESARMv8(rounds int, rk *[240]byte, hi, lo uint64, dst, src *byte, n int)
//
// Registers:
//	R0       rounds (10, 12 or 14)
//	R1       rk, then scratch while loading the keys
//	R2, R3   hi, lo (the counter; lo does not wrap within the call)
//	R4, R5   dst, src, advanced as blocks are done
//	R6       n, the bytes left
//	R7, R8   the last keystream block's halves in the partial tail
//	R9       the constant 1, for the increment
//	R10      a data word or byte in the partial tail
//	V0-V7    eight counter blocks in flight, becoming keystream
//	V8-V15   eight blocks of src, XORed with the last round key before
//	         the rounds; V8 holds the counter increment until then
//	V16-V30  round keys: k0 .. k(r) are V(30-r) .. V30, so the last nine
//	         middle keys, the final AESE key (V29) and the last key (V30)
//	         sit in the same registers for every key size
//	V31      the next counter as two native 64-bit lanes (hi, lo)
TEXT ·ctrAESARMv8(SB), NOSPLIT, $0-56
	MOVD	rounds+0(FP), R0
	MOVD	rk+8(FP), R1
	MOVD	hi+16(FP), R2
	MOVD	lo+24(FP), R3
	MOVD	dst+32(FP), R4
	MOVD	src+40(FP), R5
	MOVD	n+48(FP), R6
	MOVD	$1, R9

	// The round keys, once per call.
	CMP	$12, R0
	BLT	keys128
	BEQ	keys192
	VLD1.P	64(R1), [V16.B16, V17.B16, V18.B16, V19.B16]
	VLD1.P	64(R1), [V20.B16, V21.B16, V22.B16, V23.B16]
	VLD1.P	64(R1), [V24.B16, V25.B16, V26.B16, V27.B16]
	VLD1	(R1), [V28.B16, V29.B16, V30.B16]
	B	keysDone

keys192:
	VLD1.P	64(R1), [V18.B16, V19.B16, V20.B16, V21.B16]
	VLD1.P	64(R1), [V22.B16, V23.B16, V24.B16, V25.B16]
	VLD1.P	64(R1), [V26.B16, V27.B16, V28.B16, V29.B16]
	VLD1	(R1), [V30.B16]
	B	keysDone

keys128:
	VLD1.P	64(R1), [V20.B16, V21.B16, V22.B16, V23.B16]
	VLD1.P	64(R1), [V24.B16, V25.B16, V26.B16, V27.B16]
	VLD1	(R1), [V28.B16, V29.B16, V30.B16]

keysDone:
	VMOV	R2, V31.D[0]
	VMOV	R3, V31.D[1]

	CMP	$128, R6
	BLT	tail4

loop8:
	INC
	NEXT(V0)
	NEXT(V1)
	NEXT(V2)
	NEXT(V3)
	NEXT(V4)
	NEXT(V5)
	NEXT(V6)
	NEXT(V7)
	VLD1.P	64(R5), [V8.B16, V9.B16, V10.B16, V11.B16]
	VLD1.P	64(R5), [V12.B16, V13.B16, V14.B16, V15.B16]
	VEOR	V30.B16, V8.B16, V8.B16
	VEOR	V30.B16, V9.B16, V9.B16
	VEOR	V30.B16, V10.B16, V10.B16
	VEOR	V30.B16, V11.B16, V11.B16
	VEOR	V30.B16, V12.B16, V12.B16
	VEOR	V30.B16, V13.B16, V13.B16
	VEOR	V30.B16, V14.B16, V14.B16
	VEOR	V30.B16, V15.B16, V15.B16
	CMP	$12, R0
	BLT	enc8r128
	BEQ	enc8r192
	ROUND8(V16)
	ROUND8(V17)

enc8r192:
	ROUND8(V18)
	ROUND8(V19)

enc8r128:
	MIDDLE8
	LAST8
	XOR8_STORE(R4)
	SUB	$128, R6
	CMP	$128, R6
	BGE	loop8

tail4:
	// Fewer than eight blocks left: four at a time while there are four.
	CMP	$64, R6
	BLT	tail1
	INC
	NEXT(V0)
	NEXT(V1)
	NEXT(V2)
	NEXT(V3)
	VLD1.P	64(R5), [V8.B16, V9.B16, V10.B16, V11.B16]
	VEOR	V30.B16, V8.B16, V8.B16
	VEOR	V30.B16, V9.B16, V9.B16
	VEOR	V30.B16, V10.B16, V10.B16
	VEOR	V30.B16, V11.B16, V11.B16
	CMP	$12, R0
	BLT	enc4r128
	BEQ	enc4r192
	ROUND4(V16)
	ROUND4(V17)

enc4r192:
	ROUND4(V18)
	ROUND4(V19)

enc4r128:
	MIDDLE4
	LAST4
	XOR4_STORE(R4)
	SUB	$64, R6

tail1:
	// Then one block at a time, the last one possibly partial.
	CBZ	R6, done
	INC
	NEXT(V0)
	CMP	$12, R0
	BLT	enc1r128
	BEQ	enc1r192
	ROUND(V16, V0)
	ROUND(V17, V0)

enc1r192:
	ROUND(V18, V0)
	ROUND(V19, V0)

enc1r128:
	MIDDLE1(V0)
	AESE	V29.B16, V0.B16
	VEOR	V30.B16, V0.B16, V0.B16
	CMP	$16, R6
	BLT	partial
	VLD1.P	16(R5), [V8.B16]
	VEOR	V8.B16, V0.B16, V0.B16
	VST1.P	[V0.B16], 16(R4)
	SUB	$16, R6
	B	tail1

partial:
	// 1 to 15 bytes, from the keystream block's halves in general
	// registers (see shared_arm64.h).
	PARTIAL_TAIL(V0, R7, R8, R5, R4, R6, R10, partialBytes, done)

done:
	RET
