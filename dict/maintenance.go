package dict

import (
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/keyenv"
)

// Maintenance is the Manager's surface for operators' tools, kept off the
// engine's: the primitives on which package operator builds re-encryption,
// export and import, verification and master-key rotation. Each primitive
// takes the Manager's locks as the engine's operations do, so a tool may
// use them on a Manager an engine is using; the crash safety of what they
// change (temporary files, rename intents, the recovery at Open) is the
// Manager's.
type Maintenance struct {
	m *Manager
}

// Maintenance returns the operators' primitives of m.
func (m *Manager) Maintenance() *Maintenance { return &Maintenance{m} }

// Err returns ErrClosed once the Manager is closed, the ErrNeedsReopen
// error once a failed directory sync stopped it, and nil while it works.
func (mt *Maintenance) Err() error { return mt.m.usable() }

// Rel turns a path as the Manager takes it into the file dictionary's name
// for it: relative to the data directory, cleaned, with forward slashes
// ("." for the directory itself). A path outside the data directory is
// ErrOutsideDir; a dictionary file or a re-encryption temporary file is
// ErrReserved.
func (mt *Maintenance) Rel(name string) (string, error) { return mt.m.rel(name) }

// FS is the file system the Manager works on (see WithFS): a read-only
// view for an inspection without the lock.
func (mt *Maintenance) FS() fsys.FS { return mt.m.fs }

// Failpoint calls the function given WithFailpoint with name (crash tests
// kill the process there), for the steps of operations built on these
// primitives.
func (mt *Maintenance) Failpoint(name string) { mt.m.fail(name) }

// Entries iterates over the file dictionary's entries in name order: every
// file the directory records, with its key id, method and IV. Names are
// relative to the data directory, with forward slashes. Removals under way
// are settled first, and the entries are a snapshot taken when iteration
// starts, so the loop may call the Manager. A directory that was never
// encrypted has none, nor has a closed Manager.
func (mt *Maintenance) Entries() iter.Seq2[string, Entry] {
	m := mt.m
	return func(yield func(string, Entry) bool) {
		if m.files == nil || m.usable() != nil {
			return
		}
		m.removing.settleAll()
		type named struct {
			name string
			e    Entry
		}
		var all []named
		m.files.Range(func(name string, e Entry) bool {
			all = append(all, named{name, e})
			return true
		})
		slices.SortFunc(all, func(a, b named) int { return strings.Compare(a.name, b.name) })
		for _, n := range all {
			if !yield(n.name, n.e) {
				return
			}
		}
	}
}

// DataKey describes data key id without its bytes; false if the key
// dictionary does not hold it (or the Manager is closed).
func (mt *Maintenance) DataKey(id uint64) (DataKeyInfo, bool) {
	m := mt.m
	m.keyMu.RLock()
	defer m.keyMu.RUnlock()
	if m.usable() != nil {
		return DataKeyInfo{}, false
	}
	return m.keyInfo(id)
}

// DataKeySecret returns data key id's description and a copy of its
// bytes in locked memory, which the caller releases: for an export, or an
// operator who asked to see them (encctl dump-key --show-secret). A key
// the dictionary does not hold is ErrDataKeyMissing, unwrapped.
func (mt *Maintenance) DataKeySecret(id uint64) (DataKeyInfo, *keyenv.Secret, error) {
	m := mt.m
	m.keyMu.RLock()
	defer m.keyMu.RUnlock()
	if err := m.usable(); err != nil {
		return DataKeyInfo{}, nil, err
	}
	info, ok := m.keyInfo(id)
	if !ok {
		return DataKeyInfo{}, nil, ErrDataKeyMissing
	}
	k, _ := m.keys.Get(id)
	s, err := keyenv.NewSecret(len(k.Bytes()))
	if err != nil {
		return DataKeyInfo{}, nil, err
	}
	copy(s.Bytes(), k.Bytes())
	return info, s, nil
}

// Hold calls f with name's dictionary name and entry (ok false: none, the
// file is plaintext) while the name is locked and its removal under way
// settled: no create, rename or removal of it runs meanwhile, and the data
// key the entry names stays in the key dictionary. f may read the file
// and call DataKey and DataKeySecret, not the Manager's operations on the
// name. The name is checked as the engine's operations check it (ErrClosed,
// ErrOutsideDir, ErrReserved, ErrDataDir).
func (mt *Maintenance) Hold(name string, f func(rel string, e Entry, ok bool) error) error {
	m := mt.m
	rel, err := m.name(name)
	if err != nil {
		return err
	}
	if m.files == nil {
		return f(rel, Entry{}, false)
	}
	defer m.lockSettled(rel, rel).unlock()
	e, ok := m.files.Get(rel)
	return f(rel, e, ok)
}

// Forget drops the entry of name if its file is gone, and reports the
// name's dictionary form and whether it dropped one. A name whose file
// exists, or whose existence cannot be told, or that has no entry, is left
// alone. A data key no longer used by any file goes with its last entry.
func (mt *Maintenance) Forget(name string) (rel string, dropped bool, err error) {
	m := mt.m
	if rel, err = m.rel(name); err != nil || m.files == nil {
		return rel, false, err
	}
	defer m.lockSettled(rel, rel).unlock()
	e, ok := m.files.Get(rel)
	if !ok {
		return rel, false, nil
	}
	if _, err := m.fs.Lstat(m.abs(rel)); !errors.Is(err, fs.ErrNotExist) {
		return rel, false, err // present (nil), or unknown: keep the entry
	}
	if err := m.files.Remove(rel); err != nil {
		return rel, false, fmt.Errorf("dict: forget %s: %w", rel, err)
	}
	m.ref(e, true, -1)
	m.afterRelease(e, true)
	return rel, true, nil
}

// Outdated reports whether a file with entry e (ok false: none) differs
// from what a file created now gets: another method, or a data key other
// than the current one that is at least olderThan old by the Manager's
// clock (WithClock; 0: any other key). A key the dictionary lacks counts,
// so that the file's failure shows.
func (mt *Maintenance) Outdated(e Entry, ok bool, olderThan time.Duration) bool {
	return mt.m.outdated(e, ok, olderThan)
}

// StartReencrypt marks a re-encryption run as started, for Stats (its
// Reencrypt field); false, with nothing changed, while another run is
// under way: a Manager runs one at a time.
func (mt *Maintenance) StartReencrypt(started time.Time) bool {
	return mt.m.ops.startReencrypt(started)
}

// UpdateReencrypt changes the progress Stats reports with f (nil: no
// change) and returns it as f left it.
func (mt *Maintenance) UpdateReencrypt(f func(p *ReencryptProgress)) ReencryptProgress {
	return mt.m.ops.setReencrypt(f)
}
