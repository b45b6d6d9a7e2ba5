//go:build !purego

package ctr

import (
	"os"
	"slices"
	"testing"

	"github.com/klauspost/cpuid/v2"
)

// arm64CPUEnv names the CPU model the emulator runs the tests on (make
// test-arm64 sets it); when set, the kernels dispatch picks are checked
// against what that model has, not only against what cpuid reports.
const arm64CPUEnv = "ATREST_TEST_ARM64_CPU"

// TestARM64Dispatch checks that dispatch follows the CPU features: the
// ARMv8 kernels where the instructions are, the portable ones where not.
func TestARM64Dispatch(t *testing.T) {
	if os.Getenv(KernelEnv) != "" {
		t.Skipf("%s is set", KernelEnv)
	}
	want := map[Method]string{AES128CTR: "aes-generic", AES192CTR: "aes-generic", AES256CTR: "aes-generic", SM4CTR: "sm4-generic"}
	if cpuid.CPU.Supports(cpuid.AESARM) {
		want[AES128CTR], want[AES192CTR], want[AES256CTR] = "aes-armv8", "aes-armv8", "aes-armv8"
	}
	if cpuid.CPU.Supports(cpuid.SM4) {
		want[SM4CTR] = "sm4-armv8"
	}
	switch model := os.Getenv(arm64CPUEnv); model {
	case "":
		t.Logf("%s not set: checking against the reported features only", arm64CPUEnv)
	case "max":
		// QEMU's max has every instruction it emulates, AES and SM4 among them.
		if want[AES128CTR] != "aes-armv8" || want[SM4CTR] != "sm4-armv8" {
			t.Fatalf("CPU model %q: cpuid reports AES %v, SM4 %v; want both", model, cpuid.CPU.Supports(cpuid.AESARM), cpuid.CPU.Supports(cpuid.SM4))
		}
	case "cortex-a57":
		// ARMv8.0 with the crypto extension: AES but no SM4.
		if want[AES128CTR] != "aes-armv8" || want[SM4CTR] != "sm4-generic" {
			t.Fatalf("CPU model %q: cpuid reports AES %v, SM4 %v; want AES only", model, cpuid.CPU.Supports(cpuid.AESARM), cpuid.CPU.Supports(cpuid.SM4))
		}
	default:
		t.Fatalf("%s=%q: no expectation for this CPU model", arm64CPUEnv, model)
	}
	for m, name := range want {
		if got := KernelName(m); got != name {
			t.Errorf("KernelName(%v) = %q, want %q", m, got, name)
		}
		if ks := Kernels(m); len(ks) == 0 || ks[0] != name {
			t.Errorf("Kernels(%v) = %q, want %q first", m, ks, name)
		}
	}
	sm4 := Kernels(SM4CTR)
	if has := slices.Contains(sm4, "sm4-armv8"); has != cpuid.CPU.Supports(cpuid.SM4) {
		t.Errorf("Kernels(sm4-ctr) = %q with SM4 %v", sm4, cpuid.CPU.Supports(cpuid.SM4))
	}
	if !slices.Contains(sm4, "sm4-generic") {
		t.Errorf("Kernels(sm4-ctr) = %q lacks the portable kernel", sm4)
	}
}
