//go:build unix

package dicttest

import (
	"bytes"
	"context"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
)

// TestFilesAndRecovery: a file WriteFile wrote reads back through
// ReadFile, also after reopening; CheckRotationRecovery accepts a
// directory under key 0 with no rotation in flight and returns key 0.
func TestFilesAndRecovery(t *testing.T) {
	root := t.TempDir()
	dir := testenv.DataDir(t, root)
	keys := []keyenv.MasterKeyConfig{testenv.FileMasterKey(t, root, "k0.key", 0x10), testenv.FileMasterKey(t, root, "k1.key", 0x11)}
	config := func(k int, prev *int) keyenv.Config {
		c := testenv.Config(ctr.AES256CTR, keys[k].Path)
		if prev != nil {
			p := keys[*prev]
			c.PreviousMasterKey = &p
		}
		return c
	}
	m, err := dict.Open(context.Background(), dir, config(0, nil))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"a": bytes.Repeat([]byte("a"), 1000), "empty": nil}
	for name, data := range files {
		WriteFile(t, m, name, data)
	}
	for name, want := range files {
		if got, err := ReadFile(m, name); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: read %d bytes, %v", name, len(got), err)
		}
	}
	if _, err := ReadFile(m, "missing"); err == nil {
		t.Error("a missing file reads")
	}
	m.Close()
	if k := CheckRotationRecovery(t, 0, dir, config, nil, 0, -1, files); k != 0 {
		t.Errorf("key in use %d, want 0", k)
	}
}
