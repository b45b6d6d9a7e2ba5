//go:build unix

package fsys

// dirSyncUnsupported: on unix a failed directory fsync is a real failure.
func dirSyncUnsupported(error) bool { return false }
