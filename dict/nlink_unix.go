//go:build unix

package dict

import (
	"io/fs"
	"os"
	"syscall"
)

// linkCount is how many names the file has.
func linkCount(st fs.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Nlink)
	}
	return 1
}

// sameFile reports whether two descriptions are of one file. Unlike
// os.SameFile it accepts any FileInfo whose Sys is a Stat_t, such as the
// wrappers an engine's file-system layer returns.
func sameFile(a, b fs.FileInfo) bool {
	sa, okA := a.Sys().(*syscall.Stat_t)
	sb, okB := b.Sys().(*syscall.Stat_t)
	if !okA || !okB {
		return os.SameFile(a, b)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
