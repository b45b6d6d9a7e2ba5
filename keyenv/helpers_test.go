package keyenv

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// cheapKDF keeps keyring tests fast; real keyrings use DefaultKDFParams.
var cheapKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// writeKeyFile writes a key file holding key (hex, newline) with mode 0600
// and returns its path.
func writeKeyFile(t *testing.T, dir string, key []byte) string {
	t.Helper()
	p := filepath.Join(dir, "master-"+hex.EncodeToString(key[:4])+".key")
	writeHexKey(t, p, key)
	return p
}

func writeHexKey(t testing.TB, path string, key []byte) {
	t.Helper()
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newFileBackend returns a key-file backend on a fresh random key, and the
// key.
func newFileBackend(t *testing.T) (Backend, []byte) {
	t.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(0x5a ^ i*7)
	}
	key[0] = byte(len(t.Name())) // differs between tests
	key[1] = byte(fileCounter.next())
	b, err := OpenKeyFile(writeKeyFile(t, t.TempDir(), key), WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, key
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) next() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

var fileCounter counter

// newKeyringBackend makes a keyring with one key called name and returns
// a backend on it.
func newKeyringBackend(t *testing.T, name string) (Backend, *Keyring, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyring")
	kr, err := CreateKeyring(path, []byte("correct horse"), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kr.Close)
	if _, err := kr.AddKey(name); err != nil {
		t.Fatal(err)
	}
	b, err := OpenKeyringBackend(path, name, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, kr, path
}

func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
}

// logBuffer collects log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// assertNoKeyBytes fails if err's message holds key in hex (either case)
// or raw.
func assertNoKeyBytes(t *testing.T, err error, key []byte) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	h := hex.EncodeToString(key)
	for _, s := range []string{h, strings.ToUpper(h), h[:16], strings.ToUpper(h[:16]), string(key)} {
		if strings.Contains(msg, s) {
			t.Errorf("error %q contains key material", msg)
		}
	}
}

func mustSeal(t *testing.T, b Backend, label string, secret []byte) []byte {
	t.Helper()
	blob, err := b.Seal(context.Background(), label, secret)
	if err != nil {
		t.Fatalf("%s: seal: %v", b.ID(), err)
	}
	return blob
}

func mustUnseal(t *testing.T, b Backend, label string, blob, want []byte) {
	t.Helper()
	s, err := b.Unseal(context.Background(), label, blob)
	if err != nil {
		t.Fatalf("%s: unseal: %v", b.ID(), err)
	}
	defer s.Release()
	if !bytes.Equal(s.Bytes(), want) {
		t.Fatalf("%s: unsealed %x, want %x", b.ID(), s.Bytes(), want)
	}
}

func wantErr(t *testing.T, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", targets)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Fatalf("error %q does not wrap %q", err, target)
		}
	}
}

func slogTo(w *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
