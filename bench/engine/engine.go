// Package engine is what encbench's storage-engine workloads ask of an
// engine, and the workloads themselves: sequential and random fills, and
// random point reads through a small block cache, each on plaintext, on
// atrest, and on the peer (package bench/peer), as arms that take turns in
// slices (package bench/interleave).
//
// An engine (Pebble v2 in package bench/pebblework) provides one thing:
// an Engine whose Open opens a DB in a directory on the Storage asked
// for. The workloads, keys and values, loading and timing are here, the
// same for every engine.
package engine

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/atrest/atrest/bench/peer"
	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/keyenv"
)

// ErrKind is returned (wrapped) by an Engine's Open for a Storage kind it
// does not know.
var ErrKind = errors.New("engine: unknown storage kind")

// Kind is what a DB's storage does to the bytes the engine writes.
type Kind string

// The kinds of storage.
const (
	// Plaintext is the engine's own file system, unwrapped but for
	// Storage.Counts: the baseline.
	Plaintext Kind = "plaintext"
	// Atrest is atrest's adapter for the engine, with Storage.Method.
	Atrest Kind = "atrest"
	// Peer encrypts the common Go way with Storage.Peer (package
	// bench/peer): a new stream per call, IVs in memory only.
	Peer Kind = "peer"
)

// Storage is what a DB is opened on.
type Storage struct {
	Kind Kind
	// Method and MasterKey configure the Atrest kind.
	Method    ctr.Method
	MasterKey keyenv.MasterKeyConfig
	// Peer is the Peer kind's cipher.
	Peer *peer.Cipher
	// Counts, if not nil, counts the reads and writes of the engine's
	// files below the encrypting layer (for every kind, so that every
	// arm pays the same for counting): the bytes decrypted and encrypted.
	// The encrypting layer's own files (atrest's dictionaries, the lock
	// file) are not counted.
	Counts *Counts
}

// Counts are the I/O calls and bytes of a DB's files. It is safe for
// concurrent use.
type Counts struct {
	readCalls, readBytes, writeCalls, writeBytes atomic.Int64
}

// Read counts a read of n bytes.
func (c *Counts) Read(n int) {
	c.readCalls.Add(1)
	c.readBytes.Add(int64(n))
}

// Write counts a write of n bytes.
func (c *Counts) Write(n int) {
	c.writeCalls.Add(1)
	c.writeBytes.Add(int64(n))
}

// IO is a snapshot of Counts.
type IO struct {
	ReadCalls, ReadBytes, WriteCalls, WriteBytes int64
}

// Snapshot returns the counts so far.
func (c *Counts) Snapshot() IO {
	return IO{c.readCalls.Load(), c.readBytes.Load(), c.writeCalls.Load(), c.writeBytes.Load()}
}

// Add is io plus other.
func (io IO) Add(other IO) IO {
	return IO{io.ReadCalls + other.ReadCalls, io.ReadBytes + other.ReadBytes,
		io.WriteCalls + other.WriteCalls, io.WriteBytes + other.WriteBytes}
}

// Sub is io less earlier.
func (io IO) Sub(earlier IO) IO {
	return IO{io.ReadCalls - earlier.ReadCalls, io.ReadBytes - earlier.ReadBytes,
		io.WriteCalls - earlier.WriteCalls, io.WriteBytes - earlier.WriteBytes}
}

// Options size a DB.
type Options struct {
	// CacheSize is the block cache's size in bytes: what blocks get, the
	// engine's other reservations (Pebble's memtables) added on top.
	CacheSize int64
}

// DB is an engine's database open on some Storage.
type DB interface {
	// Set writes key without syncing: the cost measured is the engine's
	// (log, memtable, flushes, compactions), not the disk's flush
	// latency.
	Set(key, value []byte) error
	// Get reads key's value; release returns the value's memory to the
	// engine.
	Get(key []byte) (value []byte, release func(), err error)
	// Flush writes the memtable out.
	Flush() error
	// Compact compacts the keys from lo to hi into the engine's files.
	Compact(ctx context.Context, lo, hi []byte) error
	// Quiesce waits until no flush or compaction is in progress.
	Quiesce() error
	// Close closes the DB and its storage.
	Close() error
}

// Engine is a storage engine the workloads run on.
type Engine struct {
	// Name prefixes the engine's workloads' names: Name + "-fillseq".
	Name string
	// Title says what runs, for reports ("Pebble v2 on pebblefs").
	Title string
	// Open opens a DB in dir (made if missing) on st.
	Open func(ctx context.Context, dir string, st Storage, opts Options) (DB, error)
	// FlushEachSlice ends every fill slice with a Flush, timed, for an
	// engine whose Flush writes out the memtable alone (Pebble's; not
	// goleveldb's, which compacts the whole key range). A flush the
	// memtable's filling up starts runs beside the writes and beside a
	// compaction still running, and which of them ends first decides the
	// next compaction: two DBs given the same writes then drift apart,
	// one compacting in a round where the other does not. Flushed at the
	// end of every slice, with nothing else running, they make the same
	// flushes and the same compactions in the same rounds.
	FlushEachSlice bool
}
