//go:build unix

package interleave

import (
	"fmt"
	"syscall"
	"time"
)

// CPUTime returns the user and system CPU time the process has used so
// far, all threads included (getrusage(RUSAGE_SELF)).
func CPUTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
