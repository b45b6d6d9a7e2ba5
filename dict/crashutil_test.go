//go:build unix

package dict

import "github.com/atrest/atrest/internal/crashtest"

// crashFailpointOptions returns the options a crash child opens its Manager
// with: a failpoint that kills the process with SIGKILL at the n-th hit of
// a named point, when the environment variable env holds "name:n" (see
// crashtest.Failpoint).
func crashFailpointOptions(env string) []Option {
	if fp := crashtest.Failpoint(env); fp != nil {
		return []Option{WithFailpoint(fp)}
	}
	return nil
}
