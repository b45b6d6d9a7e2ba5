package kmstest

import (
	"encoding/binary"
	"errors"
	"sort"
)

// Ciphertext blob layout (all of it opaque to callers):
//
//	offset  size  field
//	0       1     version, blobVersion
//	1       36    key id, the UUID text of the sealing key
//	37      12    GCM nonce
//	49      n+16  AES-256-GCM ciphertext and tag
//
// The additional data authenticated by GCM is the 37-byte header (version
// and key id) followed by canonicalContext of the encryption context, so a
// changed header, nonce, ciphertext, tag or context all fail to open.
const (
	blobVersion = 0x01
	keyIDLen    = 36
	headerLen   = 1 + keyIDLen
	nonceLen    = 12
	tagLen      = 16
	minBlobLen  = headerLen + nonceLen + tagLen
)

var errMalformed = errors.New("malformed ciphertext blob")

// seal encrypts plaintext under k, binding the encryption context ec.
func (k *key) seal(plaintext []byte, ec map[string]string) []byte {
	blob := make([]byte, headerLen+nonceLen, minBlobLen+len(plaintext))
	blob[0] = blobVersion
	copy(blob[1:headerLen], k.id)
	nonce := blob[headerLen : headerLen+nonceLen]
	randRead(nonce)
	aad := additionalData(blob[:headerLen], ec)
	return k.aead.Seal(blob, nonce, plaintext, aad)
}

// blobKeyID returns the id of the key that sealed blob, or errMalformed if
// blob cannot be one of this package's blobs.
func blobKeyID(blob []byte) (string, error) {
	if len(blob) < minBlobLen || blob[0] != blobVersion {
		return "", errMalformed
	}
	return string(blob[1:headerLen]), nil
}

// open authenticates and decrypts blob, which blobKeyID has accepted and
// which names k, under the encryption context ec.
func (k *key) open(blob []byte, ec map[string]string) ([]byte, error) {
	nonce := blob[headerLen : headerLen+nonceLen]
	aad := additionalData(blob[:headerLen], ec)
	return k.aead.Open(nil, nonce, blob[headerLen+nonceLen:], aad)
}

func additionalData(header []byte, ec map[string]string) []byte {
	aad := make([]byte, 0, len(header)+64)
	aad = append(aad, header...)
	return appendContext(aad, ec)
}

// appendContext appends the canonical form of an encryption context: the
// number of pairs, then each pair in increasing key order as key and value,
// each preceded by its length, all counts and lengths as uvarints. Nil and
// empty contexts are the same.
func appendContext(b []byte, ec map[string]string) []byte {
	names := make([]string, 0, len(ec))
	for name := range ec {
		names = append(names, name)
	}
	sort.Strings(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		v := ec[name]
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}
