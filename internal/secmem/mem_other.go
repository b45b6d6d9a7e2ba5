//go:build !(aix || darwin || dragonfly || freebsd || illumos || ios || linux || netbsd || openbsd || solaris)

package secmem

import (
	"errors"
	"fmt"
	"runtime"
)

// Without mmap, buffers are ordinary Go memory: Go's collector does not move
// objects, but nothing keeps the pages out of swap or crash dumps.

const noDumpOp = "core-dump exclusion"

var errUnsupported = fmt.Errorf("%w on %s", errors.ErrUnsupported, runtime.GOOS)

// osMapPages returns Go-allocated memory, kept reachable for ever by the
// allocator's free lists like a mapping would be.
func osMapPages(n int) ([]byte, error) { return make([]byte, n), nil }

func osLockPages([]byte) error { return errUnsupported }

func osNoDumpPages([]byte) error { return errUnsupported }

func lockDetail(err error) string {
	return "mlock: " + err.Error() + " (buffers are ordinary Go heap memory)"
}

// DisableCoreDumps is not available on this platform; it returns an error
// wrapping [errors.ErrUnsupported].
func DisableCoreDumps() error {
	return fmt.Errorf("secmem: DisableCoreDumps: %w", errUnsupported)
}
