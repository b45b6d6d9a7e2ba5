package fsys

import (
	"errors"
	"os"
	"syscall"
)

// datasync is fdatasync(2).
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}

// allocate is fallocate(2) in its default mode: the range gets blocks
// marked unwritten, which read as zeros whatever the blocks held before,
// even after a crash. A file system without fallocate leaves the range
// to the writes that follow.
func allocate(f *os.File, off, n int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, off, n)
		switch {
		case err == syscall.EINTR:
			continue
		case err == nil:
			return nil
		case errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOSYS):
			return nil
		}
		return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
	}
}
