// Package fuzz holds atrest's fuzz targets and differential tests: each
// target drives a layer with fuzzed input and checks it against an
// independent implementation (crypto/cipher for AES, gmsm for SM4) or
// against its own invariants. Run them with make fuzz; go test runs their
// seed corpora.
package fuzz
