//go:build !linux

package fsys

import "os"

// datasync is a full fsync where fdatasync(2) is not at hand.
func datasync(f *os.File) error { return f.Sync() }

// allocate does nothing where fallocate(2) is not at hand: the range is
// left to the writes that follow.
func allocate(*os.File, int64, int64) error { return nil }
