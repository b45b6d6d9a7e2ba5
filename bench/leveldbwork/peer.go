package leveldbwork

import (
	"io"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/bench/peer"
	"github.com/syndtr/goleveldb/leveldb/storage"
)

// PeerStorage is the peer for goleveldb (package bench/peer): a
// storage.Storage that encrypts the files goleveldb opens and creates
// through it (tables, journals, manifests) the common Go way, a new
// crypto/cipher or gmsm stream at the offset for every read and write.
// What the base storage writes by itself is left as it is: goleveldb's
// CURRENT (a manifest's name, written by SetMeta) and its LOG. Each
// file's IV is random and kept in memory only, by file (engine.PeerIVs):
// nothing written survives the process, and no crash safety is
// attempted. It costs goleveldb only the cipher and a map lookup per
// open: the cheapest honest encrypting storage, not a usable one.
type PeerStorage struct {
	storage.Storage
	c   *peer.Cipher
	ivs *engine.PeerIVs
}

// NewPeerStorage returns base encrypted with c, IVs read from rand.
func NewPeerStorage(base storage.Storage, c *peer.Cipher, rand io.Reader) *PeerStorage {
	return &PeerStorage{Storage: base, c: c, ivs: engine.NewPeerIVs(rand)}
}

// IVs are the files' IVs, by the FileDesc's String.
func (p *PeerStorage) IVs() *engine.PeerIVs { return p.ivs }

// Open opens fd for reading under its IV.
func (p *PeerStorage) Open(fd storage.FileDesc) (storage.Reader, error) {
	iv, err := p.ivs.Get(fd.String())
	if err != nil {
		return nil, err
	}
	r, err := p.Storage.Open(fd)
	if err != nil {
		return nil, err
	}
	return &peerReader{Reader: r, s: engine.NewPeerStream(p.c, iv)}, nil
}

// Create creates fd under a fresh IV.
func (p *PeerStorage) Create(fd storage.FileDesc) (storage.Writer, error) {
	iv, err := p.ivs.Fresh(fd.String())
	if err != nil {
		return nil, err
	}
	w, err := p.Storage.Create(fd)
	if err != nil {
		return nil, err
	}
	return &peerWriter{Writer: w, s: engine.NewPeerStream(p.c, iv)}, nil
}

// Remove removes fd and forgets its IV.
func (p *PeerStorage) Remove(fd storage.FileDesc) error {
	if err := p.Storage.Remove(fd); err != nil {
		return err
	}
	p.ivs.Forget(fd.String())
	return nil
}

// Rename renames the file and moves its IV.
func (p *PeerStorage) Rename(oldfd, newfd storage.FileDesc) error {
	if err := p.Storage.Rename(oldfd, newfd); err != nil {
		return err
	}
	p.ivs.Rename(oldfd.String(), newfd.String())
	return nil
}

// peerReader decrypts with a new stream per call; Seek moves the offset
// of the next Read.
type peerReader struct {
	storage.Reader
	s *engine.PeerStream
}

func (r *peerReader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	r.s.Read(p, n)
	return n, err
}

func (r *peerReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.Reader.ReadAt(p, off)
	r.s.ReadAt(p, n, off)
	return n, err
}

func (r *peerReader) Seek(offset int64, whence int) (int64, error) {
	pos, err := r.Reader.Seek(offset, whence)
	if err == nil {
		r.s.SetOffset(pos)
	}
	return pos, err
}

// peerWriter encrypts with a new stream per call, into a buffer of its
// own (goleveldb writes a file from one goroutine).
type peerWriter struct {
	storage.Writer
	s *engine.PeerStream
}

func (w *peerWriter) Write(p []byte) (int, error) {
	n, err := w.Writer.Write(w.s.Encrypt(p))
	w.s.Wrote(n)
	return n, err
}
