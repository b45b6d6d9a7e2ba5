//go:build unix

package dict

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Helpers shared by the crash tests' parents and children.

// crashFailpointOptions returns the options a crash child opens its Manager
// with: a failpoint that kills the process with SIGKILL at the n-th hit of
// a named point, when the environment variable env holds "name:n".
func crashFailpointOptions(env string) []Option {
	at := os.Getenv(env)
	if at == "" {
		return nil
	}
	name, n, _ := strings.Cut(at, ":")
	left, _ := strconv.Atoi(n)
	return []Option{WithFailpoint(func(point string) {
		if point == name {
			if left--; left <= 0 {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	})}
}

// crashKills is how many times a crash test kills its child: normal, or
// short under -short, or what the environment variable env says (make
// crash raises it).
func crashKills(env string, normal, short int) int {
	kills := normal
	if testing.Short() {
		kills = short
	}
	if s := os.Getenv(env); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	return kills
}
