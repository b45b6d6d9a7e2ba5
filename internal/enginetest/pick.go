package enginetest

import (
	"math/rand/v2"
	"slices"
)

// PickWrites picks the writes of a batch: n distinct keys from pickKey,
// each deleted (Gen 0) one time in delEvery and otherwise given a fresh
// odd generation from r, sorted by key (an SSTable needs them sorted).
func PickWrites(r *rand.Rand, n, delEvery int, pickKey func() int) []Write {
	seen := map[int]bool{}
	var ws []Write
	for len(ws) < n {
		k := pickKey()
		if seen[k] {
			continue
		}
		seen[k] = true
		w := Write{K: k, Gen: r.Uint64() | 1}
		if r.IntN(delEvery) == 0 {
			w.Gen = 0
		}
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(a, b Write) int { return a.K - b.K })
	return ws
}
