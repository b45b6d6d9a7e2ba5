package enginefs

import (
	"io"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/encfile"
)

// Cipher is the encryption of one open file whose byte o on disk is byte o
// of the content XORed with the keystream at offset o. An adapter's file
// type keeps one beside its base file and passes the base to each call,
// so nothing is allocated and the base's own methods (syncs, hints, Fd)
// stay the base's.
//
// The position of Read and Write follows the base file's own offset: both
// start at 0 and move by the same counts. Like that offset it is not for
// concurrent Read or Write calls (engines read and write a file
// sequentially from one goroutine); ReadAt and WriteAt are safe for
// concurrent use.
type Cipher struct {
	s   *ctr.Stream
	pos int64
}

// NewCipher returns the encryption of a file opened at offset 0 with
// keystream s, which must not be nil.
func NewCipher(s *ctr.Stream) Cipher { return Cipher{s: s} }

// Encrypts reports whether s changes the bytes it is applied to: false for
// nil and for a Plaintext stream, whose files adapters hand out unwrapped.
func Encrypts(s *ctr.Stream) bool { return s != nil && s.Method() != ctr.Plaintext }

// Read reads from r at the position and decrypts in p: no copy.
func (c *Cipher) Read(r io.Reader, p []byte) (int, error) {
	n, err := r.Read(p)
	if n > 0 {
		c.s.XORKeyStreamAt(p[:n], p[:n], uint64(c.pos))
		c.pos += int64(n)
	}
	return n, err
}

// ReadAt reads from r at off and decrypts in p: no copy.
func (c *Cipher) ReadAt(r io.ReaderAt, p []byte, off int64) (int, error) {
	n, err := r.ReadAt(p, off)
	if n > 0 && off >= 0 {
		c.s.XORKeyStreamAt(p[:n], p[:n], uint64(off))
	}
	return n, err
}

// WriteInPlace encrypts p in place and writes it to w at the position:
// for engines whose Write may modify its buffer (Pebble's vfs.File allows
// it). After a short write the unwritten rest of p is decrypted back: a
// caller may write it again (Pebble's disk-full handler does), and
// encrypting ciphertext would put plaintext on disk.
func (c *Cipher) WriteInPlace(w io.Writer, p []byte) (int, error) {
	c.s.XORKeyStreamAt(p, p, uint64(c.pos))
	n, err := w.Write(p)
	encfile.RestoreUnwritten(c.s, p, c.pos, n)
	c.pos += int64(max(n, 0))
	return n, err
}

// WriteAt encrypts p at off through pooled buffers, leaving p untouched
// (io.WriterAt does not let it change the buffer), and writes it to w at
// off. A negative offset goes to w unchanged, which reports it.
func (c *Cipher) WriteAt(w io.WriterAt, p []byte, off int64) (int, error) {
	if off < 0 {
		return w.WriteAt(p, off)
	}
	return encfile.WriteEncryptedAt(w, c.s, p, off)
}
