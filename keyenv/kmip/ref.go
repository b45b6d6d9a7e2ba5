package kmip

import (
	"encoding/binary"
	"errors"
)

// The key reference a blob stores: what the server needs to Decrypt the
// data key again, and the id of the key that encrypted it. None of it
// reveals the key.
//
//	refVersion (1 byte)
//	key id length (uvarint) and key id
//	nonce (12 bytes), tag (16 bytes), ciphertext of the data key (the rest)
const (
	refVersion = 1
	nonceBytes = 12
	tagBytes   = 16
	maxKeyID   = 1024
)

type ref struct {
	keyID                  string
	nonce, tag, ciphertext []byte
}

func (r ref) marshal() []byte {
	b := []byte{refVersion}
	b = binary.AppendUvarint(b, uint64(len(r.keyID)))
	b = append(b, r.keyID...)
	b = append(b, r.nonce...)
	b = append(b, r.tag...)
	return append(b, r.ciphertext...)
}

var errBadRef = errors.New("malformed KMIP key reference")

func parseRef(b []byte) (ref, error) {
	if len(b) < 2 || b[0] != refVersion {
		return ref{}, errBadRef
	}
	n, used := binary.Uvarint(b[1:])
	if used <= 0 || n == 0 || n > maxKeyID {
		return ref{}, errBadRef
	}
	rest := b[1+used:]
	if uint64(len(rest)) < n+nonceBytes+tagBytes+1 {
		return ref{}, errBadRef
	}
	r := ref{keyID: string(rest[:n])}
	rest = rest[n:]
	r.nonce, r.tag, r.ciphertext = rest[:nonceBytes], rest[nonceBytes:nonceBytes+tagBytes], rest[nonceBytes+tagBytes:]
	return r, nil
}
