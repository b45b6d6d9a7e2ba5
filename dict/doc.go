// Package dict is the layer a storage engine talks to: a Manager opened on
// a data directory keeps the key dictionary (data keys, sealed by the
// master key) and the file dictionary (each file's key id, IV and method),
// hands out encrypted file handles, and keeps both dictionaries consistent
// with the file system through creates, renames, links, deletes and crashes.
//
// Every path a Manager takes is either relative to the data directory or
// an absolute path inside it; the dictionaries store them relative, so the
// directory can be moved. A file with no entry is plaintext, which is how
// files written before encryption was turned on stay readable.
//
// The Manager's methods are the engine's: opening, creating, renaming,
// linking and removing files, data-key rotation, and Stats (and package
// dict/metrics, for Prometheus), which reports what is encrypted with
// what. Operators' tools reach further through Manager.Maintenance: the
// primitives (the entries and data keys, a crash-safe rewrite of a file,
// adopting keys and entries from elsewhere, resealing the key dictionary)
// on which package operator builds re-encryption, export and import,
// verification and master-key rotation.
package dict
