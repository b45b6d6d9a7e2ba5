package fsys

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ReadFile reads the whole file name.
func ReadFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, st.Size())
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	// A file that grew since Stat is read to its end too.
	for err == nil {
		buf = append(buf, make([]byte, 4096)...)
		var m int
		m, err = f.ReadAt(buf[n:], int64(n))
		n += m
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	}
	return buf[:n], nil
}

// Exists reports whether anything is at name.
func Exists(fsys FS, name string) (bool, error) {
	_, err := fsys.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// CreateTemp creates a new file in dir, opened for reading and writing,
// whose name is pattern with its last "*" replaced by a random number, as
// os.CreateTemp does, and returns it with its path.
func CreateTemp(fsys FS, dir, pattern string) (File, string, error) {
	prefix, suffix := pattern, ""
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	for try := 0; ; try++ {
		var b [8]byte
		_, _ = rand.Read(b[:])
		name := filepath.Join(dir, prefix+strconv.FormatUint(binary.BigEndian.Uint64(b[:])>>1, 10)+suffix)
		f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		return f, name, nil
	}
}

// WriteAtomic replaces path with data so that a crash at any moment leaves
// either the old file or the new one: a temporary file in the same
// directory named "."+base+".tmp-*", fsync, rename over path, fsync of the
// directory. CleanTemps removes what a crash leaves of it.
func WriteAtomic(fsys FS, path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, tmp, err := CreateTemp(fsys, dir, tempPrefix(path)+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			fsys.Remove(tmp)
		}
	}()
	if _, err = f.WriteAt(data, 0); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = fsys.Rename(tmp, path); err != nil {
		return err
	}
	if err = fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// tempPrefix is the name WriteAtomic's temporary files for path start
// with: hidden, next to the target (so the rename stays in one file
// system), and recognisable by CleanTemps.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// TempFiles lists the temporary files WriteAtomic left next to path when
// a crash interrupted it.
func TempFiles(fsys FS, path string) ([]string, error) {
	dir := filepath.Dir(path)
	names, err := fsys.List(dir)
	if err != nil {
		return nil, err
	}
	prefix := tempPrefix(path)
	var temps []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			temps = append(temps, filepath.Join(dir, n))
		}
	}
	return temps, nil
}

// CleanTemps removes the temporary files WriteAtomic left next to path
// when a crash interrupted it.
func CleanTemps(fsys FS, path string) error {
	temps, err := TempFiles(fsys, path)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range temps {
		if err := fsys.Remove(t); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Walk calls fn for root and every file and directory under it, in
// lexical order within each directory, with the entry's path and Lstat
// description; symbolic links are not followed. An error from fn or from
// reading a directory stops the walk and is returned; fs.SkipDir from fn
// for a directory skips its contents. Entries removed while the walk runs
// are skipped: a name gone between its directory's listing and its Lstat
// is not passed to fn, and a directory gone between its Lstat and its
// listing has no contents (beside a live storage engine, removals race
// with the walk). Only root must exist when Walk starts.
func Walk(fsys FS, root string, fn func(path string, info fs.FileInfo) error) error {
	info, err := fsys.Lstat(root)
	if err != nil {
		return err
	}
	return walk(fsys, root, info, fn)
}

func walk(fsys FS, path string, info fs.FileInfo, fn func(string, fs.FileInfo) error) error {
	if err := fn(path, info); err != nil {
		if errors.Is(err, fs.SkipDir) && info.IsDir() {
			return nil
		}
		return err
	}
	if !info.IsDir() {
		return nil
	}
	names, err := fsys.List(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed since its Lstat
	}
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		child := filepath.Join(path, n)
		ci, err := fsys.Lstat(child)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			return err
		}
		if err := walk(fsys, child, ci, fn); err != nil {
			return err
		}
	}
	return nil
}
