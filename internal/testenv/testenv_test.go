package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/keyenv"
)

// TestKeyFileAndConfig checks that the key file holds 32 bytes of the
// given value with mode 0600 and opens as a key file, and that Config
// names the method and that file.
func TestKeyFileAndConfig(t *testing.T) {
	dir := t.TempDir()
	mk := FileMasterKey(t, dir, "k.key", 0x5c)
	if mk.Type != keyenv.KindFile || mk.Path != filepath.Join(dir, "k.key") {
		t.Fatalf("master key %+v", mk)
	}
	data, err := os.ReadFile(mk.Path)
	if err != nil || string(data) != strings.Repeat("5c", 32)+"\n" {
		t.Fatalf("key file %q, %v", data, err)
	}
	if fi, err := os.Stat(mk.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v, %v", fi.Mode(), err)
	}
	b, err := keyenv.OpenKeyFile(mk.Path)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	c := Config(ctr.Methods[len(ctr.Methods)-1], mk.Path)
	if c.DataEncryptionMethod != ctr.Methods[len(ctr.Methods)-1] || c.MasterKey.Type != keyenv.KindFile || c.MasterKey.Path != mk.Path {
		t.Fatalf("config %+v", c)
	}
}

// TestClock checks that the clock starts at Start and moves only by
// Advance.
func TestClock(t *testing.T) {
	c := NewClock()
	if !c.Now().Equal(Start) {
		t.Fatalf("clock starts at %v, want %v", c.Now(), Start)
	}
	c.Advance(time.Hour)
	if got := c.Now(); !got.Equal(Start.Add(time.Hour)) {
		t.Fatalf("after an hour: %v", got)
	}
}

// TestDataDir: the data directory is root/data, and it exists.
func TestDataDir(t *testing.T) {
	root := t.TempDir()
	dir := DataDir(t, root)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || dir != filepath.Join(root, "data") {
		t.Fatalf("data directory %q: %v", dir, err)
	}
}
