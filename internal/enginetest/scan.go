package enginetest

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// ScanFor returns the files under dir on the operating system's file
// system whose bytes contain needle, and how many files it read.
func ScanFor(t testing.TB, dir string, needle []byte) (hits []string, files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			hits = append(hits, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits, files
}
