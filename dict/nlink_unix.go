//go:build unix

package dict

import (
	"io/fs"
	"syscall"
)

// linkCount is how many names the file has.
func linkCount(st fs.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Nlink)
	}
	return 1
}
