//go:build !unix

package fsys

// dirSyncUnsupported: Windows and others cannot fsync a directory; the
// rename is as durable as the OS makes it.
func dirSyncUnsupported(error) bool { return true }
