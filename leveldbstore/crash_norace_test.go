//go:build unix && !race

package leveldbstore

// crashDefaultKills is the crash test's kill count.
const crashDefaultKills = 24
