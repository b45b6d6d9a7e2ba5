package keyenv

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/atrest/atrest/fsys"
)

// KeyringEntry describes one key version in a keyring, without its bytes.
type KeyringEntry struct {
	Name    string
	Version uint32
	Created time.Time
}

// Keyring is a password-protected keyring file holding named master keys,
// each with versions (like InnoDB's keyring_encrypted_file). Changes are
// written atomically and under an exclusive lock, after re-reading the
// file, so two processes adding keys never lose one. Key bytes stay in
// locked memory. A Keyring is safe for concurrent use.
type Keyring struct {
	path string

	mu      sync.Mutex
	params  KDFParams
	salt    []byte
	kek     *Secret // the argon2id-derived key that seals the payload
	payload *Secret // the decrypted payload; entries point into it
	entries []keyringEntry
	stamp   fileStamp // the file version payload came from
}

type keyringEntry struct {
	KeyringEntry
	keyOff int // offset of the key in payload
}

// fileStamp tells whether a file changed since it was read.
type fileStamp struct {
	size    int64
	modTime time.Time
	ino     uint64
}

func stampOf(st fs.FileInfo) fileStamp {
	return fileStamp{size: st.Size(), modTime: st.ModTime(), ino: inodeOf(st)}
}

// CreateKeyring creates a new, empty keyring file at path (it must not
// exist) protected by password, stretched with params.
func CreateKeyring(path string, password []byte, params KDFParams) (*Keyring, error) {
	if len(password) == 0 {
		return nil, errorf("keyring %s: %w", path, ErrNoPassword)
	}
	if err := params.check(KDFLimits{MaxTime: ^uint32(0), MaxMemoryKiB: ^uint32(0)}); err != nil {
		return nil, errorf("keyring %s: %w", path, err)
	}
	k := &Keyring{path: path, params: params, salt: make([]byte, saltBytes)}
	_, _ = rand.Read(k.salt)
	kek, err := deriveKEK(password, k.salt, params)
	if err != nil {
		return nil, err
	}
	k.kek = kek
	if k.payload, err = NewSecret(2); err != nil {
		k.Close()
		return nil, err
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		k.Close()
		return nil, errorf("keyring %s: %w", path, err)
	}
	defer unlock()
	if _, err := os.Lstat(path); err == nil {
		k.Close()
		return nil, errorf("keyring %s: %w", path, fs.ErrExist)
	}
	if err := k.saveLocked(); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// OpenKeyring opens the keyring file at path with password. A wrong
// password gives an error wrapping ErrWrongPassword; a damaged or altered
// file, or one asking for argon2id parameters beyond the limits (see
// WithKDFLimits), ErrBadKeyring; a later format version ErrUnknownVersion.
func OpenKeyring(path string, password []byte, opts ...Option) (*Keyring, error) {
	o := ApplyOptions(opts...)
	k := &Keyring{path: path}
	if err := k.load(password, o.KDFLimits); err != nil {
		return nil, err
	}
	return k, nil
}

// load reads the file and decrypts it, deriving the key from password when
// password is not nil and reusing k.kek otherwise (the salt and parameters
// must then be unchanged, else the password is needed again).
func (k *Keyring) load(password []byte, limits KDFLimits) error {
	data, st, err := readStamped(k.path)
	if err != nil {
		return errorf("keyring %s: %w", k.path, err)
	}
	h, err := parseKeyringHeader(data, limits)
	if err != nil {
		return errorf("keyring %s: %w", k.path, err)
	}
	kek := k.kek
	if password != nil {
		if kek, err = deriveKEK(password, h.salt, h.params); err != nil {
			return errorf("keyring %s: %w", k.path, err)
		}
	} else if kek == nil || h.params != k.params || !bytes.Equal(h.salt, k.salt) {
		return fmt.Errorf("keyenv: keyring %s: its password was changed: reopen it with the new password: %w", k.path, ErrWrongPassword)
	}
	release := func() {
		if kek != k.kek {
			kek.Release()
		}
	}
	if !hmac.Equal(passwordCheck(kek.Bytes()), h.check) {
		release()
		return errorf("keyring %s: %w", k.path, ErrWrongPassword)
	}
	payload, err := openKeyringPayload(kek.Bytes(), data, h)
	if err != nil {
		release()
		return errorf("keyring %s: %w", k.path, err)
	}
	entries, err := decodeKeyringPayload(payload.Bytes())
	if err != nil {
		payload.Release()
		release()
		return errorf("keyring %s: %w", k.path, err)
	}
	if kek != k.kek {
		k.kek.Release()
		k.kek = kek
	}
	k.payload.Release()
	k.payload, k.entries, k.params, k.salt, k.stamp = payload, entries, h.params, h.salt, st
	return nil
}

func readStamped(path string) ([]byte, fileStamp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileStamp{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fileStamp{}, err
	}
	if st.IsDir() {
		return nil, fileStamp{}, fmt.Errorf("%w: is a directory", ErrBadKeyring)
	}
	if st.Size() > int64(keyringHeaderSize+nonceBytes+2+maxKeyringEntries*(entryFixedBytes+maxKeyNameBytes)+tagBytes) {
		return nil, fileStamp{}, fmt.Errorf("%w: %d bytes is too large for a keyring", ErrBadKeyring, st.Size())
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fileStamp{}, err
	}
	return data, stampOf(st), nil
}

// Path returns the keyring file's path.
func (k *Keyring) Path() string { return k.path }

// Params returns the argon2id parameters the keyring's password is
// stretched with.
func (k *Keyring) Params() KDFParams {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.params
}

// Keys lists every key version in the keyring, sorted by name and version.
func (k *Keyring) Keys() []KeyringEntry {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]KeyringEntry, len(k.entries))
	for i, e := range k.entries {
		out[i] = e.KeyringEntry
	}
	return out
}

