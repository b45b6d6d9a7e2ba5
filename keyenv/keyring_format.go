package keyenv

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/crypto/argon2"
)

// The keyring file format (docs/FORMAT.md has the table):
//
//	magic "ATKR" | version u8 | kdf u8 (1 = argon2id) | time u32 |
//	memory KiB u32 | threads u8 | salt (16) | password check (8) |
//	nonce (12) | AES-256-GCM(payload) with everything before the nonce as
//	associated data
//
// The payload is a u16 entry count and, per entry, a u8 name length, the
// name, a u32 version, the creation time as i64 Unix seconds and the 32-byte
// key; entries are sorted by name, then version.
const (
	keyringMagic      = "ATKR"
	keyringVersion    = 1
	kdfArgon2id       = 1
	saltBytes         = 16
	pwCheckBytes      = 8
	keyringHeaderSize = len(keyringMagic) + 2 + 4 + 4 + 1 + saltBytes + pwCheckBytes
	maxKeyNameBytes   = 64
	entryFixedBytes   = 1 + 4 + 8 + masterKeyBytes
	maxKeyringEntries = 1<<16 - 1
)

// KDFParams are the argon2id parameters a keyring's password is stretched
// with; they are stored in the keyring file.
type KDFParams struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
}

// DefaultKDFParams are RFC 9106's second recommended argon2id setting:
// 3 passes over 64 MiB with 4 lanes (about 0.1 s here).
var DefaultKDFParams = KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

// KDFLimits bound the argon2id parameters OpenKeyring accepts from a file.
type KDFLimits struct {
	MaxTime      uint32
	MaxMemoryKiB uint32
}

// DefaultKDFLimits accept up to 64 passes over 4 GiB.
var DefaultKDFLimits = KDFLimits{MaxTime: 64, MaxMemoryKiB: 4 << 20}

func (p KDFParams) check(l KDFLimits) error {
	switch {
	case p.Time < 1 || p.MemoryKiB < 8*uint32(max(p.Threads, 1)) || p.Threads < 1:
		return fmt.Errorf("argon2id parameters time=%d memory=%d KiB threads=%d are below the minimum (time ≥ 1, threads ≥ 1, memory ≥ 8 KiB per thread)", p.Time, p.MemoryKiB, p.Threads)
	case p.Time > l.MaxTime || p.MemoryKiB > l.MaxMemoryKiB:
		return fmt.Errorf("argon2id parameters time=%d memory=%d KiB exceed the limits time ≤ %d, memory ≤ %d KiB", p.Time, p.MemoryKiB, l.MaxTime, l.MaxMemoryKiB)
	}
	return nil
}

type keyringHeader struct {
	params KDFParams
	salt   []byte
	check  []byte
}

func parseKeyringHeader(data []byte, limits KDFLimits) (keyringHeader, error) {
	var h keyringHeader
	if len(data) < len(keyringMagic)+1 || string(data[:len(keyringMagic)]) != keyringMagic {
		return h, fmt.Errorf("%w: not a keyring file", ErrBadKeyring)
	}
	if v := data[4]; v != keyringVersion {
		return h, fmt.Errorf("%w %d (this build reads keyring version %d)", ErrUnknownVersion, v, keyringVersion)
	}
	if len(data) < keyringHeaderSize+nonceBytes+tagBytes+2 {
		return h, fmt.Errorf("%w: truncated", ErrBadKeyring)
	}
	if data[5] != kdfArgon2id {
		return h, fmt.Errorf("%w: unknown key-derivation function %d", ErrBadKeyring, data[5])
	}
	h.params = KDFParams{
		Time:      binary.BigEndian.Uint32(data[6:]),
		MemoryKiB: binary.BigEndian.Uint32(data[10:]),
		Threads:   data[14],
	}
	if err := h.params.check(limits); err != nil {
		return h, fmt.Errorf("%w: %w", ErrBadKeyring, err)
	}
	h.salt = data[15 : 15+saltBytes]
	h.check = data[15+saltBytes : keyringHeaderSize]
	return h, nil
}

func deriveKEK(password, salt []byte, p KDFParams) (*Secret, error) {
	return SecretFrom(argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, masterKeyBytes))
}

