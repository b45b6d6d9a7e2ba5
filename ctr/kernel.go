package ctr

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// A kernel is one implementation of a method's keystream loop. Every kernel
// of every architecture has a row here, so a name is recognised everywhere
// and a kernel this CPU cannot run is refused as unsupported, not unknown.
type kernelID uint8

const (
	kernCopy kernelID = iota
	kernAESGeneric
	kernAESAESNI
	kernAESVAES256
	kernAESVAES512
	kernSM4Generic
	kernSM4AESNI
	kernSM4GFNI256
	kernSM4GFNI512
	kernAESARMv8
	kernSM4ARMv8
	numKernels
)

type family uint8

const (
	familyPlain family = iota
	familyAES
	familySM4
)

type kernelDesc struct {
	name   string
	family family
}

// kernelTable lists each family's kernels from the fastest to the most
// portable; dispatch picks the first one the CPU can run.
var kernelTable = [numKernels]kernelDesc{
	kernAESVAES512: {"aes-vaes512", familyAES},
	kernAESVAES256: {"aes-vaes256", familyAES},
	kernAESAESNI:   {"aes-aesni", familyAES},
	kernAESARMv8:   {"aes-armv8", familyAES},
	kernAESGeneric: {"aes-generic", familyAES},
	kernSM4GFNI512: {"sm4-gfni512", familySM4},
	kernSM4GFNI256: {"sm4-gfni256", familySM4},
	kernSM4AESNI:   {"sm4-aesni", familySM4},
	kernSM4ARMv8:   {"sm4-armv8", familySM4},
	kernSM4Generic: {"sm4-generic", familySM4},
	kernCopy:       {"copy", familyPlain},
}

// kernelPreference is the order dispatch tries kernels in.
var kernelPreference = []kernelID{
	kernAESVAES512, kernAESVAES256, kernAESAESNI, kernAESARMv8, kernAESGeneric,
	kernSM4GFNI512, kernSM4GFNI256, kernSM4AESNI, kernSM4ARMv8, kernSM4Generic,
	kernCopy,
}

func methodFamily(m Method) family {
	switch m {
	case AES128CTR, AES192CTR, AES256CTR:
		return familyAES
	case SM4CTR:
		return familySM4
	}
	return familyPlain
}

// KernelEnv is the environment variable read at program start to force
// kernels, for testing and benchmarking a lower kernel on a CPU that has a
// better one. It holds comma-separated kernel names, either whole
// ("aes-aesni") or without the family ("aesni", applied to every family that
// has such a kernel). A name that is unknown or that this CPU cannot run
// makes the program panic at start with the list of usable kernels: an
// operator who forces a kernel must not silently get another.
const KernelEnv = "ATREST_KERNEL"

// ErrUnknownKernel is returned (wrapped) by SetKernel for a name that is no
// kernel of the method's cipher.
var ErrUnknownKernel = errors.New("unknown kernel")

// ErrKernelUnsupported is returned (wrapped) by SetKernel for a kernel this
// CPU or build cannot run.
var ErrKernelUnsupported = errors.New("kernel not supported on this CPU")

// selected holds, per method, the kernel New gives a Stream.
var selected [SM4CTR + 1]atomic.Uint32

func init() {
	for _, m := range Methods {
		selected[m].Store(uint32(bestKernel(methodFamily(m))))
	}
	if env := os.Getenv(KernelEnv); env != "" {
		if err := applyKernelEnv(env); err != nil {
			panic(fmt.Sprintf("atrest/ctr: %s=%q: %v", KernelEnv, env, err))
		}
	}
}

func bestKernel(f family) kernelID {
	for _, id := range kernelPreference {
		if kernelTable[id].family == f && kernelUsable(id) {
			return id
		}
	}
	panic("ctr: no usable kernel") // unreachable: every family has a portable kernel
}

func selectedKernel(m Method) kernelID { return kernelID(selected[m].Load()) }

// KernelName returns the name of the kernel New uses for m at this moment,
// for example "aes-vaes512" or "aes-aesni", or "" for an invalid method.
func KernelName(m Method) string {
	if !m.Valid() {
		return ""
	}
	return kernelTable[selectedKernel(m)].name
}

// Kernels returns the names of the kernels this CPU and build can run for
// m, fastest first. Each can be passed to SetKernel.
func Kernels(m Method) []string {
	if !m.Valid() {
		return nil
	}
	return usableNames(methodFamily(m))
}

// SetKernel makes New use the named kernel for method m from now on;
// Streams already made keep theirs. The empty name restores the automatic
// choice. It is meant for tests and benchmarks that need a lower kernel.
func SetKernel(m Method, name string) error {
	if !m.Valid() {
		return fmt.Errorf("ctr: %w: %v", ErrUnknownMethod, m)
	}
	if name == "" {
		selected[m].Store(uint32(bestKernel(methodFamily(m))))
		return nil
	}
	id, err := findKernel(methodFamily(m), name)
	if err != nil {
		return fmt.Errorf("ctr: kernel %q for %v: %w", name, m, err)
	}
	selected[m].Store(uint32(id))
	return nil
}

func findKernel(f family, name string) (kernelID, error) {
	for id, k := range kernelTable {
		if k.family != f || k.name != name {
			continue
		}
		if !kernelUsable(kernelID(id)) {
			return 0, fmt.Errorf("%w (usable: %s)", ErrKernelUnsupported, strings.Join(usableNames(f), ", "))
		}
		return kernelID(id), nil
	}
	return 0, fmt.Errorf("%w (usable: %s)", ErrUnknownKernel, strings.Join(usableNames(f), ", "))
}

func usableNames(f family) []string {
	var names []string
	for _, id := range kernelPreference {
		if kernelTable[id].family == f && kernelUsable(id) {
			names = append(names, kernelTable[id].name)
		}
	}
	return names
}

// applyKernelEnv forces the kernels named in the KernelEnv value.
func applyKernelEnv(env string) error {
	for _, tok := range strings.Split(env, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		matched := false
		for id, k := range kernelTable {
			_, tier, _ := strings.Cut(k.name, "-")
			if k.name != tok && tier != tok {
				continue
			}
			matched = true
			if !kernelUsable(kernelID(id)) {
				return fmt.Errorf("kernel %q: %w (usable: %s)", k.name, ErrKernelUnsupported, strings.Join(usableNames(k.family), ", "))
			}
			for _, m := range Methods {
				if methodFamily(m) == k.family {
					selected[m].Store(uint32(id))
				}
			}
		}
		if !matched {
			var all []string
			for _, k := range kernelTable {
				all = append(all, k.name)
			}
			return fmt.Errorf("kernel %q: %w (known: %s)", tok, ErrUnknownKernel, strings.Join(all, ", "))
		}
	}
	return nil
}
