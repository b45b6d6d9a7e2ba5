package keyenv

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/atrest/atrest/ctr"
)

// MasterKeys is the master key and, while a rotation is under way, the
// previous one (TiKV's master-key and previous-master-key).
type MasterKeys struct {
	Current  Backend
	Previous Backend // nil when no previous master key is configured
}

// OpenMasterKeys opens the backends c names. With encryption on (a data
// method other than plaintext) a plaintext or absent master key is refused
// with ErrInsecureMasterKey; the previous master key may be plaintext, which
// is how encryption is turned on for existing data.
func OpenMasterKeys(ctx context.Context, c Config, opts ...Option) (*MasterKeys, error) {
	cur, err := OpenBackend(ctx, c.MasterKey, opts...)
	if err != nil {
		return nil, errorf("master-key: %w", err)
	}
	if err := CheckSecure(c.DataEncryptionMethod, cur); err != nil {
		cur.Close()
		return nil, err
	}
	m := &MasterKeys{Current: cur}
	if c.PreviousMasterKey != nil {
		if m.Previous, err = OpenBackend(ctx, *c.PreviousMasterKey, opts...); err != nil {
			cur.Close()
			return nil, errorf("previous-master-key: %w", err)
		}
	}
	return m, nil
}

// CheckSecure refuses an insecure master key (plaintext) when the data
// method encrypts.
func CheckSecure(method ctr.Method, b Backend) error {
	if method != ctr.Plaintext && !b.Secure() {
		return fmt.Errorf("keyenv: %w: data-encryption-method is %s but the master key is %s", ErrInsecureMasterKey, method, b.ID())
	}
	return nil
}

// Unseal opens blob with the master key that sealed it. A blob records
// its master key (KeyRecord): the current master key opens it if it holds
// that key; otherwise the previous master key, if configured, opens it,
// and the secret is then sealed again under the current key and returned
// as resealed, which the caller must store in place of blob (atomically)
// to finish the rotation. resealed is nil when the current key opened the
// blob. A blob that records neither key fails without a call to either
// backend, with an error wrapping ErrWrongMasterKey (and
// ErrBothMasterKeysFailed when a previous master key is configured) that
// says which key the blob records and names both configured keys.
//
// A blob of format version 1 records no key: the current key is tried
// first and, only if that fails with ErrWrongMasterKey, the previous one;
// both failing gives ErrBothMasterKeysFailed naming both backends. Any
// other failure of the key a blob is opened with (KMS unreachable, say)
// is returned as it is. The reseal failing gives ErrResealFailed.
func (m *MasterKeys) Unseal(ctx context.Context, label string, blob []byte) (secret *Secret, resealed []byte, err error) {
	sb, err := ParseSealedBlob(blob)
	if err != nil {
		return nil, nil, err
	}
	rec, named := sb.Record()
	if !named {
		return m.unsealByTrial(ctx, label, blob)
	}
	switch {
	case m.Current.Holds(rec):
		secret, err := m.Current.Unseal(ctx, label, blob)
		return secret, nil, err
	case m.Previous != nil && m.Previous.Holds(rec):
		secret, err := m.Previous.Unseal(ctx, label, blob)
		if err != nil {
			return nil, nil, err
		}
		return m.reseal(ctx, label, secret)
	case m.Previous == nil:
		return nil, nil, errorf("%w: the data was sealed by the %s; the master key is %s",
			ErrWrongMasterKey, rec, m.Current.ID())
	}
	return nil, nil, errorf("%w: %w: the data was sealed by the %s; the master key is %s and the previous master key %s",
		ErrBothMasterKeysFailed, ErrWrongMasterKey, rec, m.Current.ID(), m.Previous.ID())
}

// unsealByTrial opens a blob that records no key (format version 1): the
// current key, then on ErrWrongMasterKey the previous one.
func (m *MasterKeys) unsealByTrial(ctx context.Context, label string, blob []byte) (*Secret, []byte, error) {
	secret, errCur := m.Current.Unseal(ctx, label, blob)
	if errCur == nil {
		return secret, nil, nil
	}
	if !errors.Is(errCur, ErrWrongMasterKey) || m.Previous == nil {
		return nil, nil, errCur
	}
	secret, errPrev := m.Previous.Unseal(ctx, label, blob)
	if errPrev != nil {
		// Each error names its backend already.
		return nil, nil, errorf("%w: master key: %w; previous master key: %w",
			ErrBothMasterKeysFailed, errCur, errPrev)
	}
	return m.reseal(ctx, label, secret)
}

// reseal seals secret, opened with the previous key, under the current
// one.
func (m *MasterKeys) reseal(ctx context.Context, label string, secret *Secret) (*Secret, []byte, error) {
	resealed, err := m.Current.Seal(ctx, label, secret.Bytes())
	if err != nil {
		secret.Release()
		return nil, nil, errorf("%w: %s: %w", ErrResealFailed, m.Current.ID(), afterName(m.Current.ID(), err))
	}
	return secret, resealed, nil
}

// Seal seals secret under the current master key.
func (m *MasterKeys) Seal(ctx context.Context, label string, secret []byte) ([]byte, error) {
	return m.Current.Seal(ctx, label, secret)
}

// Close closes both backends.
func (m *MasterKeys) Close() error {
	err := m.Current.Close()
	if m.Previous != nil {
		err = errors.Join(err, m.Previous.Close())
	}
	return err
}

// Rotate moves a sealed blob from one master key to another, possibly of
// another kind (file to KMS, KMS to keyring, ...): it opens blob with from,
// seals the secret with to, and opens the new blob with to again before
// returning it, so a blob is never handed back that the new key cannot
// open. from keeps working throughout; the caller stores the new blob.
func Rotate(ctx context.Context, from, to Backend, label string, blob []byte) ([]byte, error) {
	secret, err := from.Unseal(ctx, label, blob)
	if err != nil {
		return nil, errorf("rotate: open with %s: %w", from.ID(), afterName(from.ID(), err))
	}
	defer secret.Release()
	out, err := to.Seal(ctx, label, secret.Bytes())
	if err != nil {
		return nil, errorf("rotate: seal with %s: %w", to.ID(), afterName(to.ID(), err))
	}
	check, err := to.Unseal(ctx, label, out)
	if err != nil {
		return nil, errorf("rotate: the new blob does not open with %s: %w", to.ID(), afterName(to.ID(), err))
	}
	defer check.Release()
	if subtle.ConstantTimeCompare(check.Bytes(), secret.Bytes()) != 1 {
		return nil, fmt.Errorf("keyenv: rotate: the new blob opens with %s to different bytes", to.ID())
	}
	return out, nil
}
