package keyenv

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/atrest/atrest/fsys"
)

// The keyring file format (docs/FORMAT.md has the table):
//
//	magic "ATKR" | version u8 | kdf u8 (1 = argon2id) | time u32 |
//	memory KiB u32 | threads u8 | salt (16) | password check (8) |
//	nonce (12) | AES-256-GCM(payload) with everything before the nonce as
//	associated data
//
// The payload is a u16 entry count and, per entry, a u8 name length, the
// name, a u32 version, the creation time as i64 Unix seconds and the 32-byte
// key; entries are sorted by name, then version.
const (
	keyringMagic      = "ATKR"
	keyringVersion    = 1
	kdfArgon2id       = 1
	saltBytes         = 16
	pwCheckBytes      = 8
	keyringHeaderSize = len(keyringMagic) + 2 + 4 + 4 + 1 + saltBytes + pwCheckBytes
	maxKeyNameBytes   = 64
	entryFixedBytes   = 1 + 4 + 8 + masterKeyBytes
	maxKeyringEntries = 1<<16 - 1
)

// KDFParams are the argon2id parameters a keyring's password is stretched
// with; they are stored in the keyring file.
type KDFParams struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
}

// DefaultKDFParams are RFC 9106's second recommended argon2id setting:
// 3 passes over 64 MiB with 4 lanes (about 0.1 s here).
var DefaultKDFParams = KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

// KDFLimits bound the argon2id parameters OpenKeyring accepts from a file.
type KDFLimits struct {
	MaxTime      uint32
	MaxMemoryKiB uint32
}

// DefaultKDFLimits accept up to 64 passes over 4 GiB.
var DefaultKDFLimits = KDFLimits{MaxTime: 64, MaxMemoryKiB: 4 << 20}

