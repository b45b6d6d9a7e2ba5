// Package keyenv is atrest's key layer: envelope encryption of small secrets
// (the key dictionary that holds the data keys) under a master key the
// operator owns.
//
// A master key comes from a Backend: a hex key file, AWS KMS, a
// password-protected keyring file, or plaintext (allowed only while the data
// method is plaintext). Every backend seals with AES-256-GCM under a fresh
// random nonce, in one versioned blob format that binds what is sealed (its
// label), the format version and the master key that sealed it (KeyRecord)
// as associated data, so a blob cannot be swapped for another's.
// MasterKeys adds TiKV's previous-master-key, picking the key a blob
// records, and master-key rotation. Every backend built on NewEnvelope
// has its calls counted (CallStats) and passes the conformance suite in
// internal/backendtest.
//
// Backends that need an SDK live in packages of their own, which register
// themselves with OpenBackend when imported (RegisterBackend), so that only
// a program that uses one links its SDK. AWS KMS is keyenv/awskms:
//
//	import _ "github.com/atrest/atrest/keyenv/awskms"
//
// A configuration naming a backend the program did not import fails with
// ErrBackendNotLinked and the package to import.
//
// Key bytes never leave locked memory that is excluded from core dumps
// (see Secret), and no error or identity string contains them.
//
// The configuration is the [security.encryption] section of a TiKV
// configuration file; see ParseConfig.
package keyenv
