//go:build !race

package leveldbstore

// raceEnabled says the race detector is on; see race_test.go.
const raceEnabled = false
