// Package dicttest is what the tests of the packages above dict (the
// operator's, the master-key backends') share about a dict.Manager:
// writing and reading its files, and checking a directory after a
// master-key rotation was killed. dict's own tests cannot use it (it
// imports dict).
package dicttest

import (
	"testing"

	"github.com/atrest/atrest/dict"
)

// WriteFile creates name through m, writes data, syncs and closes it.
func WriteFile(t testing.TB, m *dict.Manager, name string, data []byte) {
	t.Helper()
	f, err := m.Create(name)
	if err != nil {
		t.Fatal(err)
	}
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

// ReadFile reads the whole of name through m.
func ReadFile(m *dict.Manager, name string) ([]byte, error) {
	f, err := m.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && len(b) > 0 {
		return nil, err
	}
	return b, nil
}
