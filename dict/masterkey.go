package dict

import (
	"context"
	"fmt"

	"github.com/atrest/atrest/keyenv"
)

// ReplaceMasterKey reseals the key dictionary under b, the master key
// that to configures, while the Manager stays open: reads, writes and
// creates go on, waiting only for the moment the dictionary file is
// replaced. It takes b over: closed on failure, and by Close after
// success (operator.RotateMasterKey opens it from to and describes the
// rotation for operators).
//
// The dictionary is written to a temporary file, synced and renamed over
// the old one, so a crash at any moment leaves it whole under either the
// old or the new master key. A plaintext master key is refused while the
// data method encrypts (keyenv.ErrInsecureMasterKey). Data keys stored
// under an insecure master key before are marked exposed; moving to a
// secure one replaces the current data key at once, so new files stop
// using a key the disk showed. On failure nothing changes and the old
// master key stays in use.
func (mt *Maintenance) ReplaceMasterKey(ctx context.Context, to keyenv.MasterKeyConfig, b keyenv.Backend) error {
	m := mt.m
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