func (p KDFParams) check(l KDFLimits) error {
	switch {
	case p.Time < 1 || p.MemoryKiB < 8*uint32(max(p.Threads, 1)) || p.Threads < 1:
		return fmt.Errorf("argon2id parameters time=%d memory=%d KiB threads=%d are below the minimum (time ≥ 1, threads ≥ 1, memory ≥ 8 KiB per thread)", p.Time, p.MemoryKiB, p.Threads)
	case p.Time > l.MaxTime || p.MemoryKiB > l.MaxMemoryKiB:
		return fmt.Errorf("argon2id parameters time=%d memory=%d KiB exceed the limits time ≤ %d, memory ≤ %d KiB", p.Time, p.MemoryKiB, l.MaxTime, l.MaxMemoryKiB)
	}
	return nil
}

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
		return nil, fmt.Errorf("keyenv: keyring %s: %w", path, ErrNoPassword)
	}
	if err := params.check(KDFLimits{MaxTime: ^uint32(0), MaxMemoryKiB: ^uint32(0)}); err != nil {
		return nil, fmt.Errorf("keyenv: keyring %s: %w", path, err)
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
		return nil, fmt.Errorf("keyenv: keyring %s: %w", path, err)
	}
	defer unlock()
	if _, err := os.Lstat(path); err == nil {
		k.Close()
		return nil, fmt.Errorf("keyenv: keyring %s: %w", path, fs.ErrExist)
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
	o := buildOptions(opts)
	k := &Keyring{path: path}
	if err := k.load(password, o.kdfLimits); err != nil {
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
		return fmt.Errorf("keyenv: keyring %s: %w", k.path, err)
	}
	h, err := parseKeyringHeader(data, limits)
	if err != nil {
		return fmt.Errorf("keyenv: keyring %s: %w", k.path, err)
	}
	kek := k.kek
	if password != nil {
		if kek, err = deriveKEK(password, h.salt, h.params); err != nil {
			return err
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
		return fmt.Errorf("keyenv: keyring %s: %w", k.path, ErrWrongPassword)
	}
	payload, err := openKeyringPayload(kek.Bytes(), data, h)
	if err != nil {
		release()
		return fmt.Errorf("keyenv: keyring %s: %w", k.path, err)
	}
	entries, err := decodeKeyringPayload(payload.Bytes())
	if err != nil {
		payload.Release()
		release()
		return fmt.Errorf("keyenv: keyring %s: %w", k.path, err)
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

type keyringHeader struct {
	params KDFParams
	salt   []byte
	check  []byte
}

func parseKeyringHeader(data []byte, limits KDFLimits) (keyringHeader, error) {
	var h keyringHeader
	if len(data) < len(keyringMagic)+1 || string(data[:len(keyringMagic)]) != keyringMagic {
		return h, fmt.Errorf("%w: not a keyring file", ErrBadKeyring)
	}
	if v := data[4]; v != keyringVersion {
		return h, fmt.Errorf("%w %d (this build reads keyring version %d)", ErrUnknownVersion, v, keyringVersion)
	}
	if len(data) < keyringHeaderSize+nonceBytes+tagBytes+2 {
		return h, fmt.Errorf("%w: truncated", ErrBadKeyring)
	}
	if data[5] != kdfArgon2id {
		return h, fmt.Errorf("%w: unknown key-derivation function %d", ErrBadKeyring, data[5])
	}
	h.params = KDFParams{
		Time:      binary.BigEndian.Uint32(data[6:]),
		MemoryKiB: binary.BigEndian.Uint32(data[10:]),
		Threads:   data[14],
	}
	if err := h.params.check(limits); err != nil {
		return h, fmt.Errorf("%w: %w", ErrBadKeyring, err)
	}
	h.salt = data[15 : 15+saltBytes]
	h.check = data[15+saltBytes : keyringHeaderSize]
	return h, nil
}

func deriveKEK(password, salt []byte, p KDFParams) (*Secret, error) {
	return secretFrom(argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, masterKeyBytes))
}

// passwordCheck tells a wrong password apart from an altered file.
func passwordCheck(kek []byte) []byte {
	m := hmac.New(sha256.New, kek)
	m.Write([]byte("atrest keyring password check v1"))
	return m.Sum(nil)[:pwCheckBytes]
}

func openKeyringPayload(kek, data []byte, h keyringHeader) (*Secret, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	nonce := data[keyringHeaderSize : keyringHeaderSize+nonceBytes]
	body := data[keyringHeaderSize+nonceBytes:]
	out, err := NewSecret(len(body) - tagBytes)
	if err != nil {
		return nil, err
	}
	if _, err := aead.Open(out.Bytes()[:0], nonce, body, data[:keyringHeaderSize]); err != nil {
		out.Release()
		return nil, fmt.Errorf("%w: authentication failed (the file was altered)", ErrBadKeyring)
	}
	return out, nil
}

// decodeKeyringPayload checks and indexes a decrypted payload.
func decodeKeyringPayload(p []byte) ([]keyringEntry, error) {
	if len(p) < 2 {
		return nil, fmt.Errorf("%w: payload too short", ErrBadKeyring)
	}
	n := int(binary.BigEndian.Uint16(p))
	entries := make([]keyringEntry, 0, min(n, len(p)/entryFixedBytes+1))
	off := 2
	for i := 0; i < n; i++ {
		if off >= len(p) {
			return nil, fmt.Errorf("%w: payload ends at entry %d of %d", ErrBadKeyring, i, n)
		}
		nameLen := int(p[off])
		if off+1+nameLen+entryFixedBytes-1 > len(p) {
			return nil, fmt.Errorf("%w: payload ends inside entry %d", ErrBadKeyring, i)
		}
		name := string(p[off+1 : off+1+nameLen])
		if err := checkKeyName(name); err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrBadKeyring, i, err)
		}
		off += 1 + nameLen
		e := keyringEntry{KeyringEntry: KeyringEntry{
			Name:    name,
			Version: binary.BigEndian.Uint32(p[off:]),
			Created: time.Unix(int64(binary.BigEndian.Uint64(p[off+4:])), 0).UTC(),
		}, keyOff: off + 12}
		off += 12 + masterKeyBytes
		if e.Version == 0 {
			return nil, fmt.Errorf("%w: entry %d (%s) has version 0", ErrBadKeyring, i, name)
		}
		if len(entries) > 0 {
			last := entries[len(entries)-1]
			if last.Name > name || (last.Name == name && last.Version >= e.Version) {
				return nil, fmt.Errorf("%w: entries out of order or repeated at %s version %d", ErrBadKeyring, name, e.Version)
			}
		}
		entries = append(entries, e)
	}
	if off != len(p) {
		return nil, fmt.Errorf("%w: %d bytes after the last entry", ErrBadKeyring, len(p)-off)
	}
	return entries, nil
}

