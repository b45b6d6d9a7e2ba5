package pebblework

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/atrest/atrest/bench/peer"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// PeerFS is the peer for Pebble (package bench/peer): a vfs.FS that
// encrypts every file but the lock the common Go way, a new crypto/cipher
// or gmsm stream at the offset for every read and write. Each file's IV
// is random and kept in memory only, by name: there is no durable
// dictionary, so nothing written survives the process, and no crash
// safety of creates, renames and removals is attempted. It costs Pebble
// only the cipher and a map lookup per open, which makes it the cheapest
// honest encrypting FS, not a usable one.
type PeerFS struct {
	vfs.FS
	c    *peer.Cipher
	rand io.Reader

	mu  sync.Mutex
	ivs map[string][]byte // by cleaned path
}

// NewPeerFS returns base encrypted with c, IVs read from rand.
func NewPeerFS(base vfs.FS, c *peer.Cipher, rand io.Reader) *PeerFS {
	return &PeerFS{FS: base, c: c, rand: rand, ivs: map[string][]byte{}}
}

// fresh gives name a new random IV.
func (p *PeerFS) fresh(name string) ([]byte, error) {
	iv := make([]byte, 16)
	if _, err := io.ReadFull(p.rand, iv); err != nil {
		return nil, fmt.Errorf("peer IV: %w", err)
	}
	p.mu.Lock()
	p.ivs[filepath.Clean(name)] = iv
	p.mu.Unlock()
	return iv, nil
}

// iv is name's IV, or a fresh one if it has none (a file this process
// did not create, or one OpenReadWrite creates).
func (p *PeerFS) iv(name string) ([]byte, error) {
	p.mu.Lock()
	iv, ok := p.ivs[filepath.Clean(name)]
	p.mu.Unlock()
	if ok {
		return iv, nil
	}
	return p.fresh(name)
}

func (p *PeerFS) wrap(f vfs.File, iv []byte) vfs.File {
	return &peerFile{File: f, c: p.c, iv: iv}
}

// Create creates name under a fresh IV.
func (p *PeerFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	iv, err := p.fresh(name)
	if err != nil {
		return nil, err
	}
	f, err := p.FS.Create(name, cat)
	if err != nil {
		return nil, err
	}
	return p.wrap(f, iv), nil
}

// Open opens name for reading under its IV.
func (p *PeerFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	iv, err := p.iv(name)
	if err != nil {
		return nil, err
	}
	f, err := p.FS.Open(name, opts...)
	if err != nil {
		return nil, err
	}
	return p.wrap(f, iv), nil
}

// OpenReadWrite opens name under its IV.
func (p *PeerFS) OpenReadWrite(name string, cat vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	iv, err := p.iv(name)
	if err != nil {
		return nil, err
	}
	f, err := p.FS.OpenReadWrite(name, cat, opts...)
	if err != nil {
		return nil, err
	}
	return p.wrap(f, iv), nil
}

// ReuseForWrite renames oldname to newname and gives it a fresh IV.
func (p *PeerFS) ReuseForWrite(oldname, newname string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := p.FS.ReuseForWrite(oldname, newname, cat)
	if err != nil {
		return nil, err
	}
	p.forget(oldname)
	iv, err := p.fresh(newname)
	if err != nil {
		f.Close()
		return nil, err
	}
	return p.wrap(f, iv), nil
}

// Rename renames the file and moves its IV.
func (p *PeerFS) Rename(oldname, newname string) error {
	if err := p.FS.Rename(oldname, newname); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, n := filepath.Clean(oldname), filepath.Clean(newname)
	if iv, ok := p.ivs[o]; ok {
		p.ivs[n] = iv
		delete(p.ivs, o)
	}
	// A renamed directory takes the IVs of its files along.
	for name, iv := range p.ivs {
		if strings.HasPrefix(name, o+string(filepath.Separator)) {
			p.ivs[n+name[len(o):]] = iv
			delete(p.ivs, name)
		}
	}
	return nil
}

// Link gives newname oldname's IV.
func (p *PeerFS) Link(oldname, newname string) error {
	if err := p.FS.Link(oldname, newname); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if iv, ok := p.ivs[filepath.Clean(oldname)]; ok {
		p.ivs[filepath.Clean(newname)] = iv
	}
	return nil
}

// Remove removes name and forgets its IV.
func (p *PeerFS) Remove(name string) error {
	if err := p.FS.Remove(name); err != nil {
		return err
	}
	p.forget(name)
	return nil
}

func (p *PeerFS) forget(name string) {
	p.mu.Lock()
	delete(p.ivs, filepath.Clean(name))
	p.mu.Unlock()
}

// MkdirAll is the base FS's (directories hold no data).
func (p *PeerFS) MkdirAll(dir string, perm os.FileMode) error { return p.FS.MkdirAll(dir, perm) }

// Unwrap returns the base FS.
func (p *PeerFS) Unwrap() vfs.FS { return p.FS }

// peerFile encrypts and decrypts with a new stream per call. Writes are
// encrypted into a buffer of the file's, reused (vfs.File forbids
// concurrent writes), rather than in the caller's buffer.
type peerFile struct {
	vfs.File
	c   *peer.Cipher
	iv  []byte
	pos int64 // the offset of the next Read or Write
	buf []byte
}

func (f *peerFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	if n > 0 {
		f.c.XORAt(p[:n], p[:n], f.iv, f.pos)
		f.pos += int64(n)
	}
	return n, err
}

func (f *peerFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	if n > 0 {
		f.c.XORAt(p[:n], p[:n], f.iv, off)
	}
	return n, err
}

func (f *peerFile) encrypt(p []byte, off int64) []byte {
	if cap(f.buf) < len(p) {
		f.buf = make([]byte, len(p))
	}
	b := f.buf[:len(p)]
	f.c.XORAt(b, p, f.iv, off)
	return b
}

func (f *peerFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(f.encrypt(p, f.pos))
	f.pos += int64(n)
	return n, err
}

func (f *peerFile) WriteAt(p []byte, off int64) (int, error) {
	return f.File.WriteAt(f.encrypt(p, off), off)
}
