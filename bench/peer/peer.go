// Package peer is encryption at rest as Go code usually does it, for
// encbench to measure atrest against: a crypto/cipher (AES) or gmsm (SM4)
// counter-mode stream made afresh at the offset for every read and write,
// keys and IVs in memory. It lives in bench, never in the library: it
// keeps no durable record of a file's IV (a restart loses every file) and
// exists only to say what the usual way costs.
package peer

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"

	"github.com/atrest/atrest/ctr"
	"github.com/emmansun/gmsm/sm4"
)

// ErrMethod is returned (wrapped) by New for plaintext or a method it
// does not know.
var ErrMethod = errors.New("peer: not an encryption method")

// Name is how reports name the peer.
const Name = "typical-go"

// Cipher is one key's block cipher, used the common way.
type Cipher struct {
	method ctr.Method
	block  cipher.Block
}

// New returns the peer cipher of method m with key (m.KeySize() bytes):
// crypto/aes for the AES methods, gmsm's sm4 for SM4.
func New(m ctr.Method, key []byte) (*Cipher, error) {
	var b cipher.Block
	var err error
	switch m {
	case ctr.AES128CTR, ctr.AES192CTR, ctr.AES256CTR:
		if len(key) != m.KeySize() {
			return nil, fmt.Errorf("peer: %s key of %d bytes: %w", m, len(key), ErrMethod)
		}
		b, err = aes.NewCipher(key)
	case ctr.SM4CTR:
		b, err = sm4.NewCipher(key)
	default:
		return nil, fmt.Errorf("%w: %s", ErrMethod, m)
	}
	if err != nil {
		return nil, fmt.Errorf("peer: %s: %w", m, err)
	}
	return &Cipher{method: m, block: b}, nil
}

// Method is the cipher's method.
func (c *Cipher) Method() ctr.Method { return c.method }

// XORAt XORs src into dst with the keystream of iv (16 bytes) at byte
// offset off, as a caller without a seekable counter mode must: a new
// cipher.NewCTR at counter iv + off/16, the first off%16 bytes of its
// keystream thrown away.
func (c *Cipher) XORAt(dst, src, iv []byte, off int64) {
	var counter, skip [16]byte
	copy(counter[:], iv)
	add(counter[:], uint64(off)/16)
	s := cipher.NewCTR(c.block, counter[:])
	if r := off % 16; r != 0 {
		s.XORKeyStream(skip[:r], skip[:r])
	}
	s.XORKeyStream(dst, src)
}

// add adds n to the 128-bit big-endian counter c.
func add(c []byte, n uint64) {
	for i := 15; i >= 0 && n != 0; i-- {
		sum := uint64(c[i]) + n&0xff
		c[i] = byte(sum)
		n = n>>8 + sum>>8
	}
}
