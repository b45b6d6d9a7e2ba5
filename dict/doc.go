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
// For operators: RotateMasterKey reseals the key dictionary under a new
// master key while the Manager stays open; Reencrypt and ReencryptAll
// rewrite files under the current data key and method; Export and Import
// move files with their keys between data directories under a one-time
// transfer key; Stats (and package dict/metrics, for Prometheus) reports
// what is encrypted with what; Entries and DataKeySecret serve inspection
// tools.
package dict
