// Package operator holds what an operator does to a data directory beside
// or between the engine's runs, built on the primitives a dict.Manager
// offers tools (dict.Manager.Maintenance): Reencrypt and ReencryptAll
// rewrite files under the current data key and method, at a rate limit and
// with progress; Export and Import move files with their keys between data
// directories under a one-time transfer key; Verify compares the
// dictionaries with the disk and ForgetMissing drops the entries of files
// that are gone; RotateMasterKey reseals the key dictionary under a new
// master key while the Manager stays open. Manager.Stats reports the
// progress and counts these leave (package dict/metrics exports them).
//
// Every function takes the Manager it works on and is safe to call while
// an engine uses it, within the contracts each states; the crash safety
// of what they change is the Manager's (see package dict).
package operator
