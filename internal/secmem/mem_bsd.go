//go:build dragonfly || freebsd

package secmem

import "golang.org/x/sys/unix"

const (
	extraMapFlags   = 0
	noDumpOp        = "madvise(MADV_NOCORE)"
	memlockResource = unix.RLIMIT_MEMLOCK
)

func osNoDumpPages(mem []byte) error {
	return unix.Madvise(mem, unix.MADV_NOCORE)
}

func makeUndumpable() error { return nil }
