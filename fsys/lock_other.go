//go:build !unix && !windows

package fsys

import "os"

// lockFile does nothing where the platform has no advisory file lock
// (js, wasip1, plan9): two Managers on one directory are not detected
// there.
func lockFile(*os.File) error { return nil }
