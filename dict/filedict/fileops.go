package filedict

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/atrest/atrest/internal/atomicfile"
)

// writeFile is what the writer needs of a file: *os.File's methods, and
// fdatasync and fallocate.
type writeFile interface {
	Write(p []byte) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Sync() error
	// Datasync makes the file's bytes durable, and of its metadata only
	// what reading them back needs (fdatasync): overwriting bytes inside
	// the file's size then needs no journal commit.
	Datasync() error
	// Allocate reserves the bytes [off, off+n) for the file, reading as
	// zeros, before they are written (where the OS can: see allocate).
	Allocate(off, n int64) error
	Truncate(size int64) error
	Close() error
}

// osFile is a *os.File with Datasync and Allocate.
type osFile struct{ *os.File }

func (f osFile) Datasync() error             { return datasync(f.File) }
func (f osFile) Allocate(off, n int64) error { return allocate(f.File, off, n) }

// fileSystem holds every file operation of the write path, so tests can
// make a write or an fsync fail and can count fsyncs.
type fileSystem interface {
	// OpenLog opens an existing file for writing its log.
	OpenLog(path string) (writeFile, error)
	// CreateTemp creates a new file in dir as os.CreateTemp does.
	CreateTemp(dir, pattern string) (writeFile, string, error)
	Rename(oldpath, newpath string) error
	Remove(path string) error
	// SyncDir makes the names in dir durable.
	SyncDir(dir string) error
}

type osFS struct{}

func (osFS) OpenLog(path string) (writeFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) CreateTemp(dir, pattern string) (writeFile, string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, "", err
	}
	return osFile{f}, f.Name(), nil
}

func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
func (osFS) Remove(path string) error             { return os.Remove(path) }

// SyncDir is atomicfile's: a no-op where the OS cannot sync a directory.
func (osFS) SyncDir(dir string) error { return atomicfile.SyncDir(dir) }

// tempPattern is the os.CreateTemp pattern of the temporary files a
// rewrite creates next to the dictionary: "<base>.tmp-<digits>".
func tempPattern(base string) string { return base + ".tmp-*" }

// removeStaleTemps deletes temporary files that a rewrite interrupted by a
// crash left next to path. Failures are ignored: a stale file only costs
// space, and the next Open tries again.
func removeStaleTemps(fsys fileSystem, path string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := base + ".tmp-"
	for _, de := range des {
		if strings.HasPrefix(de.Name(), prefix) && de.Type().IsRegular() {
			fsys.Remove(filepath.Join(dir, de.Name()))
		}
	}
}

// truncateFile cuts path to size bytes and makes that durable.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
