package dict

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/encfile"
	"github.com/atrest/atrest/fsys"
)

// Opening and creating files: a file that is created or truncated gets a
// fresh entry (current data key, random IV) that is durable before its
// first byte can be written; an existing file keeps its entry.

// Create creates or truncates the file name for reading and writing, with
// a fresh IV under the current data key.
func (m *Manager) Create(name string) (*encfile.File, error) {
	return m.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// Open opens the file name for reading.
func (m *Manager) Open(name string) (*encfile.File, error) {
	return m.OpenFile(name, os.O_RDONLY, 0)
}

// OpenReadWrite opens the file name for reading and writing, creating it
// (with a fresh IV) if it does not exist. Existing bytes keep their key
// and IV, so writes anywhere in the file are encrypted consistently.
func (m *Manager) OpenReadWrite(name string) (*encfile.File, error) {
	return m.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o666)
}

// OpenFile is os.OpenFile for an encrypted file. A file that is created,
// or truncated by O_TRUNC, gets a fresh entry (current data key, random
// IV) that is durable before the first byte can be written; an existing
// file keeps its entry, or stays plaintext if it has none. O_APPEND is
// refused.
//
// For a new file the entry is recorded before the file is created (a
// crash between leaves an entry for no file, which is harmless); an
// existing file is truncated and synced before its new entry is recorded
// (a crash between leaves an empty file, readable under either entry).
func (m *Manager) OpenFile(name string, flag int, perm fs.FileMode) (*encfile.File, error) {
	h, s, err := m.openWith(name, flag, func(path string, flag int) (Handle, error) {
		return m.fs.OpenFile(path, flag, perm)
	})
	if err != nil {
		return nil, err
	}
	return encfile.New(h.(fsys.File), s), nil
}

// OpenWith opens name as Manager.OpenFile does, except that the file itself
// is opened by open, on the Manager's FS (see WithFS): it is for adapters
// whose files are not *os.File. open gets the absolute path and a flag
// holding os.O_RDONLY, os.O_WRONLY or os.O_RDWR, possibly with os.O_CREATE
// and os.O_TRUNC; an open with os.O_TRUNC may also give the name a new
// file, as long as the old one's other names keep it. OpenWith returns
// what open returned and the keystream of the file's entry, nil for a
// plaintext file: byte o of the file on disk is byte o of the content
// XORed with the keystream at offset o.
func OpenWith[F Handle](m *Manager, name string, flag int, open func(path string, flag int) (F, error)) (F, *ctr.Stream, error) {
	return typed[F](m.openWith(name, flag, untyped(open)))
}

// opener opens a data file: see OpenWith.
type opener func(path string, flag int) (Handle, error)

// untyped turns a caller's opener into the Manager's.
func untyped[F Handle](open func(path string, flag int) (F, error)) opener {
	return func(path string, flag int) (Handle, error) { return open(path, flag) }
}

// typed hands the caller back the file its opener returned.
func typed[F Handle](h Handle, s *ctr.Stream, err error) (F, *ctr.Stream, error) {
	if err != nil {
		var zero F
		return zero, nil, err
	}
	return h.(F), s, nil
}

func (m *Manager) openWith(name string, flag int, open opener) (Handle, *ctr.Stream, error) {
	if flag&os.O_APPEND != 0 {
		return nil, nil, fmt.Errorf("dict: %s: %w", name, ErrAppendUnsupported)
	}
	rel, err := m.name(name)
	if err != nil {
		return nil, nil, err
	}
	abs := m.abs(rel)
	if m.files == nil {
		h, err := open(abs, flag)
		if err != nil {
			return nil, nil, err
		}
		return h, nil, nil
	}
	defer m.lockSettled(rel, rel).unlock()
	// Only a create or a truncate needs to know whether the file is there:
	// a plain open costs no extra syscall.
	var st fs.FileInfo
	exists := false
	if flag&(os.O_CREATE|os.O_TRUNC) != 0 {
		var err error
		if st, exists, err = m.lstat(abs); err != nil {
			return nil, nil, err
		}
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	switch {
	case exists && flag&os.O_TRUNC != 0 && writable && linkCount(st) > 1:
		// Other names share this inode under their own entries: a fresh IV
		// here would turn them into noise, keeping the old IV would encrypt
		// new content under a used keystream. Give this name a new file.
		if err := m.removeLocked(rel, abs); err != nil {
			return nil, nil, err
		}
		m.removing.settle(rel)
		return m.createFresh(rel, abs, flag, open)
	case exists && flag&os.O_TRUNC != 0 && writable:
		return m.truncateFresh(rel, abs, flag, open)
	case !exists && flag&os.O_CREATE != 0:
		return m.createFresh(rel, abs, flag, open)
	}
	h, err := open(abs, flag)
	if err != nil {
		return nil, nil, err
	}
	e, ok := m.files.Get(rel)
	return m.withStream(h, rel, e, ok)
}

func (m *Manager) createFresh(rel, abs string, flag int, open opener) (Handle, *ctr.Stream, error) {
	e, err := m.freshEntry(context.Background())
	if err != nil {
		return nil, nil, err
	}
	old, hadOld, err := m.record(rel, e)
	m.keyMu.RUnlock()
	if err != nil {
		return nil, nil, err
	}
	m.afterRelease(old, hadOld)
	m.fail("create.after-entry")
	h, err := open(abs, flag|os.O_CREATE)
	if err != nil {
		// Leave the entry: an entry for no file is harmless, and removing
		// it could race a concurrent creator of the same name in another
		// process.
		return nil, nil, err
	}
	return m.withStream(h, rel, e, true)
}

func (m *Manager) truncateFresh(rel, abs string, flag int, open opener) (Handle, *ctr.Stream, error) {
	h, err := open(abs, flag)
	if err != nil {
		return nil, nil, err
	}
	if err := h.Sync(); err != nil {
		h.Close()
		return nil, nil, err
	}
	// An opener may replace the file rather than truncate it (Pebble's
	// Create removes and creates): the directory must show the new, empty
	// file before the entry changes, or a crash could pair the old
	// content with the new IV.
	if err := m.dirs.sync(filepath.Dir(abs)); err != nil {
		h.Close()
		return nil, nil, err
	}
	m.fail("truncate.after-sync")
	e, err := m.freshEntry(context.Background())
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	old, hadOld, err := m.record(rel, e)
	m.keyMu.RUnlock()
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	m.afterRelease(old, hadOld)
	return m.withStream(h, rel, e, true)
}

// record stores e for rel durably and counts it; it returns the entry it
// replaced, whose count the caller releases with afterRelease.
func (m *Manager) record(rel string, e Entry) (old Entry, hadOld bool, err error) {
	old, hadOld = m.files.Get(rel)
	if err := m.files.Insert(rel, e); err != nil {
		return Entry{}, false, fmt.Errorf("dict: record %s: %w", rel, err)
	}
	m.ref(e, true, +1)
	m.ref(old, hadOld, -1)
	return old, hadOld, nil
}
