package operator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/dicttest"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
)

func verifyEnv(t *testing.T) (dir string, cfg keyenv.Config) {
	t.Helper()
	root := t.TempDir()
	dir = filepath.Join(root, "data")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg = rotationConfig(testenv.FileMasterKey(t, root, "master.key", 0x88), nil)
	return dir, cfg
}

// TestVerify builds each kind of inconsistency behind the Manager's back
// and checks Verify reports exactly those, and that ForgetMissing drops
// only entries whose file is gone.
func TestVerify(t *testing.T) {
	dir, cfg := verifyEnv(t)
	ctx := context.Background()
	m, err := dict.Open(ctx, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { m.Close() }()
	for _, name := range []string{"a.sst", "b.sst", "sub/c.log", "gone1", "sub/gone2"} {
		dicttest.WriteFile(t, m, name, []byte(strings.Repeat(name, 100)))
	}
	r, err := Verify(ctx, m)
	if err != nil || !r.OK() || r.Entries != 5 || len(r.Unrecorded) != 0 {
		t.Fatalf("a consistent directory: %+v, %v", r, err)
	}

	// Files removed behind the Manager's back, one plaintext file, one
	// file of random bytes (an encrypted file whose entry was lost), a
	// tiny random file (too short to judge).
	for _, name := range []string{"gone1", "sub/gone2"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	noise := make([]byte, 64<<10)
	rand.Read(noise)
	os.WriteFile(filepath.Join(dir, "plain.txt"), []byte(strings.Repeat("plain text, as written before encryption\n", 200)), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "lost.sst"), noise, 0o644)
	os.WriteFile(filepath.Join(dir, "tiny"), noise[:100], 0o644)

	r, err = Verify(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() {
		t.Error("an inconsistent directory verified OK")
	}
	if want := []string{"gone1", "sub/gone2"}; !slices.Equal(r.MissingFiles, want) {
		t.Errorf("missing files %v, want %v", r.MissingFiles, want)
	}
	if len(r.MissingKeys) != 0 {
		t.Errorf("missing keys %v", r.MissingKeys)
	}
	want := []UnrecordedFile{{"plain.txt", 8200, false}, {"sub/lost.sst", 64 << 10, true}, {"tiny", 100, false}}
	if !slices.Equal(r.Unrecorded, want) {
		t.Errorf("unrecorded %+v, want %+v", r.Unrecorded, want)
	}

	// ForgetMissing drops the two entries, and leaves a present file's.
	os.WriteFile(filepath.Join(dir, "gone1"), []byte("back"), 0o644) // recreated: keep
	got, err := ForgetMissing(m, []string{"gone1", "sub/gone2", "a.sst", "never"})
	if err != nil || !slices.Equal(got, []string{"sub/gone2"}) {
		t.Errorf("ForgetMissing = %v, %v; want [sub/gone2]", got, err)
	}
	if _, ok, _ := m.Lookup("gone1"); !ok {
		t.Error("the entry of a file that came back was dropped")
	}
	if _, err := ForgetMissing(m, []string{"../outside"}); !errors.Is(err, dict.ErrOutsideDir) {
		t.Errorf("ForgetMissing outside the directory: %v", err)
	}

	// A key missing from the key dictionary: reopen with a dictionary
	// that lost it (another directory's, under the same master key).
	m.Close()
	other := t.TempDir()
	o, err := dict.Open(ctx, other, cfg)
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	kd, err := os.ReadFile(filepath.Join(other, dict.KeyDictName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, dict.KeyDictName), kd, 0o600); err != nil {
		t.Fatal(err)
	}
	if m, err = dict.Open(ctx, dir, cfg); err != nil {
		t.Fatal(err)
	}
	r, err = Verify(ctx, m)
	if err != nil || !slices.Contains(r.MissingKeys, "a.sst") || !slices.Contains(r.MissingKeys, "b.sst") {
		t.Errorf("missing keys %v (%v), want a.sst and b.sst among them", r.MissingKeys, err)
	}
	m.Close()
	if _, err := Verify(ctx, m); !errors.Is(err, dict.ErrClosed) {
		t.Errorf("Verify after Close: %v", err)
	}
}

func TestEntropy(t *testing.T) {
	uniform := make([]byte, 256*64)
	for i := range uniform {
		uniform[i] = byte(i)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want float64
	}{
		{"one value", make([]byte, 1000), 0},
		{"two values", []byte(strings.Repeat("ab", 500)), 1},
		{"all values evenly", uniform, 8},
	} {
		if got := entropy(tc.b); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("%s: entropy %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestVerifyAfterRemove: a file removed a moment ago, whose entry's
// removal still waits in a batch, is not reported missing.
func TestVerifyAfterRemove(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	for i := range 20 {
		name := fmt.Sprintf("f%d", i)
		dicttest.WriteFile(t, m, name, content(name, 100))
		if err := m.Remove(name); err != nil {
			t.Fatal(err)
		}
		r, err := Verify(context.Background(), m)
		if err != nil || len(r.MissingFiles) != 0 {
			t.Fatalf("verify right after removing %s: missing %v, %v", name, r.MissingFiles, err)
		}
	}
}
