//go:build darwin || ios || netbsd

package secmem

import "golang.org/x/sys/unix"

const memlockResource = unix.RLIMIT_MEMLOCK
