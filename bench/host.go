package bench

import (
	"os"
	"runtime"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/cpuclock"
	"github.com/klauspost/cpuid/v2"
)

// featureChecks are the CPU features that decide which kernels run, in the
// order Host.Features lists them.
var featureChecks = []struct {
	name string
	ids  []cpuid.FeatureID
}{
	{"AES-NI", []cpuid.FeatureID{cpuid.AESNI}},
	{"AVX2", []cpuid.FeatureID{cpuid.AVX2}},
	{"AVX-512", []cpuid.FeatureID{cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL}},
	{"VAES", []cpuid.FeatureID{cpuid.VAES}},
	{"VPCLMULQDQ", []cpuid.FeatureID{cpuid.VPCLMULQDQ}},
	{"GFNI", []cpuid.FeatureID{cpuid.GFNI}},
	{"ARMv8-AES", []cpuid.FeatureID{cpuid.AESARM}},
	{"ARMv8-SM4", []cpuid.FeatureID{cpuid.SM4}},
}

// DetectHost describes this machine: the CPU and its features (from CPUID),
// the kernel each method runs on, and the core clock, calibrated now.
func DetectHost() Host {
	h := Host{
		OS:           runtime.GOOS,
		Arch:         runtime.GOARCH,
		GoVersion:    runtime.Version(),
		CPU:          cpuid.CPU.BrandName,
		LogicalCores: runtime.NumCPU(),
		ClockHz:      cpuclock.Hz(),
		Kernels:      map[string]string{},
	}
	h.Hostname, _ = os.Hostname()
	if h.CPU == "" {
		h.CPU = "unknown"
	}
	for _, f := range featureChecks {
		if cpuid.CPU.Supports(f.ids...) {
			h.Features = append(h.Features, f.name)
		}
	}
	for _, m := range ctr.Methods {
		h.Kernels[m.String()] = ctr.KernelName(m)
	}
	return h
}
