//go:build !linux

package encfile

// syncData is Sync where fdatasync is not available or not reliable.
func (f *File) syncData() error { return f.f.Sync() }
