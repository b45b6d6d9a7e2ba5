package ctr

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParseMethod(t *testing.T) {
	tests := []struct {
		in      string
		want    Method
		keySize int
	}{
		{"plaintext", Plaintext, 0},
		{"aes128-ctr", AES128CTR, 16},
		{"aes192-ctr", AES192CTR, 24},
		{"aes256-ctr", AES256CTR, 32},
		{"sm4-ctr", SM4CTR, 16},
		{" AES128-CTR ", AES128CTR, 16},
	}
	for _, tc := range tests {
		m, err := ParseMethod(tc.in)
		if err != nil || m != tc.want {
			t.Errorf("ParseMethod(%q) = %v, %v; want %v", tc.in, m, err, tc.want)
			continue
		}
		if got := m.KeySize(); got != tc.keySize {
			t.Errorf("%v.KeySize() = %d, want %d", m, got, tc.keySize)
		}
		if back, err := ParseMethod(m.String()); err != nil || back != m {
			t.Errorf("ParseMethod(%v.String()) = %v, %v", m, back, err)
		}
	}
}

func TestParseMethodRejectsUnknownNames(t *testing.T) {
	for _, in := range []string{"", "aes", "aes-128-ctr", "aes128-gcm", "sm4", "rot13"} {
		_, err := ParseMethod(in)
		if !errors.Is(err, ErrUnknownMethod) {
			t.Errorf("ParseMethod(%q) error = %v, want ErrUnknownMethod", in, err)
			continue
		}
		for _, m := range Methods {
			if !strings.Contains(err.Error(), m.String()) {
				t.Errorf("ParseMethod(%q) error %q does not list %q", in, err, m)
			}
		}
	}
}

func TestInvalidMethodValue(t *testing.T) {
	for _, m := range []Method{0, SM4CTR + 1, 255} {
		if m.Valid() || m.KeySize() != 0 || KernelName(m) != "" || Kernels(m) != nil {
			t.Errorf("Method(%d) treated as valid", m)
		}
		if !strings.HasPrefix(m.String(), "Method(") {
			t.Errorf("Method(%d).String() = %q", m, m.String())
		}
		if _, err := New(m, nil, nil); !errors.Is(err, ErrUnknownMethod) {
			t.Errorf("New(Method(%d)) error = %v, want ErrUnknownMethod", m, err)
		}
		if err := SetKernel(m, ""); !errors.Is(err, ErrUnknownMethod) {
			t.Errorf("SetKernel(Method(%d)) error = %v, want ErrUnknownMethod", m, err)
		}
	}
}

func TestNewRejectsBadLengths(t *testing.T) {
	tests := []struct {
		m       Method
		key, iv int
		want    error
	}{
		{AES128CTR, 15, 16, ErrKeySize},
		{AES128CTR, 32, 16, ErrKeySize},
		{AES192CTR, 16, 16, ErrKeySize},
		{AES256CTR, 0, 16, ErrKeySize},
		{AES128CTR, 16, 0, ErrIVSize},
		{AES256CTR, 32, 12, ErrIVSize},
		{AES192CTR, 24, 17, ErrIVSize},
		{Plaintext, 16, 16, ErrKeySize},
		{Plaintext, 0, 8, ErrIVSize},
	}
	for _, tc := range tests {
		_, err := New(tc.m, make([]byte, tc.key), make([]byte, tc.iv))
		if !errors.Is(err, tc.want) {
			t.Errorf("New(%v, %d-byte key, %d-byte IV) error = %v, want %v", tc.m, tc.key, tc.iv, err, tc.want)
		}
	}
	for _, iv := range []int{0, 16} {
		if _, err := New(Plaintext, nil, make([]byte, iv)); err != nil {
			t.Errorf("New(plaintext, %d-byte IV): %v", iv, err)
		}
	}
}

