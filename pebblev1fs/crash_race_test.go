//go:build unix && race

package pebblev1fs

// crashDefaultKills is the crash test's kill count under the race
// detector, which slows child and parent several times over.
const crashDefaultKills = 8
