package keyenv

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// A key file holds exactly keyFileHexChars hex characters and a newline.
const (
	keyFileHexChars = 2 * masterKeyBytes
	keyFileBytes    = keyFileHexChars + 1
)

// OpenKeyFile returns the backend for the master key in the key file at
// path: exactly 64 hex characters (either case) and a newline, a 256-bit
// key. Every other shape is refused with an error wrapping ErrBadKeyFile
// that says what is wrong. A key file that group or others can read is
// accepted with a warning to the logger.
func OpenKeyFile(path string, opts ...Option) (Backend, error) {
	o := ApplyOptions(opts...)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("keyenv: key file %s: %w: %w", path, ErrBadKeyFile, err)
	}
	key, err := readKeyFile(abs, o)
	if err != nil {
		return nil, err
	}
	return NewEnvelope(&fileKey{path: abs, key: key, check: keyCheck(key.Bytes())}), nil
}

func readKeyFile(path string, o Settings) (*Secret, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("keyenv: key file %s: %w: "+format, append([]any{path, ErrBadKeyFile}, args...)...)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, bad("does not exist")
	}
	if err != nil {
		return nil, bad("%w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, bad("%w", err)
	}
	switch {
	case st.IsDir():
		return nil, bad("is a directory")
	case !st.Mode().IsRegular():
		return nil, bad("is not a regular file (%s)", st.Mode().Type())
	case st.Size() == 0:
		return nil, bad("is empty")
	case st.Size() > 4*keyFileBytes:
		return nil, bad("wrong length: the file is %d bytes, want %d hex characters and a newline", st.Size(), keyFileHexChars)
	}
	if perm := st.Mode().Perm(); perm&0o044 != 0 {
		o.Logger.Warn("master key file is readable by group or others; chmod 600 it",
			"path", path, "mode", fmt.Sprintf("%04o", perm))
	}
	raw, err := NewSecret(int(st.Size()) + 1)
	if err != nil {
		return nil, err
	}
	defer raw.Release()
	n, err := io.ReadFull(f, raw.Bytes())
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, bad("%w", err)
	}
	text := raw.Bytes()[:n]
	if n == 0 {
		return nil, bad("is empty")
	}
	if n > 1 && text[n-2] == '\r' && text[n-1] == '\n' {
		return nil, bad("ends with CRLF; want a single newline (\\n)")
	}
	newline := text[n-1] == '\n'
	if newline {
		text = text[:n-1]
	}
	if len(text) != keyFileHexChars {
		return nil, bad("wrong length: %d characters before the end, want %d hex characters and a newline", len(text), keyFileHexChars)
	}
	for i, c := range text {
		if hexValue(c) < 0 {
			// The position only: even a non-hex character is not echoed.
			return nil, bad("non-hex character at position %d", i+1)
		}
	}
	if !newline {
		return nil, bad("no trailing newline")
	}
	key, err := NewSecret(masterKeyBytes)
	if err != nil {
		return nil, err
	}
	kb := key.Bytes()
	for i := range kb {
		kb[i] = byte(hexValue(text[2*i])<<4 | hexValue(text[2*i+1]))
	}
	return key, nil
}

// hexValue decodes one hex digit without a table lookup indexed by the
// secret character (encoding/hex uses one) and returns -1 for anything else.
func hexValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// fileKey is a key file's key, held for the backend's lifetime.
type fileKey struct {
	path  string
	check []byte
	mu    sync.RWMutex
	key   *Secret // nil once closed
}

func (k *fileKey) Kind() Kind { return KindFile }
func (k *fileKey) ID() string { return "file:" + k.path }

func (k *fileKey) copyKey() (*Secret, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.key == nil {
		return nil, fmt.Errorf("%w: %s", errClosed, k.ID())
	}
	c, err := NewSecret(masterKeyBytes)
	if err != nil {
		return nil, err
	}
	copy(c.Bytes(), k.key.Bytes())
	return c, nil
}

func (k *fileKey) SealingKey(context.Context, string) (*Secret, []byte, error) {
	key, err := k.copyKey()
	return key, k.check, err
}

func (k *fileKey) UnsealingKey(_ context.Context, _ string, ref []byte) (*Secret, error) {
	key, err := k.copyKey()
	if err != nil {
		return nil, err
	}
	if !keyCheckMatches(key.Bytes(), ref) {
		key.Release()
		return nil, fmt.Errorf("keyenv: %s: %w", k.ID(), ErrWrongMasterKey)
	}
	return key, nil
}

// KeyIdentity is the key check value: a blob records which key file's
// key sealed it without revealing anything of it.
func (k *fileKey) KeyIdentity([]byte) []byte { return k.check }

func (k *fileKey) HoldsKey(identity []byte) bool {
	return len(identity) == keyCheckBytes && subtle.ConstantTimeCompare(identity, k.check) == 1
}

func (k *fileKey) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.key.Release()
	k.key = nil
	return nil
}
