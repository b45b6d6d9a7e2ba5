package fsys

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// OS returns the operating system's file system. Paths are the
// operating system's; the Manager passes absolute ones.
func OS() FS { return osFS{} }

type osFS struct{}

// OSFile is an *os.File with Datasync and Allocate: what OS opens.
type OSFile struct{ *os.File }

// Datasync is fdatasync(2) where the OS has it, else fsync.
func (f OSFile) Datasync() error { return datasync(f.File) }

// Allocate is fallocate(2) in its default mode where the OS and the file
// system have it: the range gets blocks that read as zeros whatever they
// held before, even after a crash. Elsewhere it does nothing.
func (f OSFile) Allocate(off, n int64) error { return allocate(f.File, off, n) }

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return OSFile{f}, nil
}

func (osFS) Lstat(name string) (fs.FileInfo, error) { return os.Lstat(name) }

func (osFS) List(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

func (osFS) Remove(name string) error             { return os.Remove(name) }
func (osFS) RemoveAll(name string) error          { return os.RemoveAll(name) }
func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (osFS) Link(oldname, newname string) error   { return os.Link(oldname, newname) }

// SyncDir is a no-op where the OS cannot sync a directory (Windows).
func (osFS) SyncDir(dir string) error {
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

// lockPatience is how long Lock retries a held lock.
const lockPatience = 200 * time.Millisecond

// Lock takes an flock (LockFileEx on Windows) on name. flock locks belong
// to the open file, so a second holder in the same process is refused
// too, and the kernel drops the lock when its holder dies, SIGKILL
// included.
func (osFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	err = lockFile(f)
	// A lock just released can still be held for a moment: a child the
	// process forked shares the lock's open file until it execs and
	// closes its copy (seen in tests that start processes in parallel).
	// So a held lock is tried again for lockPatience before it is taken
	// for another holder's.
	for deadline := time.Now().Add(lockPatience); errors.Is(err, ErrLocked) && time.Now().Before(deadline); {
		time.Sleep(lockPatience / 20)
		err = lockFile(f)
	}
	if err != nil {
		f.Close()
		return nil, &fs.PathError{Op: "lock", Path: filepath.Clean(name), Err: err}
	}
	return f, nil
}
