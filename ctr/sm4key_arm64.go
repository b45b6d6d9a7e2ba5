//go:build !purego

package ctr

import "github.com/klauspost/cpuid/v2"

// expandSM4KeyARMv8 is expandSM4Key with SM4EKEY (four round keys an
// instruction): key is 16 bytes, ck the 32 CK constants, fk FK0-FK3. It
// needs the ARMv8.2 SM4 instructions.
//
//go:noescape
func expandSM4KeyARMv8(key *byte, ck *[32]uint32, fk *[4]uint32, rk *[aesMaxRoundKeyBytes]byte)

// sm4CKTable holds CK_0-CK_31 for expandSM4KeyARMv8.
var sm4CKTable = func() (t [32]uint32) {
	for i := range t {
		t[i] = sm4CK(i)
	}
	return t
}()

// hasSM4Instructions is read once: the key schedule runs for every new
// Stream.
var hasSM4Instructions = cpuid.CPU.Supports(cpuid.SM4)

// expandSM4KeyFor expands an SM4 key with SM4EKEY where the CPU has it,
// else in Go; both write the same round keys, so any kernel can use them.
func expandSM4KeyFor(key []byte, rk *[aesMaxRoundKeyBytes]byte) {
	if hasSM4Instructions {
		expandSM4KeyARMv8(&key[0], &sm4CKTable, &sm4FK, rk)
		return
	}
	expandSM4Key(key, rk)
}
