package dict

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/atrest/atrest/dict/filedict"
)

// ErrLostEntry: the file dictionary's last write was dropped as torn, yet
// a file it gave an entry exists and holds data. Entries are recorded
// before a file is written, so that file was written under the dropped
// entry: the write was acknowledged and the dictionary damaged since,
// and without its entry the file would read as noise. Open refuses the
// directory (unless WithLostEntries) and names the files; restore
// file.dict from a backup, or, for an import a crash interrupted, run the
// import again.
var ErrLostEntry = errors.New("a file's entry is lost: the file dictionary's last write was dropped as torn, but the file it describes exists and holds data")

// WithLostEntries opens a directory whose file dictionary lost the
// entries of existing files (ErrLostEntry) anyway, for a tool or an
// operator who has decided to: the files are listed in
// Stats().Recovery.LostEntries and read as noise until their entries are
// restored.
func WithLostEntries() Option {
	return func(o *options) { o.lostEntries = true }
}

// RecoveryStats is what the Manager's open found a crash had left and
// what it did about it. All zero after a clean shutdown.
type RecoveryStats struct {
	// StaleEntriesDropped counts the file-dictionary entries dropped at
	// open because their files were gone: an entry is recorded before its
	// file is created, and a removed file's entry goes after its unlink,
	// so a crash between the two leaves one. An inspection shows them
	// (operator.Verify's MissingFiles) and drops none.
	StaleEntriesDropped int
	// TornBytes is the length of the torn last write the open dropped from
	// the file dictionary's log (0 when its log ended cleanly), and
	// TornRecords the records it could make out in it.
	TornBytes   int64
	TornRecords int
	// LostEntries names the existing, non-empty files the torn write had
	// entries for (see ErrLostEntry); only an open WithLostEntries gets
	// this far with any.
	LostEntries []string
}

// checkTail looks at what the file dictionary is about to drop as a torn
// last write (filedict.Options.CheckTail, so a refusal leaves the file as
// it was): a dropped entry for a file that exists and holds data was
// acknowledged (see ErrLostEntry), which a torn write cannot explain.
func (m *Manager) checkTail(tail filedict.Tail) error {
	m.recovery.TornBytes, m.recovery.TornRecords = tail.Bytes, len(tail.Records)
	var lost []string
	for _, r := range tail.Records {
		if r.Type != filedict.RecordInsert {
			continue // renames and removals are settled from the disk
		}
		rel, err := m.rel(r.Name)
		if err != nil {
			continue // a damaged name, or one no entry may have
		}
		st, err := m.fs.Lstat(m.abs(rel))
		if err == nil && st.Mode().IsRegular() && st.Size() > 0 && !slices.Contains(lost, rel) {
			lost = append(lost, rel)
		}
	}
	m.recovery.LostEntries = lost
	if len(lost) > 0 && !m.allowLost {
		return fmt.Errorf("dict: %s: %w: %s", m.filePath(), ErrLostEntry, strings.Join(lost, ", "))
	}
	return nil
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
