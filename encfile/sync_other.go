//go:build !linux

package encfile

import "os"

// syncData is Sync where fdatasync is not available or not reliable.
func (f *File) syncData(osf *os.File) error { return osf.Sync() }
