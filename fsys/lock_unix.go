//go:build unix

package fsys

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive lock on the open file f without waiting:
// ErrLocked if another open of it holds one. flock locks belong to the
// open file, so a second holder in the same process is refused too, and
// the kernel drops the lock when its holder dies, SIGKILL included.
func lockFile(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return ErrLocked
	}
	return err
}
