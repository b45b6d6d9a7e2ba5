package keyenv

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
)

// Kind is the type of a master-key backend, as the configuration's type
// field names it and as a sealed blob records it.
type Kind uint8

// The backend kinds. The values are stored in sealed blobs: never renumber.
const (
	// KindPlaintext seals nothing: the blob holds the secret as it is.
	KindPlaintext Kind = 1
	// KindFile is a 256-bit key in a hex key file.
	KindFile Kind = 2
	// KindKMS is an AWS KMS key (or a KMS-compatible service).
	KindKMS Kind = 3
	// KindKeyring is a named, versioned key in a password-protected keyring file.
	KindKeyring Kind = 4
	// KindVault is a HashiCorp Vault (or OpenBao) Transit key.
	KindVault Kind = 5
	// KindKMIP is a symmetric key in a KMIP key manager or HSM.
	KindKMIP Kind = 6
)

var kindNames = map[Kind]string{
	KindPlaintext: "plaintext",
	KindFile:      "file",
	KindKMS:       "kms",
	KindKeyring:   "keyring",
	KindVault:     "vault",
	KindKMIP:      "kmip",
}

// String returns the kind's configuration name ("file", "kms", ...).
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// The sealed-blob format (docs/FORMAT.md has the table), version 2:
//
//	magic "ATSB" | version u8 | kind u8 | label length u8 | label |
//	key identity length u16 | key identity | key reference length u16 |
//	key reference | nonce (12, absent for plaintext) | body
//
// Version 1, which this build still reads, has no key identity. The key
// identity names the master key that sealed the blob (a KMS key id and
// region, a key check value), so that MasterKeys picks the master key or
// the previous one by it rather than by trying both.
//
// Everything before the nonce is the associated data of the AES-256-GCM
// body, so the version, the kind, the label, the key identity and the key
// reference are all authenticated. For plaintext the body is the secret
// followed by a 16-byte truncated SHA-256 of header and secret: no
// secrecy, but a corrupted blob is still detected.
const (
	blobMagic         = "ATSB"
	blobVersion       = 2
	blobVersionNoName = 1                  // before blobs named their master key
	blobFixedBytes    = len(blobMagic) + 3 // magic, version, kind, label length
	nonceBytes        = 12
	tagBytes          = 16
	plainSumBytes     = 16
	masterKeyBytes    = 32 // every sealing key is AES-256
	keyCheckBytes     = 8
	maxLabelBytes     = 255
	maxKeyRefBytes    = 1<<16 - 1
	maxIdentityBytes  = 1<<16 - 1
)

// SealingKeyBytes is the length of every sealing key a KeySource gives:
// the envelope seals with AES-256-GCM.
const SealingKeyBytes = masterKeyBytes

// BlobVersion is the sealed-blob format version this build writes (2).
// It is not a value for a KeySource to bind into a remote service's
// context: blobs of older versions keep opening, so such a binding must
// stay fixed (the AWS KMS backend binds "1" for every version).
const BlobVersion = blobVersion

// SealedBlob is a parsed sealed blob. ParseSealedBlob checks its structure
// only; whether it opens is for a Backend to find out.
type SealedBlob struct {
	Version uint8  // format version (1 or 2)
	Kind    Kind   // the kind of backend that sealed it
	Label   string // what is sealed, e.g. "key-dictionary"
	// KeyIdentity names the master key that sealed the blob (see
	// KeyRecord); nil in a version 1 blob, which does not record it.
	KeyIdentity []byte
	// KeyRef is how the backend finds the key again: a key check value
	// (file), the KMS-encrypted data key (kms), or the key name, version
	// and check value (keyring). It reveals no key bytes.
	KeyRef []byte
	Nonce  []byte // the GCM nonce; empty for plaintext
	Body   []byte // GCM ciphertext and tag, or plaintext and checksum
	header []byte // the authenticated prefix
}

