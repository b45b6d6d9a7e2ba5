package keyenv

import (
	"context"
	"encoding/binary"
	"fmt"
)

// OpenKeyringBackend returns the backend for the key called name in the
// keyring file at path. Blobs are sealed under the key's latest version and
// record which version, so rotating the key in the keyring (RotateKey, from
// this process or another) takes effect for the next seal without a
// restart, and older blobs still open. The backend owns the keyring and
// closes it.
func OpenKeyringBackend(path, name string, password []byte, opts ...Option) (Backend, error) {
	kr, err := OpenKeyring(path, password, opts...)
	if err != nil {
		return nil, err
	}
	if _, _, err := kr.key(name, 0); err != nil {
		kr.Close()
		return nil, err
	}
	return NewEnvelope(&keyringKey{kr: kr, name: name}), nil
}

type keyringKey struct {
	kr   *Keyring
	name string
}

func (k *keyringKey) Kind() Kind { return KindKeyring }
func (k *keyringKey) ID() string { return "keyring:" + k.kr.path + "#" + k.name }
func (k *keyringKey) Close() error {
	k.kr.Close()
	return nil
}

// refresh picks up versions another process added since the keyring was
// read; a file that vanished or went bad keeps the keys already held.
func (k *keyringKey) refresh() error {
	k.kr.mu.Lock()
	defer k.kr.mu.Unlock()
	if k.kr.kek == nil {
		return fmt.Errorf("%w: %s", errClosed, k.ID())
	}
	return k.kr.refreshLocked()
}

// A keyring key reference: u8 name length, name, u32 version, key check.
func (k *keyringKey) SealingKey(context.Context, string) (*Secret, []byte, error) {
	if err := k.refresh(); err != nil {
		return nil, nil, err
	}
	key, e, err := k.kr.key(k.name, 0)
	if err != nil {
		return nil, nil, err
	}
	ref := make([]byte, 0, 1+len(e.Name)+4+keyCheckBytes)
	ref = append(ref, byte(len(e.Name)))
	ref = append(ref, e.Name...)
	ref = binary.BigEndian.AppendUint32(ref, e.Version)
	return key, append(ref, keyCheck(key.Bytes())...), nil
}

func (k *keyringKey) UnsealingKey(_ context.Context, _ string, ref []byte) (*Secret, error) {
	if len(ref) < 1 || len(ref) != 1+int(ref[0])+4+keyCheckBytes {
		return nil, fmt.Errorf("keyenv: %s: %w: bad keyring key reference", k.ID(), ErrCorruptBlob)
	}
	name := string(ref[1 : 1+ref[0]])
	version := binary.BigEndian.Uint32(ref[1+ref[0]:])
	check := ref[len(ref)-keyCheckBytes:]
	if name != k.name {
		return nil, fmt.Errorf("keyenv: %s: %w: sealed under keyring key %q", k.ID(), ErrWrongMasterKey, name)
	}
	key, _, err := k.kr.key(name, version)
	if err != nil {
		// Maybe another process rotated since we read the file.
		if rerr := k.refresh(); rerr != nil {
			return nil, rerr
		}
		if key, _, err = k.kr.key(name, version); err != nil {
			return nil, fmt.Errorf("keyenv: %s: %w: the keyring has no version %d", k.ID(), ErrWrongMasterKey, version)
		}
	}
	if !keyCheckMatches(key.Bytes(), check) {
		key.Release()
		return nil, fmt.Errorf("keyenv: %s: %w: version %d is another key", k.ID(), ErrWrongMasterKey, version)
	}
	return key, nil
}

// KeyIdentity is the check value of the key version that sealed: the end
// of the reference SealingKey made.
func (k *keyringKey) KeyIdentity(ref []byte) []byte { return ref[len(ref)-keyCheckBytes:] }

// HoldsKey reports whether a version of the key has the check value
// identity, reading the keyring again if none has: another process may
// have rotated the key since.
func (k *keyringKey) HoldsKey(identity []byte) bool {
	if len(identity) != keyCheckBytes {
		return false
	}
	if k.kr.holdsCheck(k.name, identity) {
		return true
	}
	return k.refresh() == nil && k.kr.holdsCheck(k.name, identity)
}
