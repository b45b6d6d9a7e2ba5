package keydict

import (
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/keyenv"
)

// Keys that arrive from elsewhere: an import (dict.Manager.Import) brings
// data keys another directory made, which this dictionary must hold next to
// its own without ever replacing one of them or making one current.

// Add puts a copy of key into the dictionary as a key of method, with the
// given creation time and exposure, without making it current: new files
// keep using the dictionary's own current key.
//
// It keeps id when id is not 0 and no key has it, so that a key keeps its
// id across an export and an import where it can (the ids an operator sees
// in both directories then agree); when id is 0 or taken it chooses a fresh
// random id, as NewKey does, because a taken id belongs to another key
// that files already name. The returned Key carries the id chosen. The
// caller's slice is copied into locked memory and may be zeroed after.
func (d *Dict) Add(id uint64, method ctr.Method, created time.Time, exposed bool, key []byte) (*Key, error) {
	if err := checkMethod(method); err != nil {
		return nil, err
	}
	if len(key) != method.KeySize() {
		return nil, fmt.Errorf("keydict: a %v key is %d bytes, got %d", method, method.KeySize(), len(key))
	}
	secret, err := keyenv.NewSecret(len(key))
	if err != nil {
		return nil, err
	}
	copy(secret.Bytes(), key)
	if id == 0 || d.keys[id] != nil {
		id = d.freshID()
	}
	k := &Key{ID: id, Method: method, Created: created.UTC().Truncate(time.Second), Exposed: exposed, secret: secret}
	d.keys[id] = k
	return k, nil
}

// Find returns the key of method whose bytes are key, if the dictionary
// holds one: an import reuses it instead of storing the same key twice
// under two ids. The comparison is constant-time per key, so the time it
// takes does not tell how much of a stored key matched.
func (d *Dict) Find(method ctr.Method, key []byte) (*Key, bool) {
	for _, id := range d.IDs() {
		k := d.keys[id]
		if k.Method == method && subtle.ConstantTimeCompare(k.Bytes(), key) == 1 {
			return k, true
		}
	}
	return nil, false
}
