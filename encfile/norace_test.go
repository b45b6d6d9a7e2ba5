//go:build !race

package encfile

const raceEnabled = false
