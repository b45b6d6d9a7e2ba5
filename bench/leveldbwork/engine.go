// Package leveldbwork plugs goleveldb (github.com/syndtr/goleveldb) into
// encbench's engine workloads (package bench/engine): plaintext on
// goleveldb's own file storage, atrest on leveldbstore, and the peer on
// PeerStorage, each counted (CountStorage, CountFS) when the storage
// counts.
package leveldbwork

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/leveldbstore"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/storage"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// Engine is goleveldb for the engine workloads: its workloads are
// leveldb-fillseq, leveldb-fillrandom and leveldb-readrandom.
var Engine = engine.Engine{Name: "leveldb", Title: "goleveldb on leveldbstore", Open: openEngine}

// engineDB is a goleveldb DB for the engine workloads.
type engineDB struct {
	db   *leveldb.DB
	opts *opt.Options
	stor storage.Storage // closed after the DB
}

// options are the DB's options: goleveldb's defaults but the block cache,
// which is Options.CacheSize (goleveldb does not charge its memtable to
// the cache, unlike Pebble), so that random reads go to the files as
// much as they do on Pebble. The write buffer and the compaction triggers
// are spelled out because Quiesce reads them.
func options(o engine.Options) *opt.Options {
	return &opt.Options{
		BlockCacheCapacity:  int(o.CacheSize),
		WriteBuffer:         4 << 20,
		CompactionL0Trigger: 4,
		CompactionTotalSize: 10 << 20,
	}
}

func openEngine(ctx context.Context, dir string, st engine.Storage, opts engine.Options) (engine.DB, error) {
	var stor storage.Storage
	switch st.Kind {
	case engine.Plaintext, engine.Peer:
		if st.Kind == engine.Peer && st.Peer == nil {
			return nil, fmt.Errorf("leveldbwork: peer storage without a cipher: %w", engine.ErrKind)
		}
		fstor, err := storage.OpenFile(dir, false)
		if err != nil {
			return nil, err
		}
		stor = fstor
		if st.Counts != nil {
			stor = NewCountStorage(stor, st.Counts)
		}
		if st.Kind == engine.Peer {
			stor = NewPeerStorage(stor, st.Peer, rand.Reader)
		}
	case engine.Atrest:
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		base := fsys.OS()
		if st.Counts != nil {
			base = NewCountFS(base, st.Counts)
		}
		kcfg := keyenv.DefaultConfig()
		kcfg.DataEncryptionMethod = st.Method
		kcfg.MasterKey = st.MasterKey
		s, err := leveldbstore.Open(ctx, dir, kcfg, base)
		if err != nil {
			return nil, err
		}
		stor = s
	default:
		return nil, fmt.Errorf("leveldbwork: %w %q", engine.ErrKind, st.Kind)
	}
	o := options(opts)
	db, err := leveldb.Open(stor, o)
	if err != nil {
		return nil, errors.Join(err, stor.Close())
	}
	return &engineDB{db: db, opts: o, stor: stor}, nil
}

// Set writes without syncing (goleveldb's default write options).
func (d *engineDB) Set(key, value []byte) error { return d.db.Put(key, value, nil) }

// Get returns goleveldb's copy of the value: there is nothing to release.
func (d *engineDB) Get(key []byte) ([]byte, func(), error) {
	v, err := d.db.Get(key, nil)
	if err != nil {
		return nil, nil, err
	}
	return v, func() {}, nil
}

// Flush writes the memtable out. goleveldb has no flush of its own: a
// compaction of every key writes the memtable to a table first, then
// compacts the tables (the workloads flush only while loading, untimed,
// and compact next anyway).
func (d *engineDB) Flush() error { return d.db.CompactRange(util.Range{}) }

// Compact compacts lo to hi (goleveldb takes no context).
func (d *engineDB) Compact(_ context.Context, lo, hi []byte) error {
	return d.db.CompactRange(util.Range{Start: lo, Limit: hi})
}

func (d *engineDB) Close() error { return errors.Join(d.db.Close(), d.stor.Close()) }
