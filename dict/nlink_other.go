//go:build !unix

package dict

import "io/fs"

// linkCount: hard links are not followed on this platform.
func linkCount(fs.FileInfo) uint64 { return 1 }