func TestNewCopiesTheKey(t *testing.T) {
	key, iv := randomBytes(t, 16), randomBytes(t, IVSize)
	keep := append([]byte(nil), key...)
	s, err := New(AES128CTR, key, iv)
	if err != nil {
		t.Fatal(err)
	}
	clear(key)
	src := randomBytes(t, 64)
	got := make([]byte, 64)
	s.XORKeyStreamAt(got, src, 0)
	if want := referenceXOR(t, AES128CTR, keep, iv, 0, src); !bytes.Equal(got, want) {
		t.Fatal("clearing the caller's key changed the Stream")
	}
}

func TestPlaintextCopies(t *testing.T) {
	s, err := New(Plaintext, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Kernel() != "copy" || KernelName(Plaintext) != "copy" {
		t.Fatalf("plaintext kernel %q", s.Kernel())
	}
	src := randomBytes(t, 1<<20)
	dst := make([]byte, len(src))
	s.XORKeyStreamAt(dst, src, 12345)
	if !bytes.Equal(dst, src) {
		t.Fatal("plaintext did not copy")
	}
	s.XORKeyStreamAt(dst, dst, 7)
	if !bytes.Equal(dst, src) {
		t.Fatal("plaintext in place changed the data")
	}
}

func TestBufferMisusePanics(t *testing.T) {
	s, err := New(AES128CTR, make([]byte, 16), make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	tests := []struct {
		name     string
		f        func()
		contains string
	}{
		{"short dst", func() { s.XORKeyStreamAt(buf[:10], buf[:11], 0) }, "output smaller than input"},
		{"dst ahead of src", func() { s.XORKeyStreamAt(buf[1:50], buf[:49], 0) }, "overlap"},
		{"src ahead of dst", func() { s.XORKeyStreamAt(buf[:49], buf[1:50], 0) }, "overlap"},
	}
	for _, tc := range tests {
		func() {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, tc.contains) {
					t.Errorf("%s: panic %v, want one containing %q", tc.name, r, tc.contains)
				}
			}()
			tc.f()
		}()
	}
	// A longer dst is fine: only len(src) bytes are written.
	dst := bytes.Repeat([]byte{0xee}, 20)
	s.XORKeyStreamAt(dst, make([]byte, 10), 0)
	if !bytes.Equal(dst[10:], bytes.Repeat([]byte{0xee}, 10)) {
		t.Fatal("bytes of dst past len(src) were written")
	}
}

func TestSetKernel(t *testing.T) {
	// Leave the kernels as found: ATREST_KERNEL may have forced some for
	// the whole test binary.
	was := map[Method]string{}
	for _, m := range Methods {
		was[m] = KernelName(m)
	}
	defer func() {
		for _, m := range Methods {
			if err := SetKernel(m, was[m]); err != nil {
				t.Fatal(err)
			}
		}
	}()
	if err := SetKernel(AES128CTR, ""); err != nil {
		t.Fatal(err)
	}
	if best, want := KernelName(AES128CTR), Kernels(AES128CTR)[0]; best != want {
		t.Fatalf("automatic kernel %q, want the fastest usable %q", best, want)
	}
	if env := os.Getenv(KernelEnv); env == "" && was[AES128CTR] != Kernels(AES128CTR)[0] {
		t.Fatalf("default kernel %q without %s, want the fastest usable %q", was[AES128CTR], KernelEnv, Kernels(AES128CTR)[0])
	}
	for id, k := range kernelTable {
		for _, m := range Methods {
			err := SetKernel(m, k.name)
			switch {
			case k.family != methodFamily(m):
				if !errors.Is(err, ErrUnknownKernel) {
					t.Errorf("SetKernel(%v, %q) = %v, want ErrUnknownKernel", m, k.name, err)
				}
			case !kernelUsable(kernelID(id)):
				if !errors.Is(err, ErrKernelUnsupported) {
					t.Errorf("SetKernel(%v, %q) = %v, want ErrKernelUnsupported", m, k.name, err)
				}
			default:
				if err != nil {
					t.Fatalf("SetKernel(%v, %q): %v", m, k.name, err)
				}
				if KernelName(m) != k.name {
					t.Errorf("after SetKernel(%v, %q), KernelName = %q", m, k.name, KernelName(m))
				}
				s, err := New(m, make([]byte, m.KeySize()), make([]byte, IVSize))
				if err != nil {
					t.Fatal(err)
				}
				if s.Kernel() != k.name {
					t.Errorf("New after SetKernel(%v, %q) runs on %q", m, k.name, s.Kernel())
				}
			}
		}
	}
	err := SetKernel(AES128CTR, "aes-nonesuch")
	if !errors.Is(err, ErrUnknownKernel) || !strings.Contains(err.Error(), "aes-generic") {
		t.Errorf("unknown kernel error %v should wrap ErrUnknownKernel and list the usable ones", err)
	}
	if err := SetKernel(AES128CTR, ""); err != nil || KernelName(AES128CTR) != Kernels(AES128CTR)[0] {
		t.Errorf("SetKernel(\"\") gave %q, %v; want %q back", KernelName(AES128CTR), err, Kernels(AES128CTR)[0])
	}
}

