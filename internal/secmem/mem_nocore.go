//go:build aix || darwin || ios || netbsd || solaris

package secmem

import (
	"errors"
	"fmt"
	"runtime"
)

const (
	extraMapFlags = 0
	noDumpOp      = "core-dump exclusion"
)

// errNoDumpUnsupported: these systems offer no per-mapping way (that
// x/sys exposes) to keep memory out of a core dump.
var errNoDumpUnsupported = fmt.Errorf("%w on %s", errors.ErrUnsupported, runtime.GOOS)

func osNoDumpPages([]byte) error { return errNoDumpUnsupported }

func makeUndumpable() error { return nil }
