package ctr

import (
	"errors"
	"fmt"
	"strings"
)

// Method is a data encryption method: a block cipher run in counter mode, or
// Plaintext. Its zero value is not a valid method, so an unset configuration
// field is never mistaken for one.
type Method uint8

// The methods atrest can encrypt a file with. The names ParseMethod accepts
// and String returns are the ones TiKV's data-encryption-method uses.
const (
	// Plaintext stores data as it is; a Stream for it copies src to dst.
	Plaintext Method = iota + 1
	// AES128CTR is AES with a 128-bit key in counter mode.
	AES128CTR
	// AES192CTR is AES with a 192-bit key in counter mode.
	AES192CTR
	// AES256CTR is AES with a 256-bit key in counter mode.
	AES256CTR
	// SM4CTR is SM4 (GB/T 32907-2016) with a 128-bit key in counter mode.
	SM4CTR
)

// Methods lists every valid method in the order of their values.
var Methods = []Method{Plaintext, AES128CTR, AES192CTR, AES256CTR, SM4CTR}

var methodNames = [...]string{
	Plaintext: "plaintext",
	AES128CTR: "aes128-ctr",
	AES192CTR: "aes192-ctr",
	AES256CTR: "aes256-ctr",
	SM4CTR:    "sm4-ctr",
}

// ErrUnknownMethod is returned (wrapped) by ParseMethod for a name that is
// not a method, and by New for a Method value that is not one.
var ErrUnknownMethod = errors.New("unknown encryption method")

// ParseMethod returns the method named s: "plaintext", "aes128-ctr",
// "aes192-ctr", "aes256-ctr" or "sm4-ctr". Case and surrounding spaces are
// ignored. Any other name is an error wrapping ErrUnknownMethod that lists
// the valid names.
func ParseMethod(s string) (Method, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for _, m := range Methods {
		if methodNames[m] == name {
			return m, nil
		}
	}
	return 0, fmt.Errorf("ctr: %w %q (valid: %s)", ErrUnknownMethod, s, validMethodNames())
}

func validMethodNames() string {
	names := make([]string, len(Methods))
	for i, m := range Methods {
		names[i] = methodNames[m]
	}
	return strings.Join(names, ", ")
}

// Valid reports whether m is one of the defined methods.
func (m Method) Valid() bool {
	return m >= Plaintext && m <= SM4CTR
}

// String returns the method's name as ParseMethod accepts it, or
// "Method(N)" for a value that is not a method.
func (m Method) String() string {
	if m.Valid() {
		return methodNames[m]
	}
	return fmt.Sprintf("Method(%d)", uint8(m))
}

// KeySize returns the key length in bytes that New requires for m: 0 for
// Plaintext, 16, 24 and 32 for AES, 16 for SM4, and 0 for an invalid value.
func (m Method) KeySize() int {
	switch m {
	case AES128CTR, SM4CTR:
		return 16
	case AES192CTR:
		return 24
	case AES256CTR:
		return 32
	}
	return 0
}

// IVSize is the length of the initialization vector of every cipher method:
// one 16-byte block, the counter of the first block of the stream.
const IVSize = 16
