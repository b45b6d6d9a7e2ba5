// Package enginefs is what atrest's engine adapters share (pebblefs for
// Pebble v2, pebblev1fs for Pebble v1, leveldbstore for goleveldb): the
// encrypted I/O of one open file (Cipher: decrypt in the caller's buffer,
// encrypt in place or through pooled buffers, a sequential position), the
// adaptation of an engine's file system to the Manager's (Base and
// ManagerFS, so the dictionaries, their temporaries, the lock and the data
// files all live on the engine's file system, in-memory and
// crash-simulating ones included), making a data directory durably
// (MkdirAllSynced) and hiding the dictionaries from an engine's listings
// (Visible).
//
// It imports no engine: each adapter reduces its engine's file system to
// Base in a few lines.
package enginefs
