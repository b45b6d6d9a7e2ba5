package keyenv

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
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

// FuzzParseSealedBlob drives the sealed-blob parser over both format
// versions. It must never panic; what it accepts must be a known version
// and kind, with every field inside the input, a record only from
// version 2, and a header that is a prefix of the input ending where the
// nonce (or plaintext body) begins.
func FuzzParseSealedBlob(f *testing.F) {
	for _, s := range []string{v1FileBlob, v1PlainBlob} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	v2 := append([]byte("ATSB\x02\x02\x03abc\x00\x08"), "checkval\x00\x08checkval"...)
	f.Add(append(v2, make([]byte, nonceBytes+tagBytes+1)...))
	f.Add([]byte("ATSB\x02\x03\x01l\x00\x17alias/tikv in us-west-2\x00\x01r"))
	f.Add([]byte("ATSB\x02\x01\x01l\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sb, err := ParseSealedBlob(b)
		if err != nil {
			return
		}
		if sb.Version != 1 && sb.Version != 2 {
			t.Fatalf("version %d accepted", sb.Version)
		}
		if _, ok := kindNames[sb.Kind]; !ok {
			t.Fatalf("kind %d accepted", sb.Kind)
		}
		rec, named := sb.Record()
		if named != (sb.Version == 2) || (named && (rec.Kind != sb.Kind || !bytes.Equal(rec.Identity, sb.KeyIdentity))) {
			t.Fatalf("version %d: record %v named %v", sb.Version, rec, named)
		}
		if sb.Version == 1 && sb.KeyIdentity != nil {
			t.Fatal("a version 1 blob with a key identity")
		}
		if !bytes.HasPrefix(b, sb.header) || len(sb.header) < blobFixedBytes+len(sb.Label)+2 {
			t.Fatalf("header %x is not a prefix of the blob", sb.header)
		}
		rest := b[len(sb.header):]
		if sb.Kind == KindPlaintext {
			if !bytes.Equal(rest, sb.Body) || len(sb.Body) < plainSumBytes {
				t.Fatal("plaintext body is not the rest of the blob")
			}
			return
		}
		if len(sb.Nonce) != nonceBytes || !bytes.Equal(rest, append(bytes.Clone(sb.Nonce), sb.Body...)) || len(sb.Body) < tagBytes {
			t.Fatal("nonce and body are not the rest of the blob")
		}
		// What the parser read is what a writer of this version would
		// write again.
		if sb.Version == 2 {
			h, err := blobHeader(sb.Kind, sb.Label, sb.KeyIdentity, sb.KeyRef, 0)
			if err == nil && !bytes.Equal(h, sb.header) {
				t.Fatalf("re-encoded header %x, parsed %x", h, sb.header)
			}
		}
	})
}
