//go:build aix || solaris

package secmem

// No RLIMIT_MEMLOCK here (locking is governed by privileges), so mlock
// failures are reported without a limit.
const memlockResource = -1
