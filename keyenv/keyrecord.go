package keyenv

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"unicode/utf8"
)

// KeyRecord names a master key the way a sealed blob records it: the kind
// of backend and a key identity that reveals nothing of the key. A blob of
// format version 2 records the key that sealed it, so MasterKeys opens it
// with the master key or the previous one by that record, whatever errors
// the key service would give for the other key.
type KeyRecord struct {
	Kind Kind
	// Identity is what the backend records for its key: the key id as
	// configured and the region (kms), another remote backend's key name
	// (its ID unless it implements KeyIdentifier), or the key check value
	// (file, keyring: the first 8 bytes of an HMAC-SHA256 of a fixed
	// string under the key). Empty for plaintext.
	Identity []byte
}

// String describes the record for messages, for instance
// `kms key "alias/tikv in us-west-2"` or `file key with check value
// 0123456789abcdef`.
func (r KeyRecord) String() string {
	switch {
	case r.Kind == KindPlaintext:
		return "plaintext"
	case r.Kind == KindFile || r.Kind == KindKeyring:
		return fmt.Sprintf("%s key with check value %s", r.Kind, hex.EncodeToString(r.Identity))
	case utf8.Valid(r.Identity):
		return fmt.Sprintf("%s key %q", r.Kind, r.Identity)
	}
	return fmt.Sprintf("%s key %x", r.Kind, r.Identity)
}

// KeyIdentifier is implemented by a KeySource that records its keys in
// blobs by something other than its ID, or that holds several keys (a
// keyring's versions). Without it the envelope records the source's ID()
// as the key identity and holds exactly the blobs that record it, so a
// source's ID must then be stable across restarts and name the key
// precisely (a Vault address, mount and key name, say), and never hold a
// secret.
type KeyIdentifier interface {
	// KeyIdentity returns the identity to record in a blob sealed with the
	// key that SealingKey returned together with ref. It must reveal
	// nothing of the key.
	KeyIdentity(ref []byte) []byte
	// HoldsKey reports whether identity, recorded in a blob of this
	// source's kind, names a key this source can unseal with.
	HoldsKey(identity []byte) bool
}

// identityOf is the identity src records for a blob sealed with ref.
func identityOf(src KeySource, ref []byte) []byte {
	if ki, ok := src.(KeyIdentifier); ok {
		return ki.KeyIdentity(ref)
	}
	return []byte(src.ID())
}

// sourceHolds reports whether src holds the key r names.
func sourceHolds(src KeySource, r KeyRecord) bool {
	if r.Kind != src.Kind() {
		return false
	}
	if ki, ok := src.(KeyIdentifier); ok {
		return ki.HoldsKey(r.Identity)
	}
	return bytes.Equal(r.Identity, []byte(src.ID()))
}
