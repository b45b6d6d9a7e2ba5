//go:build race

package pebblefs

// raceEnabled says the race detector is on: it slows Pebble and the
// dictionaries several times over, and the randomized tests scale down.
const raceEnabled = true
