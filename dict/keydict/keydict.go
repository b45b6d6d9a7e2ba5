// Package keydict is the key dictionary of atrest's encryption at rest:
// the data keys, which one is current, and for each its method, creation
// time and whether it was ever stored under an insecure master key. The
// dictionary is one small file, sealed as a whole by the master key
// (keyenv) and replaced atomically on every change.
//
// Data keys live in keyenv.Secret memory: locked, out of core dumps, zeroed
// when released.
package keydict

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/keyenv"
)

// Label is what the master key seals the key dictionary under.
const Label = "key-dictionary"

// The plaintext inside the sealed blob (docs/FORMAT.md has the table):
//
//	magic "ATKD" | version u8 | current key id u64 | key count u32 |
//	per key: id u64 | method u8 | created i64 Unix seconds | flags u8
//	(bit 0: exposed) | key length u8 | key
const (
	magic        = "ATKD"
	version      = 1
	headerBytes  = len(magic) + 1 + 8 + 4
	keyFixed     = 8 + 1 + 8 + 1 + 1
	flagExposed  = 1
	maxKeyBytes  = 32
	maxDictBytes = 64 << 20
)

// Errors callers can test with errors.Is.
var (
	// ErrUnknownVersion: the dictionary was written by a later format.
	ErrUnknownVersion = errors.New("unknown version")
	// ErrCorrupt: the dictionary opened but its contents are malformed.
	ErrCorrupt = errors.New("key dictionary is corrupt")
	// ErrNoKey: a key id the dictionary does not hold.
	ErrNoKey = errors.New("no such data key")
)

// Key is one data key.
type Key struct {
	ID      uint64
	Method  ctr.Method
	Created time.Time
	// Exposed is true once the key has been stored under an insecure
	// (plaintext) master key: it is then known to anyone who read the disk.
	Exposed bool
	secret  *keyenv.Secret
}

// Bytes returns the key material. It aliases locked memory that Dict.Drop
// and Dict.Release zero: do not keep it.
func (k *Key) Bytes() []byte { return k.secret.Bytes() }

// Dict is the key dictionary in memory. It is not safe for concurrent use;
// its owner (dict.Manager) serialises access.
type Dict struct {
	Current uint64 // id of the key new files use; 0 when there is none
	keys    map[uint64]*Key
}

// New returns an empty dictionary.
func New() *Dict { return &Dict{keys: make(map[uint64]*Key)} }

// Get returns the key with the given id.
func (d *Dict) Get(id uint64) (*Key, bool) {
	k, ok := d.keys[id]
	return k, ok
}

// CurrentKey returns the current key, if there is one.
func (d *Dict) CurrentKey() (*Key, bool) { return d.Get(d.Current) }

