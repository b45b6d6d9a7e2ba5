package dict

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"syscall"
)

// RecoveryStats is what the Manager's open found a crash had left and
// what it did about it. All zero after a clean shutdown.
type RecoveryStats struct {
	// StaleEntriesDropped counts the file-dictionary entries dropped at
	// open because their files were gone: an entry is recorded before its
	// file is created, and a removed file's entry goes after its unlink,
	// so a crash between the two leaves one. An inspection shows them
	// (Verify's MissingFiles) and drops none.
	StaleEntriesDropped int
}

// dropStaleEntries drops the entries whose files are gone, in one group
// commit. Files are looked up by listing each directory that holds an
// entry once, not by a stat per entry: a million entries in a few
// directories cost a few listings. Only the engine's own open calls it:
// it holds the lock, and nothing else runs yet.
func (m *Manager) dropStaleEntries() error {
	byDir := make(map[string][]string)
	m.files.Range(func(name string, _ Entry) bool {
		dir := path.Dir(name)
		byDir[dir] = append(byDir[dir], name)
		return true
	})
	var stale []string
	for dir, names := range byDir {
		gone, err := m.missingIn(dir, names)
		if err != nil {
			return fmt.Errorf("dict: looking for stale entries in %s: %w", m.abs(dir), err)
		}
		stale = append(stale, gone...)
	}
	if len(stale) == 0 {
		return nil
	}
	if err := m.files.RemoveMany(stale); err != nil {
		return fmt.Errorf("dict: dropping %d stale entries: %w", len(stale), err)
	}
	m.recovery.StaleEntriesDropped = len(stale)
	return nil
}

// missingIn returns the names (relative to the data directory, all in
// dir) whose files are not in dir.
func (m *Manager) missingIn(dir string, names []string) ([]string, error) {
	listed, err := m.fs.List(m.abs(dir))
	if err != nil {
		// Gone, or not a directory: ask for each name, so that only a
		// definite absence drops an entry.
		var gone []string
		for _, n := range names {
			_, err := m.fs.Lstat(m.abs(n))
			switch {
			case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
				gone = append(gone, n)
			case err != nil:
				return nil, err
			}
		}
		return gone, nil
	}
	present := make(map[string]struct{}, len(listed))
	for _, n := range listed {
		present[n] = struct{}{}
	}
	var gone []string
	for _, n := range names {
		if _, ok := present[path.Base(n)]; !ok {
			gone = append(gone, n)
		}
	}
	return gone, nil
}
