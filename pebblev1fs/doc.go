// Package pebblev1fs makes Pebble v1 (github.com/cockroachdb/pebble
// v1.1.x, the version go-ethereum pins) encrypt every file it writes: FS
// is a vfs.FS that keeps the data directory's file and key dictionaries
// through a dict.Manager and encrypts each file with its own IV under the
// current data key, on top of any base vfs.FS: vfs.Default, a wrapper of
// it, or Pebble's in-memory and crash-simulating MemFS (vfs.NewStrictMem).
// The whole data directory lives on the base, the dictionaries, their
// temporary files and their lock included.
//
// It is package pebblefs (Pebble v2) for Pebble v1, with the same
// guarantees: every file under the data directory is encrypted (tables,
// the WAL, the MANIFEST, OPTIONS, CURRENT and marker files) but the LOCK
// file, which holds no data; each file has its own IV; counter mode adds
// no bytes, so sizes are the content's; Write encrypts the caller's buffer
// in place and ReadAt decrypts in the caller's buffer (no copy, no
// allocation); Fd, Prefetch, Preallocate, SyncTo and SyncData reach the
// base files; ReuseForWrite gives a recycled WAL a fresh IV; List hides
// the dictionaries; files outside the data directory are refused with
// dict.ErrOutsideDir. Both adapters are thin layers over the same code
// (atrest's internal/enginefs).
//
// OpenDB opens the FS and Pebble on it in one call.
package pebblev1fs
