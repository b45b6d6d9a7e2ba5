package engine

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/atrest/atrest/bench/peer"
)

// PeerIVs are the IVs of a peer shell's files (package bench/peer), by
// name, kept in memory only: what every engine's peer shares. A name is
// cleaned as a path, and a rename of a directory takes the IVs of the
// files under it along. It is safe for concurrent use.
type PeerIVs struct {
	rand io.Reader
	mu   sync.Mutex
	ivs  map[string][]byte
}

// NewPeerIVs returns an empty table whose fresh IVs are read from rand.
func NewPeerIVs(rand io.Reader) *PeerIVs {
	return &PeerIVs{rand: rand, ivs: map[string][]byte{}}
}

// Fresh gives name a new random IV, replacing any it had.
func (t *PeerIVs) Fresh(name string) ([]byte, error) {
	iv := make([]byte, 16)
	if _, err := io.ReadFull(t.rand, iv); err != nil {
		return nil, fmt.Errorf("peer IV: %w", err)
	}
	t.mu.Lock()
	t.ivs[filepath.Clean(name)] = iv
	t.mu.Unlock()
	return iv, nil
}

// Get is name's IV, or a fresh one if it has none (a file this process
// did not create, or one an open creates).
func (t *PeerIVs) Get(name string) ([]byte, error) {
	if iv, ok := t.Lookup(name); ok {
		return iv, nil
	}
	return t.Fresh(name)
}

// Lookup is name's IV, if it has one.
func (t *PeerIVs) Lookup(name string) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	iv, ok := t.ivs[filepath.Clean(name)]
	return iv, ok
}

// Rename moves oldname's IV to newname, and the IVs of the files under
// oldname if it is a directory.
func (t *PeerIVs) Rename(oldname, newname string) {
	o, n := filepath.Clean(oldname), filepath.Clean(newname)
	t.mu.Lock()
	defer t.mu.Unlock()
	if iv, ok := t.ivs[o]; ok {
		t.ivs[n] = iv
		delete(t.ivs, o)
	}
	for name, iv := range t.ivs {
		if strings.HasPrefix(name, o+string(filepath.Separator)) {
			t.ivs[n+name[len(o):]] = iv
			delete(t.ivs, name)
		}
	}
}

// Link gives newname oldname's IV (a hard link is the same bytes).
func (t *PeerIVs) Link(oldname, newname string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if iv, ok := t.ivs[filepath.Clean(oldname)]; ok {
		t.ivs[filepath.Clean(newname)] = iv
	}
}

// Forget drops name's IV.
func (t *PeerIVs) Forget(name string) {
	t.mu.Lock()
	delete(t.ivs, filepath.Clean(name))
	t.mu.Unlock()
}

// PeerStream is one open file's encryption in a peer shell: a new
// crypto/cipher or gmsm stream at the offset for every call (the common
// Go way), and the offset of the next sequential Read or Write. Writes
// are encrypted into a buffer of the stream's, reused, rather than in
// the caller's buffer, so a PeerStream serves one writer at a time, as
// the engines' files do.
type PeerStream struct {
	c   *peer.Cipher
	iv  []byte
	pos int64
	buf []byte
}

// NewPeerStream returns a stream of c under iv at offset 0.
func NewPeerStream(c *peer.Cipher, iv []byte) *PeerStream { return &PeerStream{c: c, iv: iv} }

// ReadAt decrypts p[:n], read at off, in place.
func (s *PeerStream) ReadAt(p []byte, n int, off int64) {
	if n > 0 {
		s.c.XORAt(p[:n], p[:n], s.iv, off)
	}
}

// Read decrypts p[:n], read at the current offset, in place and moves
// the offset past it.
func (s *PeerStream) Read(p []byte, n int) {
	s.ReadAt(p, n, s.pos)
	s.pos += int64(max(n, 0))
}

// EncryptAt returns p encrypted for offset off, in the stream's buffer
// (valid until the next call).
func (s *PeerStream) EncryptAt(p []byte, off int64) []byte {
	if cap(s.buf) < len(p) {
		s.buf = make([]byte, len(p))
	}
	b := s.buf[:len(p)]
	s.c.XORAt(b, p, s.iv, off)
	return b
}

// Encrypt returns p encrypted for the current offset (see EncryptAt);
// Wrote moves the offset past what was written of it.
func (s *PeerStream) Encrypt(p []byte) []byte { return s.EncryptAt(p, s.pos) }

// Wrote moves the offset n bytes on, past a sequential write.
func (s *PeerStream) Wrote(n int) { s.pos += int64(max(n, 0)) }

// SetOffset sets the offset of the next sequential Read or Write.
func (s *PeerStream) SetOffset(pos int64) { s.pos = pos }
