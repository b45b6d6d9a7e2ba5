package keyenv

import (
	"encoding/binary"
	"testing"
)

// FuzzKeyringPayload drives the decoder of a keyring's decrypted payload,
// which the file fuzzer cannot reach past authentication. It must never
// panic, and what it accepts must be well formed: entries in order, keys
// inside the payload.
func FuzzKeyringPayload(f *testing.F) {
	entry := func(name string, version uint32) []byte {
		b := append([]byte{byte(len(name))}, name...)
		b = binary.BigEndian.AppendUint32(b, version)
		b = binary.BigEndian.AppendUint64(b, 1700000000)
		return append(b, make([]byte, masterKeyBytes)...)
	}
	two := append([]byte{0, 2}, append(entry("a", 1), entry("a", 2)...)...)
	f.Add(two)
	f.Add([]byte{0, 0})
	f.Add(append([]byte{0, 1}, entry("tikv", 7)...))
	f.Fuzz(func(t *testing.T, p []byte) {
		entries, err := decodeKeyringPayload(p)
		if err != nil {
			return
		}
		for i, e := range entries {
			if e.keyOff < 0 || e.keyOff+masterKeyBytes > len(p) || e.Version == 0 {
				t.Fatalf("entry %d: %+v out of bounds", i, e)
			}
			if checkKeyName(e.Name) != nil {
				t.Fatalf("entry %d: bad name %q accepted", i, e.Name)
			}
			if i > 0 {
				prev := entries[i-1]
				if prev.Name > e.Name || prev.Name == e.Name && prev.Version >= e.Version {
					t.Fatalf("entries %d and %d out of order", i-1, i)
				}
			}
		}
	})
}
