//go:build unix

package atomicfile

// dirSyncUnsupported: on unix a failed directory fsync is a real failure.
func dirSyncUnsupported(error) bool { return false }
