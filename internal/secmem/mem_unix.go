//go:build aix || darwin || dragonfly || freebsd || illumos || ios || linux || netbsd || openbsd || solaris

package secmem

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

func osMapPages(n int) ([]byte, error) {
	return unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE|extraMapFlags)
}

func osLockPages(mem []byte) error {
	return unix.Mlock(mem)
}

// lockDetail describes a failed mlock, with the RLIMIT_MEMLOCK soft limit
// when the error is one a limit or missing privilege produces.
func lockDetail(err error) string {
	s := "mlock: " + err.Error()
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EAGAIN) {
		if limit, ok := memlockLimit(); ok {
			s += " (RLIMIT_MEMLOCK=" + limit + ")"
		}
	}
	return s
}

func memlockLimit() (string, bool) {
	if memlockResource < 0 {
		return "", false
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(memlockResource, &lim); err != nil {
		return "", false
	}
	if uint64(lim.Cur) == uint64(unix.RLIM_INFINITY) {
		return "unlimited", true
	}
	return strconv.FormatUint(uint64(lim.Cur), 10), true
}

// DisableCoreDumps stops the process from writing core dumps: on Linux it
// makes the process non-dumpable (prctl PR_SET_DUMPABLE 0, which also
// stops unprivileged ptrace attachment and makes /proc/self files owned by
// root), and on every unix it sets RLIMIT_CORE to 0, soft and hard, which
// cannot be raised again without privilege. It is opt-in hardening for
// programs that hold keys. Both steps are attempted; the error returned
// wraps the error of each syscall that failed.
func DisableCoreDumps() error {
	var errs []error
	if err := makeUndumpable(); err != nil {
		errs = append(errs, err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		errs = append(errs, fmt.Errorf("secmem: setrlimit(RLIMIT_CORE, 0): %w", err))
	}
	return errors.Join(errs...)
}