func checkKeyName(name string) error {
	if len(name) == 0 || len(name) > maxKeyNameBytes {
		return fmt.Errorf("key name must be 1 to %d characters, got %d", maxKeyNameBytes, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("key name %q: only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
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
		return KeyringEntry{}, fmt.Errorf("keyenv: keyring %s: %w", k.path, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kek == nil {
		return KeyringEntry{}, fmt.Errorf("%w: keyring %s", errClosed, k.path)
	}
	unlock, err := lockFile(k.path + ".lock")
	if err != nil {
		return KeyringEntry{}, fmt.Errorf("keyenv: keyring %s: %w", k.path, err)
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
		return fmt.Errorf("keyenv: keyring %s: %w", k.path, ErrNoPassword)
	}
	if err := params.check(KDFLimits{MaxTime: ^uint32(0), MaxMemoryKiB: ^uint32(0)}); err != nil {
		return fmt.Errorf("keyenv: keyring %s: %w", k.path, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kek == nil {
		return fmt.Errorf("%w: keyring %s", errClosed, k.path)
	}
	unlock, err := lockFile(k.path + ".lock")
	if err != nil {
		return fmt.Errorf("keyenv: keyring %s: %w", k.path, err)
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
		return fmt.Errorf("keyenv: keyring %s: %w", k.path, err)
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
	aead, err := newGCM(k.kek.Bytes())
	if err != nil {
		return err
	}
	out := make([]byte, keyringHeaderSize+nonceBytes, keyringHeaderSize+nonceBytes+len(k.payload.Bytes())+tagBytes)
	copy(out, keyringMagic)
	out[4], out[5] = keyringVersion, kdfArgon2id
	binary.BigEndian.PutUint32(out[6:], k.params.Time)
	binary.BigEndian.PutUint32(out[10:], k.params.MemoryKiB)
	out[14] = k.params.Threads
	copy(out[15:], k.salt)
	copy(out[15+saltBytes:], passwordCheck(k.kek.Bytes()))
	nonce := out[keyringHeaderSize:]
	_, _ = rand.Read(nonce)
	out = aead.Seal(out, nonce, k.payload.Bytes(), out[:keyringHeaderSize])
	if err := fsys.WriteAtomic(fsys.OS(), k.path, out); err != nil {
		return fmt.Errorf("keyenv: keyring %s: %w", k.path, err)
	}
	st, err := os.Stat(k.path)
	if err != nil {
		return fmt.Errorf("keyenv: keyring %s: %w", k.path, err)
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

// Close zeroes the keyring's keys and the derived password key.
func (k *Keyring) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kek.Release()
	k.payload.Release()
	k.kek, k.payload, k.entries = nil, nil, nil
}

// ReadPassword returns a keyring password from exactly one source: the
// environment variable named env, or the file at path (one trailing
// newline is dropped). Passwords never come from command-line arguments,
// which other users can read in /proc.
func ReadPassword(env, path string, opts ...Option) (*Secret, error) {
	o := buildOptions(opts)
	switch {
	case env != "" && path != "":
		return nil, fmt.Errorf("keyenv: %w: set either password-env or password-file, not both", ErrConfig)
	case env != "":
		v := o.getenv(env)
		if v == "" {
			return nil, fmt.Errorf("keyenv: %w: environment variable %s is unset or empty", ErrNoPassword, env)
		}
		return secretFrom([]byte(v))
	case path != "":
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("keyenv: password file: %w: %w", ErrNoPassword, err)
		}
		n := len(data)
		if n > 0 && data[n-1] == '\n' {
			n--
			if n > 0 && data[n-1] == '\r' {
				n--
			}
		}
		if n == 0 {
			clear(data)
			return nil, fmt.Errorf("keyenv: %w: password file %s is empty", ErrNoPassword, path)
		}
		s, err := secretFrom(data[:n])
		clear(data)
		return s, err
	}
	return nil, fmt.Errorf("keyenv: %w: set password-env or password-file", ErrNoPassword)
}