// Record returns the master key the blob names: its kind and key
// identity. ok is false for a version 1 blob, which names none.
func (sb *SealedBlob) Record() (r KeyRecord, ok bool) {
	if sb.Version == blobVersionNoName {
		return KeyRecord{}, false
	}
	return KeyRecord{Kind: sb.Kind, Identity: sb.KeyIdentity}, true
}

// ParseSealedBlob parses b's structure. A blob of a later format version is
// an error wrapping ErrUnknownVersion that says which version; anything
// malformed wraps ErrCorruptBlob. The returned slices alias b.
func ParseSealedBlob(b []byte) (*SealedBlob, error) {
	if len(b) < blobFixedBytes || string(b[:len(blobMagic)]) != blobMagic {
		return nil, fmt.Errorf("keyenv: %w: no sealed-blob header", ErrCorruptBlob)
	}
	sb := &SealedBlob{Version: b[4], Kind: Kind(b[5])}
	if sb.Version != blobVersion && sb.Version != blobVersionNoName {
		return nil, fmt.Errorf("keyenv: sealed blob: %w %d (this build reads versions %d and %d)", ErrUnknownVersion, sb.Version, blobVersionNoName, blobVersion)
	}
	if _, ok := kindNames[sb.Kind]; !ok {
		return nil, fmt.Errorf("keyenv: %w: unknown backend kind %d", ErrCorruptBlob, b[5])
	}
	p := blobFixedBytes
	labelLen := int(b[6])
	if labelLen == 0 || len(b) < p+labelLen {
		return nil, fmt.Errorf("keyenv: %w: truncated label", ErrCorruptBlob)
	}
	sb.Label = string(b[p : p+labelLen])
	p += labelLen
	// field reads a u16 length and that many bytes at p.
	field := func(what string) ([]byte, error) {
		if len(b) < p+2 {
			return nil, fmt.Errorf("keyenv: %w: truncated %s", ErrCorruptBlob, what)
		}
		n := int(binary.BigEndian.Uint16(b[p:]))
		p += 2
		if len(b) < p+n {
			return nil, fmt.Errorf("keyenv: %w: truncated %s", ErrCorruptBlob, what)
		}
		p += n
		return b[p-n : p : p], nil
	}
	var err error
	if sb.Version != blobVersionNoName {
		if sb.KeyIdentity, err = field("key identity"); err != nil {
			return nil, err
		}
	}
	if sb.KeyRef, err = field("key reference"); err != nil {
		return nil, err
	}
	sb.header = b[:p:p]
	if sb.Kind == KindPlaintext {
		if len(b) < p+plainSumBytes {
			return nil, fmt.Errorf("keyenv: %w: truncated body", ErrCorruptBlob)
		}
		sb.Body = b[p:]
		return sb, nil
	}
	if len(b) < p+nonceBytes+tagBytes {
		return nil, fmt.Errorf("keyenv: %w: truncated body", ErrCorruptBlob)
	}
	sb.Nonce = b[p : p+nonceBytes]
	sb.Body = b[p+nonceBytes:]
	return sb, nil
}

// blobHeader builds the authenticated prefix of a blob.
func blobHeader(kind Kind, label string, identity, ref []byte, extra int) ([]byte, error) {
	if err := checkLabel(label); err != nil {
		return nil, err
	}
	if len(identity) > maxIdentityBytes {
		return nil, fmt.Errorf("keyenv: key identity of %d bytes is too long", len(identity))
	}
	if len(ref) > maxKeyRefBytes {
		return nil, fmt.Errorf("keyenv: key reference of %d bytes is too long", len(ref))
	}
	h := make([]byte, 0, blobFixedBytes+len(label)+2+len(identity)+2+len(ref)+extra)
	h = append(h, blobMagic...)
	h = append(h, blobVersion, byte(kind), byte(len(label)))
	h = append(h, label...)
	h = binary.BigEndian.AppendUint16(h, uint16(len(identity)))
	h = append(h, identity...)
	h = binary.BigEndian.AppendUint16(h, uint16(len(ref)))
	return append(h, ref...), nil
}

