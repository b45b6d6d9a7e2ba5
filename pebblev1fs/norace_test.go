//go:build !race

package pebblev1fs

// raceEnabled says the race detector is on; see race_test.go.
const raceEnabled = false
