package enginetest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Marker is in every value: it must never be found on disk in plaintext
// under an encrypting method.
const Marker = "ATREST-ENGINE-PLAINTEXT-MARKER-41d3"

// Key is key k's bytes.
func Key(k int) []byte { return fmt.Appendf(nil, "key-%08d", k) }

// ParseKey is the number of a key made by Key.
func ParseKey(b []byte) (int, bool) {
	s, ok := bytes.CutPrefix(b, []byte("key-"))
	if !ok || len(s) != 8 {
		return 0, false
	}
	k, err := strconv.Atoi(string(s))
	return k, err == nil && k >= 0
}

// Value is the value of key k at generation gen (not 0): it says which
// (k, gen) it is and carries the Marker, then bytes derived from both;
// one in eight is a few KiB, so small memtables fill fast.
func Value(k int, gen uint64) []byte {
	r := rand.New(rand.NewPCG(gen, uint64(k)))
	n := 16 + r.IntN(200)
	if r.IntN(8) == 0 {
		n = 1500 + r.IntN(4000)
	}
	b := fmt.Appendf(make([]byte, 0, n+80), "%d/%d/%s/", k, gen, Marker)
	for len(b) < cap(b) {
		b = append(b, byte(r.Uint32()))
	}
	return b
}

// Parse says which key and generation a value claims to be and whether it
// is exactly that value.
func Parse(v []byte) (k int, gen uint64, intact bool) {
	parts := bytes.SplitN(v, []byte("/"), 3)
	if len(parts) < 3 {
		return 0, 0, false
	}
	k, err1 := strconv.Atoi(string(parts[0]))
	gen, err2 := strconv.ParseUint(string(parts[1]), 10, 64)
	if err1 != nil || err2 != nil || gen == 0 {
		return 0, 0, false
	}
	return k, gen, bytes.Equal(v, Value(k, gen))
}

// Read turns key/value pairs read back into generations: an error names a
// value that is not intact or is another key's.
func Read(kv map[int][]byte) (map[int]uint64, error) {
	out := make(map[int]uint64, len(kv))
	for k, v := range kv {
		vk, gen, intact := Parse(v)
		if !intact || vk != k {
			return nil, fmt.Errorf("key %d holds %d bytes that are no value it was given (claims key %d generation %d, intact %v)", k, len(v), vk, gen, intact)
		}
		out[k] = gen
	}
	return out, nil
}
