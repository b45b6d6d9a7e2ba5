//go:build unix

package crashfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/atrest/atrest/fsys"
)

// replace replaces path with data through a temporary file; the flags
// drop one of the two syncs it needs.
func replace(f *FS, path string, data []byte, fileSync, dirSync bool) error {
	tmp := path + ".tmp"
	h, err := f.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := h.WriteAt(data, 0); err != nil {
		h.Close()
		return err
	}
	if fileSync {
		if err := h.Sync(); err != nil {
			h.Close()
			return err
		}
	}
	if err := h.Close(); err != nil {
		return err
	}
	if err := f.Rename(tmp, path); err != nil {
		return err
	}
	if dirSync {
		return f.SyncDir(filepath.Dir(path))
	}
	return nil
}

// TestMissingSyncFound: crashing at every step of an atomic replace and
// after it, with random survival, finds the replace that skips the
// file's Sync and the one that skips the directory's, and nothing wrong
// with the one that does both.
func TestMissingSyncFound(t *testing.T) {
	const path = "/data/file"
	oldData, newData := blocks('o', 3), blocks('n', 3)
	for _, c := range []struct {
		name              string
		fileSync, dirSync bool
		broken            bool
	}{
		{"correct", true, true, false},
		{"no file sync", false, true, true},
		{"no directory sync", true, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var violations []string
			check := func(g *FS, seed uint64, when string, done bool) {
				got, err := fsysRead(g, path)
				switch {
				case err != nil:
					violations = append(violations, fmt.Sprintf("seed %d, %s: %v", seed, when, err))
				case bytes.Equal(got, newData):
				case bytes.Equal(got, oldData) && !done:
				case bytes.Equal(got, oldData):
					violations = append(violations, fmt.Sprintf("seed %d, %s: new contents missing after the replace returned", seed, when))
				default:
					violations = append(violations, fmt.Sprintf("seed %d, %s: contents torn (%d bytes)", seed, when, len(got)))
				}
			}
			for seed := range uint64(200) {
				f := New()
				if err := f.MkdirAll("/data"); err != nil {
					t.Fatal(err)
				}
				if err := replace(f, path, oldData, true, true); err != nil {
					t.Fatal(err)
				}
				// Crash before every call the replace makes.
				step := 0
				f.InjectError(func(op Op, p string) error {
					step++
					check(f.Crash(RandomCrash(seed*100+uint64(step))), seed, fmt.Sprintf("before %v %s (step %d)", op, p, step), false)
					return nil
				})
				if err := replace(f, path, newData, c.fileSync, c.dirSync); err != nil {
					t.Fatal(err)
				}
				f.InjectError(nil)
				check(f.Crash(RandomCrash(seed)), seed, "after return", true)
			}
			switch {
			case c.broken && len(violations) == 0:
				t.Errorf("no crash found the missing sync")
			case c.broken:
				t.Logf("%d violations, e.g. %s", len(violations), violations[0])
			case len(violations) > 0:
				t.Errorf("%d violations of a correct replace, e.g. %s", len(violations), violations[0])
			}
		})
	}
}

// fsysRead reads a whole file of g.
func fsysRead(g *FS, path string) ([]byte, error) {
	h, err := g.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	fi, err := h.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, fi.Size())
	if _, err := h.ReadAt(b, 0); err != nil && len(b) > 0 {
		return nil, err
	}
	return b, nil
}

// TestWriteAtomicHolds runs fsys.WriteAtomic, the stack's own atomic
// replace, through the same crash loop: old or new, and new once it
// returned.
func TestWriteAtomicHolds(t *testing.T) {
	const path = "/data/file"
	oldData, newData := blocks('o', 2), blocks('n', 3)
	for seed := range uint64(100) {
		f := newFS(t, "/data")
		mustNoErr(t, fsys.WriteAtomic(f, path, oldData))
		step := 0
		f.InjectError(func(op Op, p string) error {
			step++
			g := f.Crash(RandomCrash(seed*100 + uint64(step)))
			if got, _ := get(t, g, path); !bytes.Equal(got, oldData) && !bytes.Equal(got, newData) {
				t.Errorf("seed %d, before %v %s: torn (%d bytes)", seed, op, p, len(got))
			}
			return nil
		})
		mustNoErr(t, fsys.WriteAtomic(f, path, newData))
		f.InjectError(nil)
		if got, _ := get(t, f.Crash(RandomCrash(seed)), path); !bytes.Equal(got, newData) {
			t.Fatalf("seed %d: new contents not durable after WriteAtomic returned", seed)
		}
	}
}
