package dict

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/atrest/atrest/ctr"
)

// Data keys: rotation, the entry a new file gets, the keystream of an
// entry, and the count of files per key that decides when a key that is
// no longer current is dropped.

// needsRotation: keyMu held.
func (m *Manager) needsRotation() bool {
	method := m.cfg.DataEncryptionMethod
	if method == ctr.Plaintext {
		return false
	}
	k, ok := m.keys.CurrentKey()
	switch {
	case !ok, k.Method != method:
		return true
	case m.cfg.DataKeyRotationPeriod > 0 && m.now().Sub(k.Created) >= m.cfg.DataKeyRotationPeriod:
		return true
	case k.Exposed && m.mk.Current.Secure():
		return true
	}
	return false
}

// rotateLocked makes a new current data key and stores the key dictionary;
// on failure the old key stays current. keyMu held for writing.
func (m *Manager) rotateLocked(ctx context.Context) error {
	prev := m.keys.Current
	k, err := m.keys.NewKey(m.cfg.DataEncryptionMethod, m.now())
	if err != nil {
		return fmt.Errorf("dict: rotate data key: %w", err)
	}
	m.fail("rotate.before-save")
	if err := m.keys.Save(context.WithoutCancel(ctx), m.fs, m.keyPath(), m.mk); err != nil {
		m.keys.Current = prev
		m.keys.Drop(k.ID)
		return fmt.Errorf("dict: rotate data key: %w", err)
	}
	m.fail("rotate.after-save")
	m.ops.mu.Lock()
	m.ops.rotations.DataKeyRotations++
	m.ops.mu.Unlock()
	return nil
}

// dropUnusedLocked drops the keys no file uses (never the current one).
// keyMu held for writing.
func (m *Manager) dropUnusedLocked(ctx context.Context) error {
	m.refMu.Lock()
	var unused []uint64
	for _, id := range m.keys.IDs() {
		if id != m.keys.Current && m.refs[id] == 0 {
			unused = append(unused, id)
		}
	}
	m.refMu.Unlock()
	if len(unused) == 0 {
		return nil
	}
	for _, id := range unused {
		m.keys.Drop(id)
	}
	if err := m.keys.Save(context.WithoutCancel(ctx), m.fs, m.keyPath(), m.mk); err != nil {
		// The keys stay on disk until the next save: harmless.
		return fmt.Errorf("dict: drop unused data keys: %w", err)
	}
	return nil
}

// RotateDataKey makes a new current data key now, whatever its age.
func (m *Manager) RotateDataKey(ctx context.Context) error {
	if err := m.usable(); err != nil {
		return err
	}
	if m.files == nil || m.cfg.DataEncryptionMethod == ctr.Plaintext {
		return fmt.Errorf("dict: no data key to rotate: the method is plaintext")
	}
	m.keyMu.Lock()
	defer m.keyMu.Unlock()
	// Close releases the keys under keyMu after marking the Manager
	// closed: checked again here, a rotation racing Close cannot save an
	// emptied dictionary over the real one.
	if err := m.usable(); err != nil {
		return err
	}
	if err := m.rotateLocked(ctx); err != nil {
		return err
	}
	return m.dropUnusedLocked(ctx)
}

// DataKeys returns the ids of the data keys and the current one, once
// the removals under way have settled (a key goes with its last file).
func (m *Manager) DataKeys() (ids []uint64, current uint64) {
	if m.keys == nil {
		return nil, 0
	}
	m.removing.settleAll()
	m.keyMu.RLock()
	defer m.keyMu.RUnlock()
	return m.keys.IDs(), m.keys.Current
}

// freshEntry chooses the entry of a new file: the current data key and a
// random IV. It returns with keyMu held for reading; the caller releases
// it once the entry is durable (and counted), so no rotation can drop the
// key in between. A due rotation happens here first.
func (m *Manager) freshEntry(ctx context.Context) (Entry, error) {
	m.keyMu.RLock()
	if m.needsRotation() {
		m.keyMu.RUnlock()
		m.keyMu.Lock()
		err := m.usable() // see RotateDataKey
		if err == nil && m.needsRotation() {
			if err = m.rotateLocked(ctx); err == nil {
				err = m.dropUnusedLocked(ctx)
			}
		}
		m.keyMu.Unlock()
		if err != nil {
			return Entry{}, err
		}
		m.keyMu.RLock()
	}
	if m.cfg.DataEncryptionMethod == ctr.Plaintext {
		return Entry{Method: ctr.Plaintext}, nil
	}
	k, ok := m.keys.CurrentKey()
	if !ok {
		m.keyMu.RUnlock()
		return Entry{}, fmt.Errorf("dict: no current data key")
	}
	e := Entry{KeyID: k.ID, Method: k.Method}
	_, _ = rand.Read(e.IV[:])
	return e, nil
}

// stream returns the keystream for an entry; nil for plaintext.
func (m *Manager) stream(name string, e Entry, ok bool) (*ctr.Stream, error) {
	if !ok || e.Method == ctr.Plaintext {
		return nil, nil
	}
	m.keyMu.RLock()
	defer m.keyMu.RUnlock()
	k, found := m.keys.Get(e.KeyID)
	if !found {
		return nil, fmt.Errorf("dict: %s: %w (key id %d)", name, ErrDataKeyMissing, e.KeyID)
	}
	if k.Method != e.Method {
		return nil, fmt.Errorf("dict: %s: entry says %s but data key %d is %s", name, e.Method, e.KeyID, k.Method)
	}
	s, err := ctr.New(e.Method, k.Bytes(), e.IV[:])
	if err != nil {
		return nil, fmt.Errorf("dict: %s: %w", name, err)
	}
	return s, nil
}

// ref adjusts the file count of a data key.
func (m *Manager) ref(e Entry, ok bool, delta int) {
	if !ok || e.Method == ctr.Plaintext {
		return
	}
	m.refMu.Lock()
	m.refs[e.KeyID] += delta
	if m.refs[e.KeyID] <= 0 {
		delete(m.refs, e.KeyID)
	}
	m.refMu.Unlock()
}

// afterRelease drops a data key whose last file went, unless it is
// current. Errors are not the caller's: the key simply stays stored.
func (m *Manager) afterRelease(e Entry, ok bool) {
	if !ok || e.Method == ctr.Plaintext {
		return
	}
	m.refMu.Lock()
	unused := m.refs[e.KeyID] == 0
	m.refMu.Unlock()
	if !unused {
		return
	}
	m.keyMu.Lock()
	defer m.keyMu.Unlock()
	if m.keys != nil && e.KeyID != m.keys.Current {
		_ = m.dropUnusedLocked(context.Background())
	}
}

// withStream pairs an opened file with its entry's keystream, closing the
// file if there is none to be had.
func (m *Manager) withStream(h Handle, rel string, e Entry, ok bool) (Handle, *ctr.Stream, error) {
	s, err := m.stream(rel, e, ok)
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return h, s, nil
}

// outdated: see Maintenance.Outdated.
func (m *Manager) outdated(e Entry, ok bool, olderThan time.Duration) bool {
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
	case olderThan <= 0:
		return true
	}
	k, found := m.keys.Get(e.KeyID)
	if !found {
		return true
	}
	return m.now().Sub(k.Created) >= olderThan
}
