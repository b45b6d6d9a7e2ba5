package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesAndCleans(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.dict")
	for i, content := range []string{"first", "second, longer", "3"} {
		if err := Write(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("round %d: %q, %v", i, got, err)
		}
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o", st.Mode().Perm())
	}
	// Leftovers of an interrupted Write, and files that only look alike.
	for _, name := range []string{".key.dict.tmp-123", ".key.dict.tmp-", "key.dict.tmp-9", ".other.tmp-1"} {
		os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600)
	}
	if err := Clean(path); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	want := []string{".other.tmp-1", "key.dict", "key.dict.tmp-9"}
	if len(names) != len(want) {
		t.Fatalf("left %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("left %v, want %v", names, want)
		}
	}
}

func TestWriteIntoMissingDirectory(t *testing.T) {
	if err := Write(filepath.Join(t.TempDir(), "no", "such"), []byte("x"), 0o600); err == nil {
		t.Fatal("wrote into a missing directory")
	}
}
