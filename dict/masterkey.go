package dict

import (
	"context"
	"fmt"

	"github.com/atrest/atrest/keyenv"
)

// RotateMasterKey reseals the key dictionary under a new master key while
// the Manager stays open: reads, writes and creates go on, waiting only for
// the moment the dictionary file is replaced. to may name any backend type
// (a key file, KMS, a keyring); opts go to keyenv.OpenBackend.
//
// The dictionary is written to a temporary file, synced and renamed over
// the old one, so a crash at any moment leaves it whole under either the
// old or the new master key. The configuration the next start reads should
// therefore name the new key as master-key and the old one as
// previous-master-key until a start has opened it: that start opens
// whichever key sealed it and, if it was the old one, finishes the
// rotation (keydict.Load reseals under the current key). Change it before
// calling RotateMasterKey, so that a crash in between is covered too.
//
// A plaintext master key is refused while the data method encrypts
// (keyenv.ErrInsecureMasterKey). Data keys stored under an insecure master
// key before are marked exposed; moving to a secure one replaces the
// current data key at once, so new files stop using a key the disk showed.
// On failure nothing changes and the old master key stays in use.
func (m *Manager) RotateMasterKey(ctx context.Context, to keyenv.MasterKeyConfig, opts ...keyenv.Option) error {
	if err := m.usable(); err != nil {
		return err
	}
	b, err := keyenv.OpenBackend(ctx, to, opts...)
	if err != nil {
		return fmt.Errorf("dict: rotate master key: opening the new key: %w", err)
	}
	if err := keyenv.CheckSecure(m.cfg.DataEncryptionMethod, b); err != nil {
		b.Close()
		return fmt.Errorf("dict: rotate master key: %w", err)
	}
	raw := &keyenv.MasterKeys{Current: b}
	mk := instrument(raw, &m.ops.backend)

	m.keyMu.Lock()
	defer m.keyMu.Unlock()
	if err := m.usable(); err != nil { // see RotateDataKey
		raw.Close()
		return err
	}
	if m.keys != nil {
		m.fail("rotate-master.before-save")
		// Not cancelled half-way: a KMS call abandoned after the file
		// was written would only lose the caller's answer.
		if err := m.keys.Save(context.WithoutCancel(ctx), m.fs, m.keyPath(), mk); err != nil {
			raw.Close()
			m.ops.backend.name(m.rawMK.Current) // the stats name the old key again
			return fmt.Errorf("dict: rotate master key: %w", err)
		}
		m.fail("rotate-master.after-save")
	}
	old, ownedOld := m.rawMK, m.ownMK
	m.rawMK, m.mk, m.ownMK = raw, mk, true
	m.cfg.MasterKey, m.cfg.PreviousMasterKey = to, nil

	m.ops.mu.Lock()
	m.ops.rotations.MasterKeyRotations++
	m.ops.rotations.LastMasterKeyRotation = m.now()
	m.ops.mu.Unlock()

	var rotateErr error
	if m.keys != nil && m.needsRotation() {
		// Exposed under the old (insecure) key, or otherwise due: the
		// master key is already in place, so a failure here leaves only
		// the old data key current, as Open would.
		rotateErr = m.rotateLocked(ctx)
	}
	if ownedOld {
		if err := old.Close(); err != nil && rotateErr == nil {
			rotateErr = fmt.Errorf("dict: rotate master key: closing the old key: %w", err)
		}
	}
	return rotateErr
}