// passwordCheck tells a wrong password apart from an altered file.
func passwordCheck(kek []byte) []byte {
	m := hmac.New(sha256.New, kek)
	m.Write([]byte("atrest keyring password check v1"))
	return m.Sum(nil)[:pwCheckBytes]
}

func openKeyringPayload(kek, data []byte, h keyringHeader) (*Secret, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	nonce := data[keyringHeaderSize : keyringHeaderSize+nonceBytes]
	body := data[keyringHeaderSize+nonceBytes:]
	out, err := NewSecret(len(body) - tagBytes)
	if err != nil {
		return nil, err
	}
	if _, err := aead.Open(out.Bytes()[:0], nonce, body, data[:keyringHeaderSize]); err != nil {
		out.Release()
		return nil, fmt.Errorf("%w: authentication failed (the file was altered)", ErrBadKeyring)
	}
	return out, nil
}

// decodeKeyringPayload checks and indexes a decrypted payload.
func decodeKeyringPayload(p []byte) ([]keyringEntry, error) {
	if len(p) < 2 {
		return nil, fmt.Errorf("%w: payload too short", ErrBadKeyring)
	}
	n := int(binary.BigEndian.Uint16(p))
	entries := make([]keyringEntry, 0, min(n, len(p)/entryFixedBytes+1))
	off := 2
	for i := 0; i < n; i++ {
		if off >= len(p) {
			return nil, fmt.Errorf("%w: payload ends at entry %d of %d", ErrBadKeyring, i, n)
		}
		nameLen := int(p[off])
		if off+1+nameLen+entryFixedBytes-1 > len(p) {
			return nil, fmt.Errorf("%w: payload ends inside entry %d", ErrBadKeyring, i)
		}
		name := string(p[off+1 : off+1+nameLen])
		if err := checkKeyName(name); err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrBadKeyring, i, err)
		}
		off += 1 + nameLen
		e := keyringEntry{KeyringEntry: KeyringEntry{
			Name:    name,
			Version: binary.BigEndian.Uint32(p[off:]),
			Created: time.Unix(int64(binary.BigEndian.Uint64(p[off+4:])), 0).UTC(),
		}, keyOff: off + 12}
		off += 12 + masterKeyBytes
		if e.Version == 0 {
			return nil, fmt.Errorf("%w: entry %d (%s) has version 0", ErrBadKeyring, i, name)
		}
		if len(entries) > 0 {
			last := entries[len(entries)-1]
			if last.Name > name || (last.Name == name && last.Version >= e.Version) {
				return nil, fmt.Errorf("%w: entries out of order or repeated at %s version %d", ErrBadKeyring, name, e.Version)
			}
		}
		entries = append(entries, e)
	}
	if off != len(p) {
		return nil, fmt.Errorf("%w: %d bytes after the last entry", ErrBadKeyring, len(p)-off)
	}
	return entries, nil
}

func checkKeyName(name string) error {
	if len(name) == 0 || len(name) > maxKeyNameBytes {
		return fmt.Errorf("key name must be 1 to %d characters, got %d", maxKeyNameBytes, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("key name %q: only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

// sealKeyring builds the keyring file: the header for params and salt, the
// password check of kek, and payload sealed under kek with a fresh nonce.
func sealKeyring(kek *Secret, params KDFParams, salt, payload []byte) ([]byte, error) {
	aead, err := newGCM(kek.Bytes())
	if err != nil {
		return nil, err
	}
	out := make([]byte, keyringHeaderSize+nonceBytes, keyringHeaderSize+nonceBytes+len(payload)+tagBytes)
	copy(out, keyringMagic)
	out[4], out[5] = keyringVersion, kdfArgon2id
	binary.BigEndian.PutUint32(out[6:], params.Time)
	binary.BigEndian.PutUint32(out[10:], params.MemoryKiB)
	out[14] = params.Threads
	copy(out[15:], salt)
	copy(out[15+saltBytes:], passwordCheck(kek.Bytes()))
	nonce := out[keyringHeaderSize:]
	_, _ = rand.Read(nonce)
	return aead.Seal(out, nonce, payload, out[:keyringHeaderSize]), nil
}
