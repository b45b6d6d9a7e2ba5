package keyenv

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error this package returns wraps at most a few of
// these with context (which backend, which file, which field), and none
// contains key bytes. Test for them with errors.Is.
var (
	// ErrWrongMasterKey means the master key is not the one the blob was
	// sealed under: another key file, another KMS key, a keyring without
	// that key version. MasterKeys picks the key by the blob's record; for
	// a blob of format version 1, which records none, only this error
	// makes it try the previous master key.
	ErrWrongMasterKey = errors.New("wrong master key")

	// ErrBothMasterKeysFailed means neither the master key nor the previous
	// master key opened a blob; the error names both backends.
	ErrBothMasterKeysFailed = errors.New("neither the master key nor the previous master key opens the sealed data")

	// ErrInsecureMasterKey means encryption is on but the master key is
	// absent or plaintext.
	ErrInsecureMasterKey = errors.New("master key is absent or insecure")

	// ErrResealFailed means a blob opened with the previous master key could
	// not be sealed again under the current one.
	ErrResealFailed = errors.New("cannot reseal under the current master key")

	// ErrKMSUnreachable means the key service (a KMS, Vault, a KMIP
	// server) could not be reached or did not answer in time, after
	// retries: network errors, timeouts, 5xx and throttling. The key
	// service errors are the same for every remote backend.
	ErrKMSUnreachable = errors.New("key service unreachable")

	// ErrKMSKeyNotFound means the key service does not know the configured
	// key.
	ErrKMSKeyNotFound = errors.New("key not found in the key service")

	// ErrKMSKeyDisabled means the key exists but is disabled, pending
	// deletion or otherwise not usable for this operation.
	ErrKMSKeyDisabled = errors.New("key disabled in the key service")

	// ErrKMSAccessDenied means the key service refused the caller: bad or
	// expired credentials, a signature for another region, or a missing
	// permission on the key.
	ErrKMSAccessDenied = errors.New("key service refused the request: credentials or permission")

	// ErrBadKeyFile means a master-key file is missing, unreadable or not
	// exactly 64 hex characters and a newline.
	ErrBadKeyFile = errors.New("bad master key file")

	// ErrCorruptBlob means a sealed blob is malformed or fails
	// authentication under the right master key (it was altered).
	ErrCorruptBlob = errors.New("sealed blob is corrupt")

	// ErrWrongLabel means a blob was sealed for something else than the
	// caller is opening (a blob moved to another context).
	ErrWrongLabel = errors.New("sealed blob belongs to another context")

	// ErrUnknownVersion means a sealed blob or keyring file has a format
	// version this build does not know.
	ErrUnknownVersion = errors.New("unknown format version")

	// ErrWrongBackend means a blob was sealed by another kind of backend
	// (a KMS blob given to a key-file backend, say).
	ErrWrongBackend = errors.New("sealed by another kind of master key")

	// ErrBadKeyring means a keyring file is malformed, has been altered, or
	// asks for key-derivation parameters beyond the configured limits.
	ErrBadKeyring = errors.New("bad keyring file")

	// ErrWrongPassword means the keyring password does not open the keyring.
	ErrWrongPassword = errors.New("wrong keyring password")

	// ErrKeyringKeyNotFound means the keyring has no key of that name.
	ErrKeyringKeyNotFound = errors.New("no such key in the keyring")

	// ErrKeyringKeyExists means AddKey was asked for a name already present.
	ErrKeyringKeyExists = errors.New("key already exists in the keyring")

	// ErrNoPassword means a keyring password source is unset or empty.
	ErrNoPassword = errors.New("no keyring password")

	// ErrBackendNotLinked means a master key's type and vendor need a
	// backend package the program did not import (a backend that needs an
	// SDK registers itself when imported); the message names the package.
	ErrBackendNotLinked = errors.New("backend not linked into this program")

	// ErrConfig means the configuration is invalid; the message names the
	// key and the value.
	ErrConfig = errors.New("invalid encryption configuration")
)

// prefix begins every error message of this package and of the backend
// packages built on it.
const prefix = "keyenv: "

// errorf is fmt.Errorf for this package's errors: it puts prefix in front,
// and shows an error argument that already begins with prefix (from a
// lower layer, or a backend package) without it, so that a message says
// "keyenv:" once however many layers add to it. errors.Is and errors.As
// see the arguments as they are.
func errorf(format string, args ...any) error {
	for i, a := range args {
		if err, ok := a.(error); ok && strings.HasPrefix(err.Error(), prefix) {
			args[i] = trimmed{err: err, prefix: prefix}
		}
	}
	return fmt.Errorf(prefix+format, args...)
}

// afterName is err for a message that has just named the backend id: it
// shows err without prefix and id when err begins with them (a Backend's
// errors name it), so the name is not said twice.
func afterName(id string, err error) error {
	if p := prefix + id + ": "; strings.HasPrefix(err.Error(), p) {
		return trimmed{err: err, prefix: p}
	}
	return err
}

// trimmed shows err without a prefix that the message around it already
// says; it unwraps to err.
type trimmed struct {
	err    error
	prefix string
}

func (t trimmed) Error() string { return strings.TrimPrefix(t.err.Error(), t.prefix) }
func (t trimmed) Unwrap() error { return t.err }
