//go:build !unix

package keyenv

import (
	"io/fs"
)

func inodeOf(fs.FileInfo) uint64 { return 0 }

// lockFile is not available here: keyring changes from two processes at
// once are not serialised on this platform.
func lockFile(string) (func(), error) {
	return func() {}, nil
}
