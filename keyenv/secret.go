package keyenv

import (
	"crypto/rand"
	"fmt"

	"github.com/atrest/atrest/internal/secmem"
)

// Secret is key material held outside the Go heap, in memory that is locked
// against swapping and excluded from core dumps where the platform allows
// (Protection tells). Release zeroes it. A Secret is not safe for
// concurrent Release; concurrent reads of Bytes are fine.
type Secret struct {
	buf *secmem.Buffer
}

// NewSecret returns a zeroed Secret of n bytes.
func NewSecret(n int) (*Secret, error) {
	b, err := secmem.New(n)
	if err != nil {
		return nil, fmt.Errorf("keyenv: secret of %d bytes: %w", n, err)
	}
	return &Secret{buf: b}, nil
}

// RandomSecret returns a Secret of n bytes from crypto/rand: a fresh data
// key or master key.
func RandomSecret(n int) (*Secret, error) {
	s, err := NewSecret(n)
	if err != nil {
		return nil, err
	}
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(s.Bytes())
	return s, nil
}

// SecretFrom copies b into a new Secret and zeroes b, so a secret that
// had to pass through the Go heap (a KMS response, say) does not linger
// there longer than needed. b is zeroed even when SecretFrom fails.
func SecretFrom(b []byte) (*Secret, error) {
	s, err := NewSecret(len(b))
	if err != nil {
		clear(b)
		return nil, err
	}
	copy(s.Bytes(), b)
	clear(b)
	return s, nil
}

// Bytes returns the secret's bytes; nil after Release. The slice aliases
// the locked memory: do not keep it past Release.
func (s *Secret) Bytes() []byte {
	if s == nil {
		return nil
	}
	return s.buf.Bytes()
}

// Len returns the secret's length in bytes (0 after Release).
func (s *Secret) Len() int {
	return len(s.Bytes())
}

// Release zeroes the secret and returns its memory. It is safe to call
// more than once and on nil.
func (s *Secret) Release() {
	if s == nil || s.buf == nil {
		return
	}
	s.buf.Release()
	s.buf = nil
}

// String never shows key bytes, so a Secret printed by mistake (in a log
// line, say) reveals nothing.
func (s *Secret) String() string {
	return fmt.Sprintf("keyenv.Secret(%d bytes)", s.Len())
}

// GoString is String for %#v.
func (s *Secret) GoString() string { return s.String() }

// Protection reports what the platform granted for secret memory: whether
// it is locked against swapping and excluded from core dumps, and why not.
type Protection = secmem.Protection

// MemoryProtection reports the protection of the most recent secret
// allocations.
func MemoryProtection() Protection {
	return secmem.Status()
}

// HardenProcess is opt-in process hygiene: it makes the process
// non-dumpable (PR_SET_DUMPABLE 0 on Linux) and sets RLIMIT_CORE to 0, so
// not even memory that escaped Secret (round keys inside a cipher, say)
// reaches a core file. Call it early in main.
func HardenProcess() error {
	if err := secmem.DisableCoreDumps(); err != nil {
		return fmt.Errorf("keyenv: harden process: %w", err)
	}
	return nil
}
