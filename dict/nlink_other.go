//go:build !unix

package dict

import (
	"io/fs"
	"os"
)

// linkCount: hard links are not followed on this platform.
func linkCount(fs.FileInfo) uint64 { return 1 }

// sameFile is os.SameFile.
func sameFile(a, b fs.FileInfo) bool { return os.SameFile(a, b) }
