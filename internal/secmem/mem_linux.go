package secmem

import (
	"fmt"

	"golang.org/x/sys/unix"
)

const (
	extraMapFlags   = 0
	noDumpOp        = "madvise(MADV_DONTDUMP)"
	memlockResource = unix.RLIMIT_MEMLOCK
)

func osNoDumpPages(mem []byte) error {
	return unix.Madvise(mem, unix.MADV_DONTDUMP)
}

func makeUndumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("secmem: prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}
