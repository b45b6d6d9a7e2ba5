package operator

import (
	"context"
	"fmt"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/keyenv"
)

// RotateMasterKey reseals m's key dictionary under a new master key while
// the Manager stays open: reads, writes and creates go on, waiting only
// for the moment the dictionary file is replaced. to may name any backend
// type (a key file, KMS, a keyring); opts go to keyenv.OpenBackend.
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
func RotateMasterKey(ctx context.Context, m *dict.Manager, to keyenv.MasterKeyConfig, opts ...keyenv.Option) error {
	mt := m.Maintenance()
	if err := mt.Err(); err != nil {
		return err
	}
	b, err := keyenv.OpenBackend(ctx, to, opts...)
	if err != nil {
		return fmt.Errorf("dict: rotate master key: opening the new key: %w", err)
	}
	return mt.ReplaceMasterKey(ctx, to, b)
}
