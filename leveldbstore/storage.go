package leveldbstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/encfile"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/internal/enginefs"
	"github.com/atrest/atrest/keyenv"
	"github.com/syndtr/goleveldb/leveldb/storage"
)

// Storage is a goleveldb storage.Storage that encrypts every file but
// LOCK. It is safe for concurrent use.
type Storage struct {
	m     *dict.Manager
	fs    fsys.FS
	dir   string // absolute
	flock io.Closer

	metaMu sync.Mutex // serializes SetMeta and GetMeta

	manifestsMu sync.Mutex
	manifests   map[storage.FileDesc]*writer // manifests open for writing, for SetMeta to sync

	mu     sync.Mutex // guards what follows
	closed bool
	slock  *storageLock
	log    logFile
}

var _ storage.Storage = (*Storage)(nil)

// Open opens goleveldb's data directory dir on base (nil: the operating
// system's file system, where dir and its missing parents are made, their
// entries synced; on another base dir must exist, unless the base also
// has MkdirAll(dir string, perm fs.FileMode) error), takes its LOCK
// file, opens its dictionaries (creating them on the first start with
// encryption on) and starts a fresh LOG. cfg is the TiKV-style configuration (data method, rotation
// period, master keys); opts go to dict.Open. Close the Storage after the
// DB.
func Open(ctx context.Context, dir string, cfg keyenv.Config, base fsys.FS, opts ...dict.Option) (*Storage, error) {
	s, err := open(ctx, dir, cfg, base, opts)
	if err != nil {
		return nil, fmt.Errorf("leveldbstore: %w", err)
	}
	return s, nil
}

func open(ctx context.Context, dir string, cfg keyenv.Config, base fsys.FS, opts []dict.Option) (*Storage, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var dirs enginefs.Dirs
	switch d := base.(type) {
	case nil:
		base, dirs = fsys.OS(), enginefs.OSDirs()
	case enginefs.Dirs:
		dirs = d
	}
	if dirs != nil {
		if err := enginefs.MkdirAllSynced(dirs, abs); err != nil {
			return nil, err
		}
	}
	flock, err := base.Lock(filepath.Join(abs, lockName))
	if err != nil {
		return nil, err
	}
	m, err := dict.Open(ctx, abs, cfg, append(opts, dict.WithFS(base))...)
	if err != nil {
		return nil, errors.Join(err, flock.Close())
	}
	s := &Storage{m: m, fs: base, dir: abs, flock: flock, manifests: map[storage.FileDesc]*writer{}}
	if err := s.log.start(m); err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", logName, err), m.Close(), flock.Close())
	}
	return s, nil
}

// Manager returns the dictionaries' Manager, for data-key rotation,
// lookups and statistics. It is closed by Close.
func (s *Storage) Manager() *dict.Manager { return s.m }

// storageLock is the lock Lock hands out.
type storageLock struct{ s *Storage }

// Unlock releases the lock; a second call does nothing.
func (l *storageLock) Unlock() {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.slock == l {
		l.s.slock = nil
	}
}

// Lock takes the storage for one DB, as goleveldb's storages do: a second
// Lock before Unlock fails with storage.ErrLocked. (Other processes are
// kept out by the LOCK file's flock, taken by Open.)
func (s *Storage) Lock() (storage.Locker, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, storage.ErrClosed
	}
	if s.slock != nil {
		return nil, storage.ErrLocked
	}
	s.slock = &storageLock{s: s}
	return s.slock, nil
}

// usable returns storage.ErrClosed once the Storage is closed.
func (s *Storage) usable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.ErrClosed
	}
	return nil
}

