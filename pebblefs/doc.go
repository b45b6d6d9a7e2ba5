// Package pebblefs makes Pebble (github.com/cockroachdb/pebble/v2) encrypt
// every file it writes: FS is a vfs.FS that keeps the data directory's
// file and key dictionaries through a dict.Manager and encrypts each file
// with its own IV under the current data key, on top of any base vfs.FS:
// vfs.Default, a wrapper of it for fault injection or health checks, or
// Pebble's in-memory and crash-simulating MemFS. The whole data directory
// lives on the base, dictionaries, their temporary files and the lock
// included (NewFS adapts a vfs.FS to the Manager's file-system interface),
// so a test on vfs.NewCrashableMem cuts the power under the dictionaries
// too.
//
// Every file under the data directory is encrypted: tables, the WAL, the
// MANIFEST, OPTIONS, CURRENT and marker files. The LOCK file (made by
// Lock) is left alone: it holds no data. Counter mode adds no bytes, so
// sizes from Stat are the content's sizes, and any range of a file can be
// read without its neighbours.
//
// Nothing is copied on the I/O path: Write encrypts the caller's buffer in
// place (vfs.File allows it) and ReadAt decrypts in the caller's buffer;
// only WriteAt, which must leave its buffer alone, encrypts through pooled
// buffers. File descriptors, readahead and preallocation hints and
// SyncTo reach the base files, so Pebble's own tuning still works.
// ReuseForWrite gives a recycled WAL a fresh IV, so recycling stays on
// and no keystream is used twice.
//
// Files outside the data directory (a WAL directory elsewhere, say) are
// refused with dict.ErrOutsideDir rather than written in plaintext.
//
// The FS's Manager holds the data directory's lock (dict.LockName) while
// open, so a second engine or a modifying encctl on the same directory is
// refused with dict.ErrLocked; List hides the lock file and the
// dictionaries from Pebble.
//
// Sizing a small block cache: Pebble charges its memtables to the block
// cache (the one in use and one kept for reuse, MemTableSize each), so a
// cache must be that much larger than the room meant for blocks; an 8 MiB
// cache with 4 MiB memtables holds no blocks at all, and every read then
// fetches, and decrypts, its index blocks from the files too.
package pebblefs
