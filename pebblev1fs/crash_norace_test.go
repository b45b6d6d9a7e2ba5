//go:build unix && !race

package pebblev1fs

// crashDefaultKills is the crash test's kill count.
const crashDefaultKills = 24