// AddKey adds a new key called name (letters, digits, '-', '_', '.'; at
// most 64) at version 1, with 256 random bits, and saves the keyring. A
// name already present is an error wrapping ErrKeyringKeyExists.
func (k *Keyring) AddKey(name string) (KeyringEntry, error) {
	return k.addVersion(name, false)
}

// RotateKey adds the next version of the key called name and saves the
// keyring. Earlier versions stay, so blobs sealed under them still open;
// sealing uses the latest version from now on.
func (k *Keyring) RotateKey(name string) (KeyringEntry, error) {
	return k.addVersion(name, true)
}

func (k *Keyring) addVersion(name string, rotate bool) (KeyringEntry, error) {
	if err := checkKeyName(name); err != nil {
		return KeyringEntry{}, errorf("keyring %s: %w", k.path, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kek == nil {
		return KeyringEntry{}, fmt.Errorf("%w: keyring %s", errClosed, k.path)
	}
	unlock, err := lockFile(k.path + ".lock")
	if err != nil {
		return KeyringEntry{}, errorf("keyring %s: %w", k.path, err)
	}
	defer unlock()
	// Another process may have changed the file since we read it: start
	// from what is on disk, so its keys are kept.
	if err := k.refreshLocked(); err != nil {
		return KeyringEntry{}, err
	}
	last, found := k.latestLocked(name)
	switch {
	case found && !rotate:
		return KeyringEntry{}, fmt.Errorf("keyenv: keyring %s: %w: %s", k.path, ErrKeyringKeyExists, name)
	case !found && rotate:
		return KeyringEntry{}, fmt.Errorf("keyenv: keyring %s: %w: %s", k.path, ErrKeyringKeyNotFound, name)
	case found && last.Version == ^uint32(0):
		return KeyringEntry{}, fmt.Errorf("keyenv: keyring %s: key %s has no versions left", k.path, name)
	case len(k.entries) >= maxKeyringEntries:
		return KeyringEntry{}, fmt.Errorf("keyenv: keyring %s: full (%d keys)", k.path, len(k.entries))
	}
	e := KeyringEntry{Name: name, Version: last.Version + 1, Created: time.Now().UTC().Truncate(time.Second)}
	if err := k.insertLocked(e); err != nil {
		return KeyringEntry{}, err
	}
	if err := k.saveLocked(); err != nil {
		return KeyringEntry{}, err
	}
	return e, nil
}

// ChangePassword re-protects the keyring with a new password and
// parameters (a fresh salt too) and saves it.
func (k *Keyring) ChangePassword(password []byte, params KDFParams) error {
	if len(password) == 0 {
		return errorf("keyring %s: %w", k.path, ErrNoPassword)
	}
	if err := params.check(KDFLimits{MaxTime: ^uint32(0), MaxMemoryKiB: ^uint32(0)}); err != nil {
		return errorf("keyring %s: %w", k.path, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kek == nil {
		return fmt.Errorf("%w: keyring %s", errClosed, k.path)
	}
	unlock, err := lockFile(k.path + ".lock")
	if err != nil {
		return errorf("keyring %s: %w", k.path, err)
	}
	defer unlock()
	if err := k.refreshLocked(); err != nil {
		return err
	}
	salt := make([]byte, saltBytes)
	_, _ = rand.Read(salt)
	kek, err := deriveKEK(password, salt, params)
	if err != nil {
		return err
	}
	oldKEK, oldSalt, oldParams := k.kek, k.salt, k.params
	k.kek, k.salt, k.params = kek, salt, params
	if err := k.saveLocked(); err != nil {
		k.kek, k.salt, k.params = oldKEK, oldSalt, oldParams
		kek.Release()
		return err
	}
	oldKEK.Release()
	return nil
}

// refreshLocked re-reads the file if it changed since it was read.
func (k *Keyring) refreshLocked() error {
	st, err := os.Stat(k.path)
	if err != nil {
		return errorf("keyring %s: %w", k.path, err)
	}
	if stampOf(st) == k.stamp {
		return nil
	}
	return k.load(nil, KDFLimits{MaxTime: ^uint32(0), MaxMemoryKiB: ^uint32(0)})
}

func (k *Keyring) latestLocked(name string) (KeyringEntry, bool) {
	var last KeyringEntry
	found := false
	for _, e := range k.entries {
		if e.Name == name {
			last, found = e.KeyringEntry, true
		}
	}
	return last, found
}

// insertLocked adds e with a fresh random key, building a new payload.
func (k *Keyring) insertLocked(e KeyringEntry) error {
	old := k.payload.Bytes()
	grown, err := NewSecret(len(old) + entryFixedBytes + len(e.Name))
	if err != nil {
		return err
	}
	at := len(k.entries)
	for i, x := range k.entries {
		if x.Name > e.Name || (x.Name == e.Name && x.Version > e.Version) {
			at = i
			break
		}
	}
	entries := slices.Insert(slices.Clone(k.entries), at, keyringEntry{KeyringEntry: e})
	p := grown.Bytes()
	binary.BigEndian.PutUint16(p, uint16(len(entries)))
	off := 2
	for i := range entries {
		x := &entries[i]
		p[off] = byte(len(x.Name))
		off += 1 + copy(p[off+1:], x.Name)
		binary.BigEndian.PutUint32(p[off:], x.Version)
		binary.BigEndian.PutUint64(p[off+4:], uint64(x.Created.Unix()))
		key := p[off+12 : off+12+masterKeyBytes]
		if i == at {
			_, _ = rand.Read(key)
		} else {
			copy(key, old[x.keyOff:x.keyOff+masterKeyBytes])
		}
		x.keyOff = off + 12
		off += 12 + masterKeyBytes
	}
	k.payload.Release()
	k.payload, k.entries = grown, entries
	return nil
}

// saveLocked writes the keyring atomically: a temp file in the same
// directory, fsync, rename over the keyring, fsync the directory.
func (k *Keyring) saveLocked() error {
	out, err := sealKeyring(k.kek, k.params, k.salt, k.payload.Bytes())
	if err != nil {
		return err
	}
	if err := fsys.WriteAtomic(fsys.OS(), k.path, out); err != nil {
		return errorf("keyring %s: %w", k.path, err)
	}
	st, err := os.Stat(k.path)
	if err != nil {
		return errorf("keyring %s: %w", k.path, err)
	}
	k.stamp = stampOf(st)
	return nil
}

// key returns a copy of the named key version; version 0 means the latest.
func (k *Keyring) key(name string, version uint32) (*Secret, KeyringEntry, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kek == nil {
		return nil, KeyringEntry{}, fmt.Errorf("%w: keyring %s", errClosed, k.path)
	}
	var pick *keyringEntry
	for i := range k.entries {
		e := &k.entries[i]
		if e.Name == name && (version == 0 || e.Version == version) {
			pick = e
		}
	}
	if pick == nil {
		return nil, KeyringEntry{}, fmt.Errorf("keyenv: keyring %s: %w: %s version %d", k.path, ErrKeyringKeyNotFound, name, version)
	}
	s, err := NewSecret(masterKeyBytes)
	if err != nil {
		return nil, KeyringEntry{}, err
	}
	copy(s.Bytes(), k.payload.Bytes()[pick.keyOff:])
	return s, pick.KeyringEntry, nil
}

// holdsCheck reports whether a version of the key called name has the key
// check value check.
func (k *Keyring) holdsCheck(name string, check []byte) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kek == nil {
		return false
	}
	for _, e := range k.entries {
		if e.Name == name && keyCheckMatches(k.payload.Bytes()[e.keyOff:e.keyOff+masterKeyBytes], check) {
			return true
		}
	}
	return false
}

// Close zeroes the keyring's keys and the derived password key.
func (k *Keyring) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kek.Release()
	k.payload.Release()
	k.kek, k.payload, k.entries = nil, nil, nil
}
