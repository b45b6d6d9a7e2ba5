package dict

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/fsys"
)

// LockName is the file in the data directory a Manager holds an exclusive
// lock on for as long as it is open, unless it was opened WithInspection
// (without WithLock) or keeps no dictionaries (plaintext on a directory
// never encrypted). It holds no data and is never removed: removing a lock
// file races whoever opens it next.
const LockName = "dict.lock"

// ErrLocked: another open Manager, in this process or another, holds the
// data directory. Two Managers writing one directory's dictionaries would
// overwrite each other's records and key rotations, so the second is
// refused; stop the engine before changing its directory with a tool.
var ErrLocked = errors.New("data directory is in use by another open Manager")

// lockDataDir takes the lock on LockName in dir (creating the file if need
// be) through the Manager's file system. Closing the returned Closer
// releases it.
func (m *Manager) lockDataDir() (io.Closer, error) {
	path := filepath.Join(m.dir, LockName)
	l, err := m.fs.Lock(path)
	switch {
	case errors.Is(err, fsys.ErrLocked):
		return nil, fmt.Errorf("dict: %s: %w", m.dir, ErrLocked)
	case err != nil:
		return nil, fmt.Errorf("dict: lock %s: %w", path, err)
	}
	return l, nil
}

// lockIfManaged takes the data directory's lock (LockName) unless it is
// held already or the Manager will keep no dictionaries: a directory never
// encrypted, opened with the plaintext method, gets no lock file.
func (m *Manager) lockIfManaged() error {
	if m.lock != nil {
		return nil
	}
	haveKeys, haveFiles, err := m.dictionaries()
	if err != nil {
		return err
	}
	if !haveKeys && !haveFiles && m.cfg.DataEncryptionMethod == ctr.Plaintext {
		return nil
	}
	m.lock, err = m.lockDataDir()
	return err
}

// unlock lets another Manager open the data directory.
func (m *Manager) unlock() {
	if m.lock != nil {
		m.lock.Close()
		m.lock = nil
	}
}
