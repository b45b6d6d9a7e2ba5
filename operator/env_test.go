package operator

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/encfile"
	"github.com/atrest/atrest/keyenv"
)

// testEnv is a data directory and a master key file beside it.
type testEnv struct {
	t       *testing.T
	dir     string
	keyPath string
	now     time.Time
	mu      sync.Mutex
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(root, "master.key")
	if err := os.WriteFile(keyPath, []byte(strings.Repeat("5c", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, dir: dir, keyPath: keyPath, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
}

func (e *testEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *testEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *testEnv) config(method ctr.Method) keyenv.Config {
	c := keyenv.DefaultConfig()
	c.DataEncryptionMethod = method
	c.MasterKey = keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: e.keyPath}
	return c
}

func (e *testEnv) open(method ctr.Method, opts ...dict.Option) *dict.Manager {
	e.t.Helper()
	m, err := dict.Open(context.Background(), e.dir, e.config(method), append([]dict.Option{dict.WithClock(e.clock)}, opts...)...)
	if err != nil {
		e.t.Fatalf("open with %s: %v", method, err)
	}
	return m
}

func writeFile(t *testing.T, m *dict.Manager, name string, data []byte) {
	t.Helper()
	f, err := m.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, f, data)
}

// writeAll writes data to f, syncs and closes it.
func writeAll(t *testing.T, f *encfile.File, data []byte) {
	t.Helper()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, m *dict.Manager, name string) []byte {
	t.Helper()
	b, err := readAll(m, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

func content(name string, n int) []byte {
	b := bytes.Repeat([]byte(name+"|"), n/(len(name)+1)+1)
	return b[:n]
}
