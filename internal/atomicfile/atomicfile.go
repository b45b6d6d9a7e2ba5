// Package atomicfile replaces small files so that a crash at any moment
// leaves either the old file or the new one, never a mix, and cleans up
// the temporary files such a crash leaves behind.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix and tempInfix make the temporary name ".<base>.tmp-<random>":
// hidden, next to the target (so the rename stays in one file system), and
// recognisable by Clean.
const tempInfix = ".tmp-"

// Write replaces path with data: a temporary file in the same directory,
// fsync, rename over path, fsync of the directory.
func Write(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempInfix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err == nil {
		if _, err = f.Write(data); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes the directory's entries (creates, renames, removes)
// durable. Where the OS cannot sync a directory it does nothing.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && dirSyncUnsupported(err) {
		return nil
	}
	return err
}

// Clean removes the temporary files Write left next to path when a crash
// interrupted it.
func Clean(path string) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	prefix := "." + base + tempInfix
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
