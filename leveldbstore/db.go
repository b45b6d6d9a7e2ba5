package leveldbstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/keyenv"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// DB is a goleveldb DB on an encrypting Storage; Close closes both.
type DB struct {
	*leveldb.DB
	// Storage is the encrypting storage the DB runs on.
	Storage *Storage
}

// OpenDB opens the encrypting Storage on dir over base (nil: the
// operating system's file system) and goleveldb on it with o (nil:
// goleveldb's defaults): the one call that replaces leveldb.OpenFile.
func OpenDB(ctx context.Context, dir string, cfg keyenv.Config, base fsys.FS, o *opt.Options, dictOpts ...dict.Option) (*DB, error) {
	s, err := Open(ctx, dir, cfg, base, dictOpts...)
	if err != nil {
		return nil, err
	}
	db, err := leveldb.Open(s, o)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("leveldbstore: open leveldb: %w", err), s.Close())
	}
	return &DB{DB: db, Storage: s}, nil
}

// Close closes the DB, then its Storage.
func (d *DB) Close() error {
	return errors.Join(d.DB.Close(), d.Storage.Close())
}
