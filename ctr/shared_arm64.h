// Code shared by the arm64 kernels (aes_arm64.s and sm4_arm64.s). Both
// end a batch the same way once its keystream blocks are in V0-V7 and its
// data in V8-V15, and end a call the same way once the last keystream
// block is in a vector register; only the general registers differ, so
// each sequence lives here once and each kernel names its own registers.

// XOR8_STORE(dst) XORs the data in V8-V15 into the keystream in V0-V7 and
// stores the 128 bytes at dst, advancing it.
#define XOR8_STORE(dst) \
	VEOR	V8.B16, V0.B16, V0.B16 \
	VEOR	V9.B16, V1.B16, V1.B16 \
	VEOR	V10.B16, V2.B16, V2.B16 \
	VEOR	V11.B16, V3.B16, V3.B16 \
	VEOR	V12.B16, V4.B16, V4.B16 \
	VEOR	V13.B16, V5.B16, V5.B16 \
	VEOR	V14.B16, V6.B16, V6.B16 \
	VEOR	V15.B16, V7.B16, V7.B16 \
	VST1.P	[V0.B16, V1.B16, V2.B16, V3.B16], 64(dst) \
	VST1.P	[V4.B16, V5.B16, V6.B16, V7.B16], 64(dst)

// XOR4_STORE(dst) is XOR8_STORE for four blocks: V8-V11 into V0-V3.
#define XOR4_STORE(dst) \
	VEOR	V8.B16, V0.B16, V0.B16 \
	VEOR	V9.B16, V1.B16, V1.B16 \
	VEOR	V10.B16, V2.B16, V2.B16 \
	VEOR	V11.B16, V3.B16, V3.B16 \
	VST1.P	[V0.B16, V1.B16, V2.B16, V3.B16], 64(dst)

// PARTIAL_TAIL(ks, k0, k1, src, dst, n, t, bytes, done) XORs the last n
// bytes (1 to 15) of src with the keystream block in vector register ks
// and stores them at dst. It works from the block's halves in general
// registers, a word and then bytes, so nothing is stored past dst+n or
// read past src+n: a whole-block store would overwrite the caller's memory
// after dst, and a whole-block load could fault at the end of a mapping.
//
//	ks       the keystream block (vector register, read only)
//	k0, k1   scratch: the block's low and high halves, shifted as used
//	src, dst advanced past the n bytes
//	n        the bytes left, counted down to 0
//	t        scratch: a data word or byte
//	bytes    a label the macro defines for its byte loop
//	done     the caller's label where execution goes on once n is 0
//
// The macro never falls through: it leaves only by branching to done. The
// byte loop's label is an argument because Go assembler labels belong to
// the whole TEXT block, so a label fixed in the macro would clash with a
// caller's label of the same name or with a second use of the macro.
#define PARTIAL_TAIL(ks, k0, k1, src, dst, n, t, bytes, done) \
	VMOV	ks.D[0], k0 \
	VMOV	ks.D[1], k1 \
	CMP	$8, n \
	BLT	bytes \
	MOVD.P	8(src), t \
	EOR	k0, t, t \
	MOVD.P	t, 8(dst) \
	MOVD	k1, k0 \
	SUB	$8, n \
bytes: \
	CBZ	n, done \
	MOVBU.P	1(src), t \
	EOR	k0, t, t \
	MOVB.P	t, 1(dst) \
	LSR	$8, k0, k0 \
	SUB	$1, n \
	B	bytes
