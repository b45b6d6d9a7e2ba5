//go:build !purego

package ctr

import (
	"crypto/rand"
	"os"
	"testing"
)

// TestSM4KeyScheduleARMv8 checks the SM4EKEY key schedule writes exactly
// the round keys of the portable one, for the standard's example key and
// random keys. It needs the SM4 instructions: make test-arm64 runs it on
// qemu's max CPU, which has them (ATREST_TEST_ARM64_CPU=max), where it must
// not be skipped.
func TestSM4KeyScheduleARMv8(t *testing.T) {
	if !hasSM4Instructions {
		if os.Getenv("ATREST_TEST_ARM64_CPU") == "max" {
			t.Fatal("qemu's max CPU should report the SM4 instructions")
		}
		t.Skip("this CPU has no SM4 instructions; the portable key schedule is used")
	}
	keys := [][]byte{{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}, make([]byte, 16)}
	for range 200 {
		k := make([]byte, 16)
		rand.Read(k)
		keys = append(keys, k)
	}
	for _, k := range keys {
		var want, got [aesMaxRoundKeyBytes]byte
		expandSM4Key(k, &want)
		expandSM4KeyARMv8(&k[0], &sm4CKTable, &sm4FK, &got)
		if got != want {
			t.Fatalf("key %x: SM4EKEY schedule\n%x\nwant\n%x", k, got[:128], want[:128])
		}
	}
	// The standard's example: rk31 of key 0123456789abcdeffedcba9876543210.
	var rk [aesMaxRoundKeyBytes]byte
	expandSM4KeyFor(keys[0], &rk)
	if got := sm4RoundKey(&rk, 31); got != 0x9124a012 {
		t.Errorf("rk31 = %08x, want 9124a012", got)
	}
}
