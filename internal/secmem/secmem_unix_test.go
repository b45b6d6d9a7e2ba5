//go:build aix || darwin || dragonfly || freebsd || illumos || ios || linux || netbsd || openbsd || solaris

package secmem

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSimulatedEPERM: with mlock refused, allocation still works, Status
// says why, and the warner hears about it exactly once.
func TestSimulatedEPERM(t *testing.T) {
	simulate(t, unix.EPERM)
	var msgs []string
	SetWarner(func(msg string) { msgs = append(msgs, msg) })

	a := new(allocator)
	var bufs []*Buffer
	for i := range 500 {
		n := []int{16, 32, 100, 2048, 3000, 70000}[i%6]
		b := mustNew(t, a, n)
		fill(b.Bytes(), i)
		bufs = append(bufs, b)
	}
	for i, b := range bufs {
		if j := firstMismatch(b.Bytes(), i); j >= 0 {
			t.Fatalf("buffer %d changed at byte %d", i, j)
		}
		b.Release()
	}

	p := Status()
	t.Logf("Status() = %+v", p)
	if p.Locked || !strings.Contains(p.Detail, "mlock: "+unix.EPERM.Error()) {
		t.Errorf("Status() = %+v, want Locked false and the mlock error in Detail", p)
	}
	if memlockResource >= 0 && !strings.Contains(p.Detail, "(RLIMIT_MEMLOCK=") {
		t.Errorf("Detail %q does not give RLIMIT_MEMLOCK", p.Detail)
	}
	if len(msgs) != 1 {
		t.Fatalf("warner called %d times, want once: %q", len(msgs), msgs)
	}
	if !strings.Contains(msgs[0], p.Detail) {
		t.Errorf("warning %q does not carry the detail %q", msgs[0], p.Detail)
	}
}

// dumpableProbe reads the process's dumpable flag where there is one.
var dumpableProbe func() (int, error)

const coreHelperEnv = "SECMEM_TEST_DISABLE_CORE_DUMPS"

// TestDisableCoreDumps runs DisableCoreDumps in a child process (this test
// binary again, selected by an environment variable) so the test process
// itself keeps its limits, and checks what the child reports.
func TestDisableCoreDumps(t *testing.T) {
	if os.Getenv(coreHelperEnv) == "1" {
		disableCoreDumpsChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDisableCoreDumps$", "-test.count=1")
	cmd.Env = append(os.Environ(), coreHelperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var report string
	for line := range strings.Lines(string(out)) {
		if s, ok := strings.CutPrefix(line, "secmem-child: "); ok {
			report = strings.TrimSpace(s)
		}
	}
	t.Logf("child reports: %s", report)
	want := "err=<nil> core=0/0"
	if dumpableProbe != nil {
		want += " dumpable=0"
	}
	if report != want {
		t.Errorf("child reports %q, want %q\nfull output:\n%s", report, want, out)
	}
}

func disableCoreDumpsChild() {
	err := DisableCoreDumps()
	report := fmt.Sprintf("err=%v", err)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &lim); err != nil {
		report += " core=" + err.Error()
	} else {
		report += fmt.Sprintf(" core=%d/%d", lim.Cur, lim.Max)
	}
	if dumpableProbe != nil {
		d, err := dumpableProbe()
		if err != nil {
			report += " dumpable=" + err.Error()
		} else {
			report += fmt.Sprintf(" dumpable=%d", d)
		}
	}
	fmt.Println("secmem-child: " + report)
}
