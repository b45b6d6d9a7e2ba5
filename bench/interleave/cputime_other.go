//go:build !unix

package interleave

import "time"

// CPUTime returns ErrNoCPUTime: this system has no getrusage.
func CPUTime() (time.Duration, error) { return 0, ErrNoCPUTime }
