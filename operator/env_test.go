package operator

import (
	"bytes"
	"context"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/encfile"
	"github.com/atrest/atrest/internal/dicttest"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
)

// testEnv is a data directory, a master key file beside it and the
// clock the Manager reads.
type testEnv struct {
	*testenv.Clock
	t       *testing.T
	dir     string
	keyPath string
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	root := t.TempDir()
	dir := testenv.DataDir(t, root)
	return &testEnv{Clock: testenv.NewClock(), t: t, dir: dir, keyPath: testenv.KeyFile(t, root, "master.key", 0x5c)}
}

func (e *testEnv) config(method ctr.Method) keyenv.Config {
	return testenv.Config(method, e.keyPath)
}

func (e *testEnv) open(method ctr.Method, opts ...dict.Option) *dict.Manager {
	e.t.Helper()
	m, err := dict.Open(context.Background(), e.dir, e.config(method), append([]dict.Option{dict.WithClock(e.Now)}, opts...)...)
	if err != nil {
		e.t.Fatalf("open with %s: %v", method, err)
	}
	return m
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
	b, err := dicttest.ReadFile(m, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

func content(name string, n int) []byte {
	b := bytes.Repeat([]byte(name+"|"), n/(len(name)+1)+1)
	return b[:n]
}
