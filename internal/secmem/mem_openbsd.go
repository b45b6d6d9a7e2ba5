package secmem

import "golang.org/x/sys/unix"

// OpenBSD has no madvise for this, but a mapping made with MAP_CONCEAL is
// left out of core dumps.
const (
	extraMapFlags   = unix.MAP_CONCEAL
	noDumpOp        = "mmap(MAP_CONCEAL)"
	memlockResource = unix.RLIMIT_MEMLOCK
)

// osNoDumpPages has nothing to do: mapPages already asked for MAP_CONCEAL
// and would have failed without it.
func osNoDumpPages([]byte) error { return nil }

func makeUndumpable() error { return nil }
