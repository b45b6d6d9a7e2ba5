// Package testenv makes what the tests of several packages need to open
// an encrypted store: master key files, the keyenv.Config that uses one,
// and a clock a test can move. It imports only keyenv and ctr, so the
// internal tests of dict (and of anything keyenv does not import) can
// use it without an import cycle.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/keyenv"
)

// KeyFile writes the master key file dir/name, 32 bytes of b in hex and a
// newline with mode 0600, and returns its path.
func KeyFile(t testing.TB, dir, name string, b byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.Repeat(fmt.Sprintf("%02x", b), 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// FileMasterKey writes a KeyFile and returns its master-key
// configuration.
func FileMasterKey(t testing.TB, dir, name string, b byte) keyenv.MasterKeyConfig {
	t.Helper()
	return keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: KeyFile(t, dir, name, b)}
}

// Config is keyenv.DefaultConfig with data method method and the master
// key file at keyPath.
func Config(method ctr.Method, keyPath string) keyenv.Config {
	c := keyenv.DefaultConfig()
	c.DataEncryptionMethod = method
	c.MasterKey = keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: keyPath}
	return c
}

// Start is when a Clock of NewClock starts.
var Start = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// Clock is a clock that stands still until Advance moves it; it is safe
// for concurrent use (a Manager's background work reads it).
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at Start.
func NewClock() *Clock { return &Clock{now: Start} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// DataDir makes the data directory root/data and returns its path.
func DataDir(t testing.TB, root string) string {
	t.Helper()
	dir := filepath.Join(root, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
