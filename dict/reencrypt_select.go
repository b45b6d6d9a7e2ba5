package dict

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/atrest/atrest/ctr"
)

// What ReencryptAll re-encrypts: the files whose entry differs from what
// a file created now gets (another method, or a data key old enough), and
// the leftovers of interrupted re-encryptions it removes first.

// reencryptCandidate is a file ReencryptAll selected and its size then.
type reencryptCandidate struct {
	rel  string
	size int64
}

// reencryptSelect removes leftover temporary files (and entries of
// temporary files that were never created) and lists, sorted by name, the
// files that need re-encrypting. It walks the directory rather than the
// file dictionary: plaintext files have no entry.
func (m *Manager) reencryptSelect(ctx context.Context, opt ReencryptOptions) ([]reencryptCandidate, error) {
	var sel []reencryptCandidate
	var temps []string
	walkErr := filepath.WalkDir(m.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		r, err := filepath.Rel(m.dir, p)
		if err != nil {
			return err
		}
		r = filepath.ToSlash(r)
		switch {
		case IsDictionaryFile(r):
			return nil
		case IsReencryptTemp(r):
			temps = append(temps, r)
			return nil
		case opt.Filter != nil && !opt.Filter(r):
			return nil
		}
		e, ok := m.files.Get(r)
		if !m.reencryptNeeded(e, ok, opt.OlderThan, true) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		sel = append(sel, reencryptCandidate{rel: r, size: info.Size()})
		return nil
	})
	if walkErr != nil {
		return nil, fmt.Errorf("dict: reencrypt: listing %s: %w", m.dir, walkErr)
	}
	// A crash between a temporary file's entry and its creation leaves
	// the entry alone, holding its data key.
	m.files.Range(func(name string, _ Entry) bool {
		if IsReencryptTemp(name) && !slices.Contains(temps, name) {
			temps = append(temps, name)
		}
		return true
	})
	var errs []error
	for _, t := range temps {
		// Claimed like a re-encryption of the file it belongs to, so that
		// a Reencrypt of that file running now keeps its temporary file.
		base := strings.TrimSuffix(t, ReencryptTempSuffix)
		if !m.reenc.claim(base) {
			continue
		}
		if err := m.removeTemp(t); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("dict: reencrypt: removing the leftover %s: %w", t, err))
		}
		m.reenc.release(base)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(sel, func(a, b reencryptCandidate) int { return strings.Compare(a.rel, b.rel) })
	return sel, nil
}

// removeTemp removes a re-encryption temporary file and its entry: Remove
// for the names Remove refuses (rel reserves them).
func (m *Manager) removeTemp(rel string) error {
	if err := m.usable(); err != nil {
		return err
	}
	return m.removeRel(rel)
}

// reencryptNeeded reports whether a file with entry e (ok false: none)
// differs from what a file created now gets: another method, or another
// data key. For ReencryptAll (all true) another data key counts only when
// it is at least olderThan old; a key the dictionary lacks counts, so the
// file's failure shows.
func (m *Manager) reencryptNeeded(e Entry, ok bool, olderThan time.Duration, all bool) bool {
	m.keyMu.RLock()
	defer m.keyMu.RUnlock()
	method := m.cfg.DataEncryptionMethod
	plain := !ok || e.Method == ctr.Plaintext
	switch {
	case method == ctr.Plaintext:
		return !plain
	case plain, e.Method != method:
		return true
	case m.keys == nil:
		return false
	case e.KeyID == m.keys.Current:
		return false
	case !all, olderThan <= 0:
		return true
	}
	k, found := m.keys.Get(e.KeyID)
	if !found {
		return true
	}
	return m.now().Sub(k.Created) >= olderThan
}
