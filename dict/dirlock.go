package dict

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
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

// lockPatience is how long lockDataDir retries a held lock.
const lockPatience = 200 * time.Millisecond

// lockDataDir opens (creating it if need be) and locks LockName in dir.
// The returned file holds the lock until it is closed.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dict: lock %s: %w", path, err)
	}
	err = lockFile(f)
	// A lock just released can still be held for a moment: a child the
	// process forked shares the lock's open file until it execs and
	// closes its copy (seen in tests that start processes in parallel).
	// So a held lock is tried again for lockPatience before it is taken
	// for another Manager's.
	for deadline := time.Now().Add(lockPatience); errors.Is(err, ErrLocked) && time.Now().Before(deadline); {
		time.Sleep(lockPatience / 20)
		err = lockFile(f)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("dict: %s: %w", dir, err)
		}
		return nil, fmt.Errorf("dict: lock %s: %w", path, err)
	}
	return f, nil
}
