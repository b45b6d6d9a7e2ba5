package interleave

import "errors"

// ErrNoCPUTime is returned by CPUTime where the process's CPU time cannot
// be read.
var ErrNoCPUTime = errors.New("process CPU time not available on this system")

// ErrNoOps is returned (wrapped) by Run for a slice that did nothing,
// whose time per operation would be a division by zero.
var ErrNoOps = errors.New("slice did no operations")