// List returns the files of the types in ft, as goleveldb's file storage
// names them; the dictionaries, LOCK, LOG and CURRENT are none of them.
func (s *Storage) List(ft storage.FileType) ([]storage.FileDesc, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	names, err := s.fs.List(s.dir)
	if err != nil {
		return nil, err
	}
	var fds []storage.FileDesc
	for _, n := range enginefs.Visible(s.m, s.dir, names) {
		if fd, ok := parseName(n); ok && fd.Type&ft != 0 {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}

// Open opens fd's file for reading (a table under its old ".sst" name
// too). ReadAt decrypts in the caller's buffer.
func (s *Storage) Open(fd storage.FileDesc) (storage.Reader, error) {
	if !storage.FileDescOk(fd) {
		return nil, storage.ErrInvalidFile
	}
	if err := s.usable(); err != nil {
		return nil, err
	}
	f, err := s.m.Open(fileName(fd))
	if errors.Is(err, fs.ErrNotExist) && fd.Type == storage.TypeTable {
		if g, gerr := s.m.Open(oldTableName(fd)); gerr == nil {
			return g, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Create creates fd's file, or truncates it, with a fresh entry (current
// data key, new IV). Its first Sync syncs the directory too.
func (s *Storage) Create(fd storage.FileDesc) (storage.Writer, error) {
	if !storage.FileDescOk(fd) {
		return nil, storage.ErrInvalidFile
	}
	if err := s.usable(); err != nil {
		return nil, err
	}
	f, err := s.m.Create(fileName(fd))
	if err != nil {
		return nil, err
	}
	w := &writer{File: f, s: s, fd: fd}
	if fd.Type == storage.TypeManifest {
		s.manifestsMu.Lock()
		s.manifests[fd] = w
		s.manifestsMu.Unlock()
	}
	return w, nil
}

// openManifest is the writer of manifest fd if it is open.
func (s *Storage) openManifest(fd storage.FileDesc) (*writer, bool) {
	s.manifestsMu.Lock()
	defer s.manifestsMu.Unlock()
	w, ok := s.manifests[fd]
	return w, ok
}

// writer is a file goleveldb writes: an encrypted file whose first Sync
// makes its name durable too.
type writer struct {
	*encfile.File
	s         *Storage
	fd        storage.FileDesc
	dirSynced bool
}

// Close closes the file.
func (w *writer) Close() error {
	if w.fd.Type == storage.TypeManifest {
		w.s.manifestsMu.Lock()
		if w.s.manifests[w.fd] == w {
			delete(w.s.manifests, w.fd)
		}
		w.s.manifestsMu.Unlock()
	}
	return w.File.Close()
}

// Sync makes the file's bytes durable, and at the first call its name:
// goleveldb records a table in the manifest, and acknowledges a write in
// a new journal, once the file is synced.
func (w *writer) Sync() error {
	if err := w.File.Sync(); err != nil {
		return err
	}
	if !w.dirSynced {
		if err := w.s.fs.SyncDir(w.s.dir); err != nil {
			return fmt.Errorf("sync directory %s: %w", w.s.dir, err)
		}
		w.dirSynced = true
	}
	return nil
}

// Remove removes fd's file (a table under its old name too) and its
// entry.
func (s *Storage) Remove(fd storage.FileDesc) error {
	if !storage.FileDescOk(fd) {
		return storage.ErrInvalidFile
	}
	if err := s.usable(); err != nil {
		return err
	}
	err := s.m.Remove(fileName(fd))
	if errors.Is(err, fs.ErrNotExist) && fd.Type == storage.TypeTable {
		if oerr := s.m.Remove(oldTableName(fd)); !errors.Is(oerr, fs.ErrNotExist) {
			err = oerr
		}
	}
	return err
}

// Rename renames oldfd's file to newfd's with its entry, atomically and
// durably (the Manager syncs the directory).
func (s *Storage) Rename(oldfd, newfd storage.FileDesc) error {
	if !storage.FileDescOk(oldfd) || !storage.FileDescOk(newfd) {
		return storage.ErrInvalidFile
	}
	if oldfd == newfd {
		return nil
	}
	if err := s.usable(); err != nil {
		return err
	}
	return s.m.Rename(fileName(oldfd), fileName(newfd))
}

// Close closes the LOG, the dictionaries and the LOCK file. Files still
// open stay usable; every other call afterwards fails with
// storage.ErrClosed, and so does a second Close.
func (s *Storage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.ErrClosed
	}
	s.closed = true
	return errors.Join(s.log.close(), s.m.Close(), s.flock.Close())
}

// mustNotExist turns a missing file into os.ErrNotExist itself: goleveldb
// tells a new directory from a broken one with os.IsNotExist, which does
// not see through wrapping.
func mustNotExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return os.ErrNotExist
	}
	return err
}
