//go:build !unix

package keyenv

import (
	"io/fs"
	"os"
)

// errDirSyncUnsupported is what syncing a directory gives where the OS
// has no such operation; the rename is then as durable as the OS makes it.
var errDirSyncUnsupported = os.ErrInvalid

func inodeOf(fs.FileInfo) uint64 { return 0 }

// lockFile is not available here: keyring changes from two processes at
// once are not serialised on this platform.
func lockFile(string) (func(), error) {
	return func() {}, nil
}
