package pebblev1fs

import (
	"context"
	"errors"
	"fmt"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/keyenv"
	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// DB is a Pebble v1 DB on an encrypting FS; Close closes both.
type DB struct {
	*pebble.DB
	// FS is the encrypting file system the DB runs on.
	FS *FS
}

// OpenDB opens the encrypting FS on dir over base (nil: vfs.Default) and
// Pebble on it with opts (nil: Pebble's defaults; opts.FS is replaced by
// the encrypting FS): the one call an application changes to turn
// encryption on.
func OpenDB(ctx context.Context, dir string, cfg keyenv.Config, base vfs.FS, opts *pebble.Options, dictOpts ...dict.Option) (*DB, error) {
	efs, err := Open(ctx, dir, cfg, base, dictOpts...)
	if err != nil {
		return nil, err
	}
	o := &pebble.Options{}
	if opts != nil {
		o = opts.Clone()
	}
	o.FS = efs
	db, err := pebble.Open(dir, o)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("pebblev1fs: open pebble: %w", err), efs.Close())
	}
	return &DB{DB: db, FS: efs}, nil
}

// Close closes the DB, then its FS.
func (d *DB) Close() error {
	return errors.Join(d.DB.Close(), d.FS.Close())
}