func TestKernelEnvParsing(t *testing.T) {
	was := map[Method]string{}
	for _, m := range Methods {
		was[m] = KernelName(m)
	}
	defer func() {
		for _, m := range Methods {
			_ = SetKernel(m, was[m])
		}
	}()
	if err := applyKernelEnv("generic"); err != nil {
		t.Fatal(err)
	}
	for _, m := range cipherMethods {
		if want := kernelTable[bestKernelNamed(m, "generic")].name; KernelName(m) != want {
			t.Errorf("tier name \"generic\" left %v on %q, want %q", m, KernelName(m), want)
		}
	}
	if err := applyKernelEnv(" aes-generic , copy "); err != nil {
		t.Fatal(err)
	}
	if err := applyKernelEnv("aes-bogus"); !errors.Is(err, ErrUnknownKernel) {
		t.Errorf("bogus kernel: %v, want ErrUnknownKernel", err)
	}
	for id, k := range kernelTable {
		if !kernelUsable(kernelID(id)) {
			if err := applyKernelEnv(k.name); !errors.Is(err, ErrKernelUnsupported) {
				t.Errorf("%s: %v, want ErrKernelUnsupported", k.name, err)
			}
		}
	}
}

// bestKernelNamed returns the kernel of m's family whose name ends in tier.
func bestKernelNamed(m Method, tier string) kernelID {
	for id, k := range kernelTable {
		if k.family == methodFamily(m) && strings.HasSuffix(k.name, "-"+tier) {
			return kernelID(id)
		}
	}
	return 0
}

// The environment variable is read at start: run this test binary again
// with it set and look at what the child reports.
func TestKernelEnvInChildProcess(t *testing.T) {
	if os.Getenv("ATREST_TEST_CHILD") == "1" {
		os.Stdout.WriteString("kernel=" + KernelName(AES256CTR) + "\n")
		os.Exit(0)
	}
	for _, name := range Kernels(AES256CTR) {
		out, err := runChild(t, name)
		if err != nil {
			t.Fatalf("%s=%s: %v\n%s", KernelEnv, name, err, out)
		}
		if !strings.Contains(out, "kernel="+name+"\n") {
			t.Errorf("%s=%s: child reported %q", KernelEnv, name, out)
		}
	}
	out, err := runChild(t, "aes-typo")
	if err == nil || !strings.Contains(out, "aes-typo") || !strings.Contains(out, "unknown kernel") {
		t.Errorf("%s=aes-typo: err %v, output %q; want a panic naming the kernel", KernelEnv, err, out)
	}
}

func runChild(t *testing.T, kernel string) (string, error) {
	t.Helper()
	args := []string{os.Args[0], "-test.run=^TestKernelEnvInChildProcess$"}
	// Under emulation (make test-arm64) the test binary is not native: run
	// the child through the same emulator as the parent.
	if emu := strings.Fields(os.Getenv(testExecEnv)); len(emu) > 0 {
		args = append(emu, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "ATREST_TEST_CHILD=1", KernelEnv+"="+kernel)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
