package peer

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/emmansun/gmsm/sm4"
)

// TestXORAtMatchesOneStream checks that the peer's piece-by-piece
// encryption at arbitrary offsets (within a block, across the counter's
// low byte carrying) equals one crypto/cipher or gmsm stream over the
// whole message, and equals atrest's XORKeyStreamAt.
func TestXORAtMatchesOneStream(t *testing.T) {
	for _, m := range []ctr.Method{ctr.AES128CTR, ctr.AES192CTR, ctr.AES256CTR, ctr.SM4CTR} {
		key := make([]byte, m.KeySize())
		rand.Read(key)
		iv := bytes.Repeat([]byte{0xff}, 16) // every add carries
		iv[0] = 0x12
		var block cipher.Block
		var err error
		if m == ctr.SM4CTR {
			block, err = sm4.NewCipher(key)
		} else {
			block, err = aes.NewCipher(key)
		}
		if err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, 5000)
		rand.Read(msg)
		want := make([]byte, len(msg))
		cipher.NewCTR(block, iv).XORKeyStream(want, msg)

		c, err := New(m, key)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		for _, cut := range [][2]int{{0, 7}, {7, 16}, {16, 33}, {33, 4096}, {4096, 4097}, {4097, 5000}} {
			c.XORAt(got[cut[0]:cut[1]], msg[cut[0]:cut[1]], iv, int64(cut[0]))
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: XORAt in pieces differs from one %T stream", m, block)
		}
		s, err := ctr.New(m, key, iv)
		if err != nil {
			t.Fatal(err)
		}
		ours := make([]byte, len(msg))
		s.XORKeyStreamAt(ours, msg, 0)
		if !bytes.Equal(ours, want) {
			t.Errorf("%s: atrest's keystream differs from the peer's", m)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tt := range []struct {
		m   ctr.Method
		key int
	}{{ctr.Plaintext, 16}, {ctr.AES128CTR, 32}, {ctr.SM4CTR, 32}} {
		if _, err := New(tt.m, make([]byte, tt.key)); err == nil {
			t.Errorf("New(%s, %d-byte key) succeeded", tt.m, tt.key)
		} else if tt.m == ctr.Plaintext && !errors.Is(err, ErrMethod) {
			t.Errorf("New(plaintext): %v, want ErrMethod", err)
		}
	}
}
