//go:build unix

package crashfs

import "syscall"

// statT is what Stat().Sys() returns: a *syscall.Stat_t with the fields
// callers compare files and count links by.
func statT(dev, ino, nlink uint64, size int64) any {
	st := &syscall.Stat_t{}
	setInt(&st.Dev, dev)
	setInt(&st.Ino, ino)
	setInt(&st.Nlink, nlink)
	st.Size = size
	return st
}

// setInt sets a Stat_t field whatever its integer type on this platform.
func setInt[T ~int16 | ~int32 | ~int64 | ~uint16 | ~uint32 | ~uint64](p *T, v uint64) {
	*p = T(v)
}