// IDs lists the key ids in increasing order.
func (d *Dict) IDs() []uint64 {
	ids := make([]uint64, 0, len(d.keys))
	for id := range d.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Len is the number of keys.
func (d *Dict) Len() int { return len(d.keys) }

// NewKey makes a fresh random key for method, with a random id that is
// never 0 and never one already in the dictionary, and makes it current.
func (d *Dict) NewKey(method ctr.Method, now time.Time) (*Key, error) {
	if err := checkMethod(method); err != nil {
		return nil, err
	}
	secret, err := keyenv.RandomSecret(method.KeySize())
	if err != nil {
		return nil, err
	}
	id := d.freshID()
	k := &Key{ID: id, Method: method, Created: now.UTC().Truncate(time.Second), secret: secret}
	d.keys[id] = k
	d.Current = id
	return k, nil
}

// checkMethod refuses a method that has no data key.
func checkMethod(method ctr.Method) error {
	if method == ctr.Plaintext || !method.Valid() {
		return fmt.Errorf("keydict: no data key for method %v", method)
	}
	return nil
}

// freshID returns a random id that is not 0 and not in the dictionary.
func (d *Dict) freshID() uint64 {
	var id uint64
	for id == 0 || d.keys[id] != nil {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = binary.BigEndian.Uint64(b[:])
	}
	return id
}

// Drop removes a key that no file uses any more, zeroing it. The current
// key cannot be dropped.
func (d *Dict) Drop(id uint64) error {
	if id == d.Current {
		return fmt.Errorf("keydict: key %d is current", id)
	}
	k, ok := d.keys[id]
	if !ok {
		return fmt.Errorf("keydict: %w: %d", ErrNoKey, id)
	}
	k.secret.Release()
	delete(d.keys, id)
	return nil
}

// Release zeroes every key.
func (d *Dict) Release() {
	for _, k := range d.keys {
		k.secret.Release()
	}
	clear(d.keys)
	d.Current = 0
}

// encode writes the dictionary's plaintext into locked memory.
func (d *Dict) encode() (*keyenv.Secret, error) {
	n := headerBytes
	for _, k := range d.keys {
		n += keyFixed + len(k.Bytes())
	}
	out, err := keyenv.NewSecret(n)
	if err != nil {
		return nil, err
	}
	b := out.Bytes()[:0]
	b = append(b, magic...)
	b = append(b, version)
	b = binary.BigEndian.AppendUint64(b, d.Current)
	b = binary.BigEndian.AppendUint32(b, uint32(len(d.keys)))
	for _, id := range d.IDs() {
		k := d.keys[id]
		b = binary.BigEndian.AppendUint64(b, k.ID)
		b = append(b, byte(k.Method))
		b = binary.BigEndian.AppendUint64(b, uint64(k.Created.Unix()))
		var flags byte
		if k.Exposed {
			flags |= flagExposed
		}
		b = append(b, flags, byte(len(k.Bytes())))
		b = append(b, k.Bytes()...)
	}
	return out, nil
}

// decode parses a dictionary's plaintext, copying keys into their own
// locked memory.
func decode(p []byte) (*Dict, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("keydict: %w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
	if len(p) < len(magic)+1 || string(p[:len(magic)]) != magic {
		return nil, bad("no header")
	}
	if p[4] != version {
		return nil, fmt.Errorf("keydict: %w %d (this build reads version %d)", ErrUnknownVersion, p[4], version)
	}
	if len(p) < headerBytes {
		return nil, bad("truncated header")
	}
	d := New()
	d.Current = binary.BigEndian.Uint64(p[5:])
	n := int(binary.BigEndian.Uint32(p[13:]))
	off := headerBytes
	for i := 0; i < n; i++ {
		if len(p)-off < keyFixed {
			d.Release()
			return nil, bad("truncated at key %d of %d", i, n)
		}
		id := binary.BigEndian.Uint64(p[off:])
		method := ctr.Method(p[off+8])
		created := time.Unix(int64(binary.BigEndian.Uint64(p[off+9:])), 0).UTC()
		flags := p[off+17]
		klen := int(p[off+18])
		off += keyFixed
		switch {
		case id == 0 || d.keys[id] != nil:
			d.Release()
			return nil, bad("key id %d is zero or repeated", id)
		case !method.Valid() || method == ctr.Plaintext || klen != method.KeySize():
			d.Release()
			return nil, bad("key %d: method %v with a %d-byte key", id, method, klen)
		case flags&^flagExposed != 0:
			d.Release()
			return nil, bad("key %d: unknown flags %#x", id, flags)
		case len(p)-off < klen:
			d.Release()
			return nil, bad("key %d truncated", id)
		}
		secret, err := keyenv.NewSecret(klen)
		if err != nil {
			d.Release()
			return nil, err
		}
		copy(secret.Bytes(), p[off:off+klen])
		off += klen
		d.keys[id] = &Key{ID: id, Method: method, Created: created, Exposed: flags&flagExposed != 0, secret: secret}
	}
	if off != len(p) {
		d.Release()
		return nil, bad("%d bytes after the last key", len(p)-off)
	}
	if d.Current != 0 && d.keys[d.Current] == nil {
		d.Release()
		return nil, bad("current key %d is not in the dictionary", d.Current)
	}
	return d, nil
}

// Load reads and opens the key dictionary at path on fs with the master
// keys. When only the previous master key opened it, the dictionary is
// stored again under the current one before Load returns (the rotation
// finishes), and resealed is true; on a read-only view (fsys.ReadOnly)
// nothing is stored and resealed is false. A missing file is an error
// wrapping fs.ErrNotExist.
func Load(ctx context.Context, fs fsys.FS, path string, mk *keyenv.MasterKeys) (d *Dict, resealed bool, err error) {
	blob, err := fsys.ReadFile(fs, path)
	if err != nil {
		return nil, false, fmt.Errorf("keydict: %w", err)
	}
	secret, again, err := mk.Unseal(ctx, Label, blob)
	if err != nil {
		return nil, false, fmt.Errorf("keydict: %s: %w", path, err)
	}
	defer secret.Release()
	if d, err = decode(secret.Bytes()); err != nil {
		return nil, false, fmt.Errorf("%w (in %s)", err, path)
	}
	if again != nil && !fsys.IsReadOnly(fs) {
		if !mk.Current.Secure() {
			d.markExposed()
			// Sealed under plaintext: the flag must be inside the blob.
			if again, err = d.seal(ctx, mk.Current); err != nil {
				d.Release()
				return nil, false, err
			}
		}
		if err := fsys.WriteAtomic(fs, path, again); err != nil {
			d.Release()
			return nil, false, fmt.Errorf("keydict: store resealed %s: %w", path, err)
		}
		return d, true, nil
	}
	return d, false, nil
}

// Save seals the dictionary under the current master key and replaces the
// file at path on fs atomically. Under an insecure master key every key is
// marked exposed first, so the mark is stored with it.
func (d *Dict) Save(ctx context.Context, fs fsys.FS, path string, mk *keyenv.MasterKeys) error {
	if !mk.Current.Secure() {
		d.markExposed()
	}
	blob, err := d.seal(ctx, mk.Current)
	if err != nil {
		return err
	}
	if err := fsys.WriteAtomic(fs, path, blob); err != nil {
		return fmt.Errorf("keydict: write %s: %w", path, err)
	}
	return nil
}

func (d *Dict) seal(ctx context.Context, b keyenv.Backend) ([]byte, error) {
	plain, err := d.encode()
	if err != nil {
		return nil, err
	}
	defer plain.Release()
	if len(plain.Bytes()) > maxDictBytes {
		return nil, fmt.Errorf("keydict: %d keys is too many", len(d.keys))
	}
	blob, err := b.Seal(ctx, Label, plain.Bytes())
	if err != nil {
		return nil, fmt.Errorf("keydict: seal: %w", err)
	}
	return blob, nil
}

func (d *Dict) markExposed() {
	for _, k := range d.keys {
		k.Exposed = true
	}
}
