// Package leveldbstore makes goleveldb (github.com/syndtr/goleveldb)
// encrypt every file it writes: Storage is a storage.Storage that keeps
// the data directory's file and key dictionaries through a dict.Manager
// and encrypts each file with its own IV under the current data key. Give
// it to leveldb.Open in place of storage.OpenFile; OpenDB does both.
//
// Every file that holds user data is encrypted: tables, journals,
// manifests, CURRENT (and its temporaries), and the info log LOG (and
// LOG.old), whose compaction lines name keys. The LOCK file, which holds
// no data, is not. Counter mode adds no bytes, and any range of a file
// can be read without its neighbours: ReadAt decrypts in the caller's
// buffer, with no copy and no allocation. Writes go through pooled
// buffers (goleveldb reuses its buffers after a write, so they are left
// as they were), with no allocation.
//
// The layout is goleveldb's own (LOCK, LOG, CURRENT, MANIFEST-nnnnnn,
// nnnnnn.log, nnnnnn.ldb), so a directory goleveldb's file storage wrote
// opens here: its files have no dictionary entries and read as plaintext,
// and what is written from then on is encrypted.
//
// What differs from storage.OpenFile, for safety: every file written gets
// a fresh IV, LOG included (an existing LOG becomes LOG.old at Open, as
// LevelDB does, rather than being appended to under its old IV after a
// crash may have cut it); the first Sync of every file written also syncs
// the directory, so a file whose contents goleveldb made durable cannot
// lose its name in a power cut (goleveldb's storage does this for
// manifests only); SetMeta syncs the manifest it names before CURRENT
// names it (goleveldb v1.0.0 does not, and a power cut can then leave
// CURRENT naming an empty manifest: the DB does not open); CURRENT is
// replaced by an atomic rename the Manager records, and a CURRENT.n left
// by a crash during the very first SetMeta is taken up, as goleveldb's
// storage does.
//
// The whole directory lives on one fsys.FS (the operating system's by
// default), dictionaries and lock files included, so a test can run it on
// a crash-simulating file system.
package leveldbstore
