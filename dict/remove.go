package dict

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Removing files: the file goes first, its entry after, once the unlink
// is durable (pending.go batches the entries' removals).

// Remove deletes the file (or empty directory) name, then its entry. It
// returns once the file is unlinked; the entry's removal follows within
// milliseconds, written with other removals in one group commit after the
// directory is synced, so the entry never goes while the file could come
// back after a crash (a crash before it leaves an entry for no file, which
// is harmless). Removing a missing file still removes a leftover entry,
// and returns the file system's not-exist error.
func (m *Manager) Remove(name string) error {
	rel, err := m.name(name)
	if err != nil {
		return err
	}
	return m.removeRel(rel)
}

// removeRel is Remove for rel, a name already checked and made relative:
// it is also the way in for names Remove refuses (re-encryption's
// temporary files, see RemoveRewriteTemp).
func (m *Manager) removeRel(rel string) error {
	abs := m.abs(rel)
	if m.files == nil {
		return m.fs.Remove(abs)
	}
	defer m.lockSettled(rel, rel).unlock()
	return m.removeLocked(rel, abs)
}

// removeLocked is Remove with the name locked.
func (m *Manager) removeLocked(rel, abs string) error {
	st, _ := m.fs.Lstat(abs)
	rmErr := m.fs.Remove(abs)
	if rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
		return rmErr
	}
	// The entry's removal waits for the unlink to be durable: the file
	// dictionary's leader syncs the directories of a whole group of
	// removes first (syncRemoved), so an entry never goes while its file
	// could come back after a crash.
	m.fail("remove.after-unlink")
	if st != nil && st.IsDir() {
		return m.forgetTree(rel)
	}
	m.forgetLater(rel)
	return rmErr
}

// forgetLater queues the removal of rel's entry (see pendingRemoves);
// operations on rel settle it first. The name is locked.
func (m *Manager) forgetLater(rel string) {
	if old, ok := m.files.Get(rel); ok {
		m.removing.add(rel, old)
	}
}

// forgetBatch removes a batch of entries in one group commit and releases
// the data keys of those that went. An entry that stays (the commit
// failed) is left for no file: harmless, and its key stays.
func (m *Manager) forgetBatch(batch []pendingRemove) {
	names := make([]string, len(batch))
	for i, r := range batch {
		names[i] = r.name
	}
	_ = m.files.RemoveMany(names)
	// No operation can give these names new entries meanwhile: each one
	// waits for this batch first (settle).
	gone := batch[:0:0]
	for _, r := range batch {
		if _, still := m.files.Get(r.name); !still {
			m.ref(r.old, true, -1)
			gone = append(gone, r)
		}
	}
	for _, r := range gone {
		m.afterRelease(r.old, true)
	}
}

// forgetTree removes the entries of every name under dir (and dir).
func (m *Manager) forgetTree(dir string) error {
	var gone []Entry
	m.files.Range(func(name string, e Entry) bool {
		if name == dir || strings.HasPrefix(name, dir+"/") {
			gone = append(gone, e)
		}
		return true
	})
	if len(gone) == 0 {
		return nil
	}
	if err := m.files.RemovePrefix(dir); err != nil {
		return fmt.Errorf("dict: forget %s/: %w", dir, err)
	}
	for _, e := range gone {
		m.ref(e, true, -1)
	}
	for _, e := range gone {
		m.afterRelease(e, true)
	}
	return nil
}

// RemoveAll removes name and everything under it, then their entries.
func (m *Manager) RemoveAll(name string) error {
	rel, err := m.name(name)
	if err != nil {
		return err
	}
	abs := m.abs(rel)
	if m.files == nil {
		return m.fs.RemoveAll(abs)
	}
	m.treeMu.Lock()
	defer m.treeMu.Unlock()
	m.removing.settleAll()
	if err := m.fs.RemoveAll(abs); err != nil {
		return err
	}
	if err := m.fs.SyncDir(filepath.Dir(abs)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	m.fail("removeall.after-unlink")
	return m.forgetTree(rel)
}

// syncRemoved makes the unlinks of a group of removed files durable: one
// fsync per directory they were in.
func (m *Manager) syncRemoved(names []string) error {
	done := make(map[string]bool, 1)
	for _, n := range names {
		dir := filepath.Dir(m.abs(n))
		if done[dir] {
			continue
		}
		done[dir] = true
		if err := m.fs.SyncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
