package dict

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"sync"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/exportdoc"
	"github.com/atrest/atrest/dict/keydict"
)

// Adopting files from another data directory (operator.Import): with the
// Manager held still, the data keys they need are added to the key
// dictionary, which is stored, and only then are their entries recorded.
// A crash in between leaves keys no file uses, which the next Open drops.

// recordWorkers bounds the entries Record records at once: the file
// dictionary commits concurrent inserts with one fsync, so recording many
// entries costs a few fsyncs rather than one each.
const recordWorkers = 8

// NamedEntry is an entry and the name it is recorded under (relative to
// the data directory, with forward slashes).
type NamedEntry struct {
	Name  string
	Entry Entry
}

// Locked is the Manager held still: every operation on its files waits
// (open files keep working), no removal is under way, and no data key is
// rotated or dropped, until Unlock. What a tool checks meanwhile stays
// true until it records what it decided. The Manager's own operations must
// not be called while it is held: they would wait for Unlock.
type Locked struct {
	m    *Manager
	keys bool // keyMu is held
}

// Lock holds the Manager still (see Locked), once the removals under way
// are settled; ErrClosed or ErrNeedsReopen if it no longer works.
func (mt *Maintenance) Lock() (*Locked, error) {
	m := mt.m
	m.treeMu.Lock()
	m.removing.settleAll()
	if err := m.usable(); err != nil {
		m.treeMu.Unlock()
		return nil, err
	}
	l := &Locked{m: m}
	if m.keys != nil {
		m.keyMu.Lock()
		l.keys = true
	}
	return l, nil
}

// Unlock lets the Manager go on.
func (l *Locked) Unlock() {
	if l.keys {
		l.m.keyMu.Unlock()
	}
	l.m.treeMu.Unlock()
}

// Encrypted reports whether the directory has dictionaries (see
// Manager.Encrypted); without them there is nowhere to record an entry.
func (l *Locked) Encrypted() bool { return l.m.files != nil }

// Lookup returns rel's entry (rel as Maintenance.Rel gives it).
func (l *Locked) Lookup(rel string) (Entry, bool) {
	if l.m.files == nil {
		return Entry{}, false
	}
	return l.m.files.Get(rel)
}

// SameKey reports whether data key id is here with this method and these
// bytes.
func (l *Locked) SameKey(id uint64, method ctr.Method, secret []byte) bool {
	if !l.keys {
		return false
	}
	k, ok := l.m.keys.Get(id)
	return ok && k.Method == method && hmac.Equal(k.Bytes(), secret)
}

// AddKeys puts keys (from an export document, with its ids) into the key
// dictionary and stores it, sealed under this Manager's master key, and
// returns the map from the keys' ids to the dictionary's: a key whose
// bytes are already here is reused (and marked exposed if the other copy
// was), one whose id is free keeps it, and one whose id another key has
// gets a fresh id. When it fails, nothing is changed.
func (l *Locked) AddKeys(ctx context.Context, keys []exportdoc.Key) (map[uint64]uint64, error) {
	m := l.m
	if !l.keys {
		return nil, fmt.Errorf("dict: import: %w", ErrMissingKeyDictionary)
	}
	ids := make(map[uint64]uint64, len(keys))
	var added []uint64
	var marked []*keydict.Key
	undo := func() {
		for _, id := range added {
			_ = m.keys.Drop(id)
		}
		for _, k := range marked {
			k.Exposed = false
		}
	}
	for _, xk := range keys {
		if k, ok := m.keys.Find(xk.Method, xk.Bytes); ok {
			ids[xk.ID] = k.ID
			if xk.Exposed && !k.Exposed {
				// Known to whoever read the other disk: so it is here.
				k.Exposed = true
				marked = append(marked, k)
			}
			continue
		}
		k, err := m.keys.Add(xk.ID, xk.Method, xk.Created, xk.Exposed, xk.Bytes)
		if err != nil {
			undo()
			return nil, fmt.Errorf("dict: import: %w", err)
		}
		added = append(added, k.ID)
		ids[xk.ID] = k.ID
	}
	if len(added) == 0 && len(marked) == 0 {
		return ids, nil
	}
	m.fail("import.before-key-dict")
	if err := m.keys.Save(ctx, m.fs, m.keyPath(), m.mk); err != nil {
		undo()
		return nil, fmt.Errorf("dict: import: store the key dictionary: %w", err)
	}
	m.fail("import.after-key-dict")
	return ids, nil
}

// Record records the entries, a few at a time so that the file dictionary
// commits them in groups; their data keys must be in the key dictionary
// (AddKeys). When one fails it records no more, takes back those it
// recorded, so that the same entries can be recorded again, and drops the
// keys no file uses any more, as far as the disk allows.
func (l *Locked) Record(ctx context.Context, entries []NamedEntry) error {
	if l.m.files == nil && len(entries) > 0 {
		return fmt.Errorf("dict: import: %w", ErrNotInitialized)
	}
	recorded, err := l.record(entries)
	if err != nil {
		return errors.Join(err, l.unrecord(ctx, recorded))
	}
	return nil
}

// record records the entries and returns those it recorded, also on
// failure.
func (l *Locked) record(todo []NamedEntry) (recorded []NamedEntry, err error) {
	m := l.m
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan NamedEntry)
	for range min(recordWorkers, len(todo)) {
		wg.Go(func() {
			for it := range next {
				_, _, err := m.record(it.Name, it.Entry)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					recorded = append(recorded, it)
				}
				mu.Unlock()
				if err == nil {
					m.fail("import.after-entry")
				}
			}
		})
	}
	for _, it := range todo {
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed {
			break
		}
		next <- it
	}
	close(next)
	wg.Wait()
	return recorded, errors.Join(errs...)
}

// unrecord takes back the entries record recorded before it failed, then
// drops the keys no file uses any more.
func (l *Locked) unrecord(ctx context.Context, recorded []NamedEntry) error {
	m := l.m
	var errs []error
	for _, it := range recorded {
		if err := m.files.Remove(it.Name); err != nil {
			// The entry stays, correct for its file: an import resumed
			// takes it as imported.
			errs = append(errs, fmt.Errorf("dict: import: take back the entry of %s: %w", it.Name, err))
			continue
		}
		m.ref(it.Entry, true, -1)
	}
	if l.keys {
		if err := m.dropUnusedLocked(context.WithoutCancel(ctx)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
