package leveldbstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/syndtr/goleveldb/leveldb/storage"
)

// errCorruptCurrent is what a CURRENT that names no manifest wraps.
var errCorruptCurrent = errors.New("leveldbstore: corrupted or incomplete CURRENT file")

// SetMeta makes fd the current manifest: the manifest is synced first if
// it is open for writing here, then its name goes to a new CURRENT.n
// (fresh IV, synced), which the Manager renames over CURRENT atomically
// and durably.
//
// The sync is this storage's own: goleveldb v1.0.0 writes a new
// manifest's first record and calls SetMeta without syncing it (and then
// removes the old manifest), so a power cut could leave CURRENT naming a
// manifest whose bytes never reached the disk, and the DB unopenable.
func (s *Storage) SetMeta(fd storage.FileDesc) error {
	if !storage.FileDescOk(fd) {
		return storage.ErrInvalidFile
	}
	if err := s.usable(); err != nil {
		return err
	}
	if w, ok := s.openManifest(fd); ok {
		if err := w.Sync(); err != nil {
			return err
		}
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	return s.setMeta(fd)
}

func (s *Storage) setMeta(fd storage.FileDesc) (err error) {
	tmp := currentName + "." + itoa(fd.Num)
	f, err := s.m.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.m.Remove(tmp)
		}
	}()
	if _, err = f.Write([]byte(fileName(fd) + "\n")); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = s.m.Rename(tmp, currentName); err != nil {
		return err
	}
	// The new CURRENT is durable only once its directory is synced: the
	// Manager does so for an encrypted directory, not for a plaintext one
	// (a plain rename, like os.Rename), and goleveldb never syncs it.
	return s.fs.SyncDir(s.dir)
}

// GetMeta returns the manifest CURRENT names. Where CURRENT is missing or
// unreadable, a CURRENT.n a crash left during SetMeta is taken up (the
// newest that names a manifest that exists) and made CURRENT. A directory
// with none of them gives os.ErrNotExist itself (goleveldb tests for it
// with os.IsNotExist to create a new DB); a CURRENT that names no
// manifest gives a *storage.ErrCorrupted.
func (s *Storage) GetMeta() (storage.FileDesc, error) {
	if err := s.usable(); err != nil {
		return storage.FileDesc{}, err
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	pending, err := s.pendingCurrents()
	if err != nil {
		return storage.FileDesc{}, err
	}
	fd, curErr := s.readCurrent(currentName)
	if curErr == nil {
		s.removeAll(pending)
		return fd, nil
	}
	if !errors.Is(curErr, fs.ErrNotExist) && !isCorrupted(curErr) {
		return storage.FileDesc{}, curErr
	}
	for _, name := range pending {
		fd, err := s.readCurrent(name)
		if err == nil {
			if err := s.setMeta(fd); err != nil {
				return storage.FileDesc{}, err
			}
			s.removeAll(pending)
			return fd, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !isCorrupted(err) {
			return storage.FileDesc{}, err
		}
	}
	return storage.FileDesc{}, mustNotExist(curErr)
}

// pendingCurrents lists the CURRENT.n files, newest first.
func (s *Storage) pendingCurrents() ([]string, error) {
	names, err := s.fs.List(s.dir)
	if err != nil {
		return nil, err
	}
	type pending struct {
		name string
		num  int64
	}
	var ps []pending
	for _, n := range names {
		if num, ok := strings.CutPrefix(n, currentName+"."); ok {
			if v, err := strconv.ParseInt(num, 10, 64); err == nil {
				ps = append(ps, pending{n, v})
			}
		}
	}
	slices.SortFunc(ps, func(a, b pending) int { return -cmpInt(a.num, b.num) })
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.name
	}
	return out, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// removeAll removes leftovers; a failure leaves one for the next open.
func (s *Storage) removeAll(names []string) {
	for _, n := range names {
		if err := s.m.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.Log(fmt.Sprintf("remove %s: %v", n, err))
		}
	}
}

// readCurrent reads the manifest a CURRENT file names and checks that the
// manifest exists.
func (s *Storage) readCurrent(name string) (storage.FileDesc, error) {
	f, err := s.m.Open(name)
	if err != nil {
		return storage.FileDesc{}, err
	}
	b, err := io.ReadAll(io.LimitReader(f, 256))
	f.Close()
	if err != nil {
		return storage.FileDesc{}, err
	}
	line, ok := strings.CutSuffix(string(b), "\n")
	fd, parsed := parseName(line)
	if !ok || !parsed || fd.Type != storage.TypeManifest {
		return storage.FileDesc{}, &storage.ErrCorrupted{Fd: storage.FileDesc{Type: storage.TypeManifest}, Err: fmt.Errorf("%s: %w", name, errCorruptCurrent)}
	}
	if _, err := s.fs.Stat(filepath.Join(s.dir, fileName(fd))); err != nil {
		return storage.FileDesc{}, err
	}
	return fd, nil
}

func isCorrupted(err error) bool {
	var c *storage.ErrCorrupted
	return errors.As(err, &c)
}