func checkLabel(label string) error {
	if len(label) == 0 || len(label) > maxLabelBytes {
		return fmt.Errorf("keyenv: label must be 1 to %d bytes, got %d", maxLabelBytes, len(label))
	}
	for i := 0; i < len(label); i++ {
		if label[i] < 0x21 || label[i] > 0x7e {
			return fmt.Errorf("keyenv: label %q: only printable ASCII without spaces", label)
		}
	}
	return nil
}

// sealGCM seals secret under key (32 bytes) with a fresh random nonce.
func sealGCM(kind Kind, label string, identity, ref, key, secret []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	blob, err := blobHeader(kind, label, identity, ref, nonceBytes+len(secret)+tagBytes)
	if err != nil {
		return nil, err
	}
	headerLen := len(blob)
	blob = blob[:headerLen+nonceBytes]
	nonce := blob[headerLen:]
	_, _ = rand.Read(nonce)
	return aead.Seal(blob, nonce, secret, blob[:headerLen]), nil
}

// openGCM opens sb's body under key straight into a new Secret, so the
// plaintext never touches the Go heap. Authentication failure under the
// right key means the blob was altered: ErrCorruptBlob.
func openGCM(sb *SealedBlob, key []byte) (*Secret, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	n := len(sb.Body) - tagBytes
	if n == 0 {
		if _, err := aead.Open(nil, sb.Nonce, sb.Body, sb.header); err != nil {
			return nil, fmt.Errorf("keyenv: %w: authentication failed", ErrCorruptBlob)
		}
		return nil, fmt.Errorf("keyenv: %w: empty secret", ErrCorruptBlob)
	}
	out, err := NewSecret(n)
	if err != nil {
		return nil, err
	}
	if _, err := aead.Open(out.Bytes()[:0], sb.Nonce, sb.Body, sb.header); err != nil {
		out.Release()
		return nil, fmt.Errorf("keyenv: %w: authentication failed", ErrCorruptBlob)
	}
	return out, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != masterKeyBytes {
		return nil, fmt.Errorf("keyenv: sealing key must be %d bytes, got %d", masterKeyBytes, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keyenv: %w", err)
	}
	return cipher.NewGCM(block)
}

// keyCheck is a short fingerprint of a master key, stored in blobs so that
// opening with another key is told apart from an altered blob. It is an
// HMAC, not an encryption of a known block: AES under the same key must not
// reveal anything GCM relies on (E_K(0) is GCM's hash key).
func keyCheck(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("atrest keyenv key check v1"))
	return m.Sum(nil)[:keyCheckBytes]
}

func keyCheckMatches(key, check []byte) bool {
	return len(check) == keyCheckBytes && subtle.ConstantTimeCompare(keyCheck(key), check) == 1
}

// sealPlain builds a plaintext blob: header, secret, checksum.
func sealPlain(label string, secret []byte) ([]byte, error) {
	blob, err := blobHeader(KindPlaintext, label, nil, nil, len(secret)+plainSumBytes)
	if err != nil {
		return nil, err
	}
	blob = append(blob, secret...)
	sum := sha256.Sum256(blob)
	return append(blob, sum[:plainSumBytes]...), nil
}

func openPlain(sb *SealedBlob) (*Secret, error) {
	n := len(sb.Body) - plainSumBytes
	h := sha256.New()
	h.Write(sb.header)
	h.Write(sb.Body[:n])
	if subtle.ConstantTimeCompare(h.Sum(nil)[:plainSumBytes], sb.Body[n:]) != 1 {
		return nil, fmt.Errorf("keyenv: %w: checksum mismatch", ErrCorruptBlob)
	}
	if n == 0 {
		return nil, fmt.Errorf("keyenv: %w: empty secret", ErrCorruptBlob)
	}
	out, err := NewSecret(n)
	if err != nil {
		return nil, err
	}
	copy(out.Bytes(), sb.Body[:n])
	return out, nil
}
