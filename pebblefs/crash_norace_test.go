//go:build unix && !race

package pebblefs

// crashDefaultKills is the crash test's kill count in a normal run.
const crashDefaultKills = 100
