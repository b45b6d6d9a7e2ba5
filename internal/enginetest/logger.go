package enginetest

import "fmt"

// QuietLogger is a Pebble logger (pebble.Options.Logger, of Pebble v1 and
// v2 alike) for the engine tests that are not about what Pebble logs: it
// keeps Pebble's informational and error lines out of the test output
// and turns a fatal error into a panic the test reports.
type QuietLogger struct{}

// Infof drops the message.
func (QuietLogger) Infof(string, ...any) {}

// Errorf drops the message.
func (QuietLogger) Errorf(string, ...any) {}

// Fatalf panics with the message.
func (QuietLogger) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
