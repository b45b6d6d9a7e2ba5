//go:build purego || !arm64

package ctr

// expandSM4KeyFor expands an SM4 key: in Go here (arm64 has an SM4EKEY
// version).
func expandSM4KeyFor(key []byte, rk *[aesMaxRoundKeyBytes]byte) { expandSM4Key(key, rk) }
