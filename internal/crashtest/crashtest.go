package crashtest

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// Say writes a line to standard output in one write, straight to the
// pipe: nothing buffered dies with the process, so every line the parent
// reads was written after what came before it in the child had returned.
func Say(format string, args ...any) {
	os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
}

// Die says "error" and the message, and exits with status 3: the child's
// failure, which the parent reports.
func Die(format string, args ...any) {
	Say("error "+format, args...)
	os.Exit(3)
}

// Count is how many times a crash test kills its child (or runs a round):
// normal, or short under -short, or what the environment variable env
// says (make crash raises it), which must be a positive count.
func Count(t testing.TB, env string, normal, short int) int {
	t.Helper()
	n := normal
	if testing.Short() {
		n = short
	}
	if s := os.Getenv(env); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("%s=%q: want a positive count", env, s)
		}
		n = v
	}
	return n
}

// PebbleLogger is a Pebble logger (pebble.Options.Logger) for the crash
// tests, where an error Pebble logs is a finding: it drops Infof and
// passes Errorf and Fatalf to Report (and Fatalf then panics).
type PebbleLogger struct {
	Report func(string)
}

// Infof drops the message.
func (PebbleLogger) Infof(string, ...any) {}

// Errorf reports the message.
func (l PebbleLogger) Errorf(format string, a ...any) {
	l.Report("pebble error: " + fmt.Sprintf(format, a...))
}

// Fatalf reports the message and panics with it.
func (l PebbleLogger) Fatalf(format string, a ...any) {
	msg := "pebble fatal: " + fmt.Sprintf(format, a...)
	l.Report(msg)
	panic(msg)
}
