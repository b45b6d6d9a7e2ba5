//go:build race

package pebblev1fs

// raceEnabled says the race detector is on: it slows the engine and the
// dictionaries several times over, and the tests scale down.
const raceEnabled = true
