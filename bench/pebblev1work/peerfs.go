package pebblev1work

import (
	"io"
	"os"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/bench/peer"
	"github.com/cockroachdb/pebble/vfs"
)

// PeerFS is the peer for Pebble v1 (package bench/peer): a vfs.FS that
// encrypts every file but the lock the common Go way, a new crypto/cipher
// or gmsm stream at the offset for every read and write. Each file's IV
// is random and kept in memory only, by name (engine.PeerIVs): there is
// no durable dictionary, so nothing written survives the process, and no
// crash safety of creates, renames and removals is attempted. It costs
// Pebble only the cipher and a map lookup per open, which makes it the
// cheapest honest encrypting FS, not a usable one.
type PeerFS struct {
	vfs.FS
	c   *peer.Cipher
	ivs *engine.PeerIVs
}

// NewPeerFS returns base encrypted with c, IVs read from rand.
func NewPeerFS(base vfs.FS, c *peer.Cipher, rand io.Reader) *PeerFS {
	return &PeerFS{FS: base, c: c, ivs: engine.NewPeerIVs(rand)}
}

// IVs are the files' IVs.
func (p *PeerFS) IVs() *engine.PeerIVs { return p.ivs }

func (p *PeerFS) open(iv []byte, f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &peerFile{File: f, s: engine.NewPeerStream(p.c, iv)}, nil
}

// Create creates name under a fresh IV.
func (p *PeerFS) Create(name string) (vfs.File, error) {
	iv, err := p.ivs.Fresh(name)
	if err != nil {
		return nil, err
	}
	f, err := p.FS.Create(name)
	return p.open(iv, f, err)
}

// Open opens name for reading under its IV.
func (p *PeerFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	iv, err := p.ivs.Get(name)
	if err != nil {
		return nil, err
	}
	f, err := p.FS.Open(name, opts...)
	return p.open(iv, f, err)
}

// OpenReadWrite opens name under its IV.
func (p *PeerFS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	iv, err := p.ivs.Get(name)
	if err != nil {
		return nil, err
	}
	f, err := p.FS.OpenReadWrite(name, opts...)
	return p.open(iv, f, err)
}

// ReuseForWrite renames oldname to newname and gives it a fresh IV.
func (p *PeerFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := p.FS.ReuseForWrite(oldname, newname)
	if err != nil {
		return nil, err
	}
	p.ivs.Forget(oldname)
	iv, err := p.ivs.Fresh(newname)
	if err != nil {
		f.Close()
		return nil, err
	}
	return p.open(iv, f, nil)
}

// Rename renames the file and moves its IV.
func (p *PeerFS) Rename(oldname, newname string) error {
	if err := p.FS.Rename(oldname, newname); err != nil {
		return err
	}
	p.ivs.Rename(oldname, newname)
	return nil
}

// Link gives newname oldname's IV.
func (p *PeerFS) Link(oldname, newname string) error {
	if err := p.FS.Link(oldname, newname); err != nil {
		return err
	}
	p.ivs.Link(oldname, newname)
	return nil
}

// Remove removes name and forgets its IV.
func (p *PeerFS) Remove(name string) error {
	if err := p.FS.Remove(name); err != nil {
		return err
	}
	p.ivs.Forget(name)
	return nil
}

// MkdirAll is the base FS's (directories hold no data).
func (p *PeerFS) MkdirAll(dir string, perm os.FileMode) error { return p.FS.MkdirAll(dir, perm) }

// Unwrap returns the base FS.
func (p *PeerFS) Unwrap() vfs.FS { return p.FS }

// peerFile encrypts and decrypts with a new stream per call (vfs.File
// forbids concurrent writes, so one buffer serves them).
type peerFile struct {
	vfs.File
	s *engine.PeerStream
}

func (f *peerFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.s.Read(p, n)
	return n, err
}

func (f *peerFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.s.ReadAt(p, n, off)
	return n, err
}

func (f *peerFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(f.s.Encrypt(p))
	f.s.Wrote(n)
	return n, err
}

func (f *peerFile) WriteAt(p []byte, off int64) (int, error) {
	return f.File.WriteAt(f.s.EncryptAt(p, off), off)
}
