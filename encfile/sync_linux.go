package encfile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// syncData runs fdatasync on the descriptor. It goes through SyscallConn so
// the descriptor cannot be closed and reused while the call runs.
func (f *File) syncData(osf *os.File) error {
	rc, err := osf.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = unix.Fdatasync(int(fd))
			if !errors.Is(serr, unix.EINTR) {
				return
			}
		}
	}); err != nil {
		return f.pathError("fdatasync", err)
	}
	if serr != nil {
		return f.pathError("fdatasync", serr)
	}
	return nil
}
