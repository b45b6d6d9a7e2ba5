//go:build race

package leveldbstore

// raceEnabled says the race detector is on: it slows the engine and the
// dictionaries several times over, and the tests scale down.
const raceEnabled = true
