#include "textflag.h"

// func addChain(n uint64)
// AX accumulates; BX holds the addend. Each ADDQ reads the AX the previous
// one wrote, so they cannot overlap. Register-register adds are used because
// some cores eliminate add-immediate chains at rename.
TEXT ·addChain(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	XORQ AX, AX
	MOVQ $1, BX
loop:
#define ADD8 ADDQ BX, AX; ADDQ BX, AX; ADDQ BX, AX; ADDQ BX, AX; ADDQ BX, AX; ADDQ BX, AX; ADDQ BX, AX; ADDQ BX, AX
	ADD8
	ADD8
	ADD8
	ADD8
	ADD8
	ADD8
	ADD8
	ADD8
	DECQ CX
	JNZ  loop
	RET
