package pebblework

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/pebblefs"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Engine is Pebble v2 for the engine workloads (package bench/engine):
// plaintext on vfs.Default, atrest on pebblefs, the peer on PeerFS.
var Engine = engine.Engine{Name: "pebble", Title: "Pebble v2 on pebblefs", Open: openEngine, FlushEachSlice: true}

// engineDB is a Pebble DB for the engine workloads.
type engineDB struct {
	db    *pebble.DB
	cache interface{ Unref() }
	close func() error // the storage's, after the DB's
}

func openEngine(ctx context.Context, dir string, st engine.Storage, opts engine.Options) (engine.DB, error) {
	var base vfs.FS = vfs.Default
	if st.Counts != nil {
		base = NewCountFS(base, st.Counts)
	}
	fs, closeFS := base, func() error { return nil }
	switch st.Kind {
	case engine.Plaintext:
		if err := base.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	case engine.Atrest:
		kcfg := keyenv.DefaultConfig()
		kcfg.DataEncryptionMethod = st.Method
		kcfg.MasterKey = st.MasterKey
		efs, err := pebblefs.Open(ctx, dir, kcfg, base)
		if err != nil {
			return nil, err
		}
		fs, closeFS = efs, efs.Close
	case engine.Peer:
		if st.Peer == nil {
			return nil, fmt.Errorf("pebblework: peer storage without a cipher: %w", engine.ErrKind)
		}
		if err := base.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		fs = NewPeerFS(base, st.Peer, rand.Reader)
	default:
		return nil, fmt.Errorf("pebblework: %w %q", engine.ErrKind, st.Kind)
	}
	cache := pebble.NewCache(opts.CacheSize + memTableReserve)
	db, err := pebble.Open(dir, &pebble.Options{FS: fs, Cache: cache, Logger: quiet{}, MemTableSize: memTableSize})
	if err != nil {
		cache.Unref()
		closeFS()
		return nil, err
	}
	return &engineDB{db: db, cache: cache, close: closeFS}, nil
}

func (d *engineDB) Set(key, value []byte) error { return d.db.Set(key, value, pebble.NoSync) }

func (d *engineDB) Get(key []byte) ([]byte, func(), error) {
	v, closer, err := d.db.Get(key)
	if err != nil {
		return nil, nil, err
	}
	return v, func() { closer.Close() }, nil
}

func (d *engineDB) Flush() error { return d.db.Flush() }

func (d *engineDB) Compact(ctx context.Context, lo, hi []byte) error {
	return d.db.Compact(ctx, lo, hi, true)
}

// Quiesce polls Pebble's metrics until no flush or compaction has been in
// progress for two readings in a row (a flush's end schedules the
// compactions it makes due, so one idle reading can fall between them).
func (d *engineDB) Quiesce() error {
	for idle := 0; idle < 2; {
		m := d.db.Metrics()
		if m.Flush.NumInProgress == 0 && m.Compact.NumInProgress == 0 {
			idle++
		} else {
			idle = 0
		}
		time.Sleep(100 * time.Microsecond)
	}
	return nil
}

func (d *engineDB) Close() error {
	err := errors.Join(d.db.Close(), d.close())
	d.cache.Unref()
	return err
}
