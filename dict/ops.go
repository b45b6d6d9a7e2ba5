package dict

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/filedict"
	"github.com/atrest/atrest/encfile"
	"github.com/atrest/atrest/fsys"
)

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
	defer m.lockNames(rel, rel).unlock()
	m.removing.settle(rel)
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

// Remove deletes the file (or empty directory) name, then its entry. It
// returns once the file is unlinked; the entry's removal follows within
// milliseconds, written with other removals in one group commit after the
// directory is synced, so the entry never goes while the file could come
// back after a crash (a crash before it leaves an entry for no file, which
// is harmless). Removing a missing file still removes a leftover entry,
// and returns the file system's not-exist error.
func (m *Manager) Remove(name string) error {
	rel, err := m.name(name)
	if err != nil {
		return err
	}
	return m.removeRel(rel)
}

// removeRel is Remove for rel, a name already checked and made relative:
// it is also the way in for names Remove refuses (re-encryption's
// temporary files, see removeTemp).
func (m *Manager) removeRel(rel string) error {
	abs := m.abs(rel)
	if m.files == nil {
		return m.fs.Remove(abs)
	}
	defer m.lockNames(rel, rel).unlock()
	m.removing.settle(rel)
	return m.removeLocked(rel, abs)
}

// removeLocked is Remove with the name locked.
func (m *Manager) removeLocked(rel, abs string) error {
	st, _ := m.fs.Lstat(abs)
	rmErr := m.fs.Remove(abs)
	if rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
		return rmErr
	}
	// The entry's removal waits for the unlink to be durable: the file
	// dictionary's leader syncs the directories of a whole group of
	// removes first (syncRemoved), so an entry never goes while its file
	// could come back after a crash.
	m.fail("remove.after-unlink")
	if st != nil && st.IsDir() {
		return m.forgetTree(rel)
	}
	m.forgetLater(rel)
	return rmErr
}

// forgetLater queues the removal of rel's entry (see pendingRemoves);
// operations on rel settle it first. The name is locked.
func (m *Manager) forgetLater(rel string) {
	if old, ok := m.files.Get(rel); ok {
		m.removing.add(rel, old)
	}
}

// forgetBatch removes a batch of entries in one group commit and releases
// the data keys of those that went. An entry that stays (the commit
// failed) is left for no file: harmless, and its key stays.
func (m *Manager) forgetBatch(batch []pendingRemove) {
	names := make([]string, len(batch))
	for i, r := range batch {
		names[i] = r.name
	}
	_ = m.files.RemoveMany(names)
	// No operation can give these names new entries meanwhile: each one
	// waits for this batch first (settle).
	gone := batch[:0:0]
	for _, r := range batch {
		if _, still := m.files.Get(r.name); !still {
			m.ref(r.old, true, -1)
			gone = append(gone, r)
		}
	}
	for _, r := range gone {
		m.afterRelease(r.old, true)
	}
}

// forgetTree removes the entries of every name under dir (and dir).
func (m *Manager) forgetTree(dir string) error {
	var gone []Entry
	m.files.Range(func(name string, e Entry) bool {
		if name == dir || strings.HasPrefix(name, dir+"/") {
			gone = append(gone, e)
		}
		return true
	})
	if len(gone) == 0 {
		return nil
	}
	if err := m.files.RemovePrefix(dir); err != nil {
		return fmt.Errorf("dict: forget %s/: %w", dir, err)
	}
	for _, e := range gone {
		m.ref(e, true, -1)
	}
	for _, e := range gone {
		m.afterRelease(e, true)
	}
	return nil
}

// RemoveAll removes name and everything under it, then their entries.
func (m *Manager) RemoveAll(name string) error {
	rel, err := m.name(name)
	if err != nil {
		return err
	}
	abs := m.abs(rel)
	if m.files == nil {
		return m.fs.RemoveAll(abs)
	}
	m.treeMu.Lock()
	defer m.treeMu.Unlock()
	m.removing.settleAll()
	if err := m.fs.RemoveAll(abs); err != nil {
		return err
	}
	if err := m.fs.SyncDir(filepath.Dir(abs)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	m.fail("removeall.after-unlink")
	return m.forgetTree(rel)
}

// Link makes newname a hard link to oldname; the new name shares the
// file's key and IV. newname must not exist. The entry is recorded first:
// a crash before the link leaves an entry for no file, which is harmless.
func (m *Manager) Link(oldname, newname string) error {
	oldRel, newRel, err := m.twoNames(oldname, newname)
	if err != nil {
		return err
	}
	oldAbs, newAbs := m.abs(oldRel), m.abs(newRel)
	if m.files == nil {
		return m.fs.Link(oldAbs, newAbs)
	}
	defer m.lockNames(oldRel, newRel).unlock()
	m.removing.settle(oldRel, newRel)
	if _, exists, err := m.lstat(newAbs); err != nil || exists {
		// The existing file's entry must not be touched; nor may one be
		// written for a name the file system would not describe.
		if err == nil {
			err = fs.ErrExist
		}
		return &os.LinkError{Op: "link", Old: oldAbs, New: newAbs, Err: err}
	}
	if _, err := m.fs.Lstat(oldAbs); err != nil {
		return &os.LinkError{Op: "link", Old: oldAbs, New: newAbs, Err: err}
	}
	e, ok := m.files.Get(oldRel)
	prev, hadPrev := m.files.Get(newRel) // a leftover entry for no file
	if ok {
		if _, _, err := m.record(newRel, e); err != nil {
			return err
		}
	} else if hadPrev {
		if err := m.files.Remove(newRel); err != nil {
			return fmt.Errorf("dict: link: %w", err)
		}
		m.ref(prev, true, -1)
	}
	m.fail("link.after-entry")
	if err := m.fs.Link(oldAbs, newAbs); err != nil {
		return err // the new entry is a leftover for no file: harmless
	}
	m.afterRelease(prev, hadPrev)
	return nil
}

// Rename renames oldname to newname, replacing newname if it exists, as
// os.Rename. For a file the dictionary records the intent durably first,
// then the file system renames and syncs the directories, then the intent
// is committed; after a crash the next Open finishes or undoes it by
// whether oldname still exists. A directory's entries are copied to the
// new prefix first and the old ones removed after.
func (m *Manager) Rename(oldname, newname string) error {
	return m.rename(oldname, newname, false)
}

// ReuseForWrite renames oldname to newname and opens it for writing with
// a fresh IV (a recycled WAL, say): the same key and IV never encrypt two
// contents. The old bytes become unreadable noise, which a log reader
// takes for the end of the log. A file with other hard links is not
// reused (they would turn to noise): it is removed and newname created.
func (m *Manager) ReuseForWrite(oldname, newname string) (*encfile.File, error) {
	h, s, err := m.reuseWith(oldname, newname, func(path string, flag int) (Handle, error) {
		return m.fs.OpenFile(path, flag, 0o666)
	})
	if err != nil {
		return nil, err
	}
	return encfile.New(h.(fsys.File), s), nil
}

// ReuseWith is Manager.ReuseForWrite with the file opened by open, as in
// OpenWith: with os.O_RDWR for the renamed file, or with
// os.O_RDWR|os.O_CREATE|os.O_TRUNC when a new file replaces it.
func ReuseWith[F Handle](m *Manager, oldname, newname string, open func(path string, flag int) (F, error)) (F, *ctr.Stream, error) {
	return typed[F](m.reuseWith(oldname, newname, untyped(open)))
}

func (m *Manager) reuseWith(oldname, newname string, open opener) (Handle, *ctr.Stream, error) {
	if err := m.usable(); err != nil {
		return nil, nil, err
	}
	if rel, err := m.rel(oldname); err == nil && m.files != nil {
		if st, err := m.fs.Lstat(m.abs(rel)); err == nil && linkCount(st) > 1 {
			if err := m.Remove(oldname); err != nil {
				return nil, nil, err
			}
			return m.openWith(newname, os.O_RDWR|os.O_CREATE|os.O_TRUNC, open)
		}
	}
	if err := m.rename(oldname, newname, true); err != nil {
		return nil, nil, err
	}
	return m.openWith(newname, os.O_RDWR, open)
}

func (m *Manager) rename(oldname, newname string, reuse bool) error {
	oldRel, newRel, err := m.twoNames(oldname, newname)
	if err != nil {
		return err
	}
	oldAbs, newAbs := m.abs(oldRel), m.abs(newRel)
	if m.files == nil {
		return m.fs.Rename(oldAbs, newAbs)
	}
	st, err := m.fs.Lstat(oldAbs)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldAbs, New: newAbs, Err: err}
	}
	if st.IsDir() {
		return m.renameDir(oldRel, newRel)
	}
	if oldRel == newRel {
		return nil
	}
	defer m.lockNames(oldRel, newRel).unlock()
	m.removing.settle(oldRel, newRel)
	dst, dstExists, err := m.lstat(newAbs)
	if err != nil {
		// Whether newname is another link to the same file decides what
		// the dictionary must do: without knowing, do nothing.
		return &os.LinkError{Op: "rename", Old: oldAbs, New: newAbs, Err: err}
	}
	if dstExists && sameFile(st, dst) {
		// Two names of one file: rename(2) does nothing and succeeds, so
		// the dictionary must not change either.
		return m.fs.Rename(oldAbs, newAbs)
	}
	var fresh *Entry
	if reuse {
		// Counted while keyMu is held, so no rotation drops its key
		// before the intent names it.
		e, err := m.freshEntry(context.Background())
		if err != nil {
			return err
		}
		m.ref(e, true, +1)
		m.keyMu.RUnlock()
		fresh = &e
	}
	step, err := m.renameFileLocked(oldRel, newRel, fresh, renameFailpoints{
		afterIntent: "rename.after-intent",
		afterRename: "rename.after-rename",
		afterSync:   "rename.after-sync",
	})
	switch {
	case err == nil:
		return nil
	case step == renameNoIntent, step == renameUncommitted:
		return fmt.Errorf("dict: rename %s: %w", oldRel, err)
	}
	return err // the file system's, as os.Rename's
}

// renameFailpoints names the failpoints of renameFileLocked's steps ("" for
// none): each caller keeps the names its crash tests kill at.
type renameFailpoints struct {
	afterIntent, afterRename, afterSync, afterCommit string
}

// renameStep is the step at which renameFileLocked failed: what it left
// decides what its caller may clean up.
type renameStep int

const (
	// renameNoIntent: the intent was not recorded; nothing changed.
	renameNoIntent renameStep = iota
	// renameUndone: the file system refused the rename and the intent
	// was aborted; nothing changed.
	renameUndone
	// renameIntentLeft: the file system refused the rename and the abort
	// failed too; the intent stays, and the next Open aborts it (the
	// source is still there).
	renameIntentLeft
	// renameUncommitted: the file was renamed but the commit failed, or
	// was not made because the rename may not be durable; the next Open
	// commits the intent if the source is gone, and aborts it if a crash
	// brought the source back.
	renameUncommitted
)

// renameFileLocked renames the file src over dst (both relative, both
// locked) as Rename does for a file: the intent is recorded durably, the
// file system renames, the parent directories are synced, the intent is
// committed, and the entries the rename replaced are released: dst's, and
// src's too when fresh is given (the entry dst gets instead of src's,
// counted by the caller and uncounted here if the file is not renamed).
// Rename and re-encryption share it, so that their crash safety is one
// piece of code. A failure comes back as the file dictionary or the file
// system gave it, with its step, for the caller to word (step means
// nothing when err is nil). When the directory sync fails the intent is
// left uncommitted and the Manager stopped (err wraps ErrNeedsReopen and
// the sync's error).
func (m *Manager) renameFileLocked(src, dst string, fresh *Entry, fp renameFailpoints) (step renameStep, err error) {
	srcAbs, dstAbs := m.abs(src), m.abs(dst)
	srcEntry, srcOK := m.files.Get(src)
	dstEntry, dstOK := m.files.Get(dst)
	unref := func() {
		if fresh != nil {
			m.ref(*fresh, true, -1)
		}
	}
	if err := m.files.BeginRename(filedict.Rename{Src: src, Dst: dst, Fresh: fresh}); err != nil {
		unref()
		return renameNoIntent, err
	}
	m.failAt(fp.afterIntent)
	if err := m.fs.Rename(srcAbs, dstAbs); err != nil {
		step := renameUndone
		if aerr := m.files.AbortRename(src, dst); aerr != nil {
			step, err = renameIntentLeft, errors.Join(err, aerr)
		}
		unref()
		return step, err
	}
	m.failAt(fp.afterRename)
	// The commit may be recorded only once the rename is durable: a commit
	// that outlives a rename lost in a power cut leaves the file under its
	// old name with no entry, its content unreadable. (The dictionary's own
	// fdatasync commits no file-system metadata.) When the directory sync
	// fails, whether the rename survives a crash is unknown, so the intent
	// stays, the next open settles it from what the disk shows, and until
	// then the Manager refuses everything (ErrNeedsReopen): in this process
	// the file is under its new name without its entry.
	if err := m.syncParents(srcAbs, dstAbs); err != nil {
		return renameUncommitted, m.stop(fmt.Errorf("syncing the directory of %s: %w", dst, err))
	}
	m.failAt(fp.afterSync)
	if err := m.files.CommitRename(src, dst); err != nil {
		return renameUncommitted, err
	}
	m.failAt(fp.afterCommit)
	m.ref(dstEntry, dstOK, -1)
	if fresh != nil {
		m.ref(srcEntry, srcOK, -1)
		m.afterRelease(srcEntry, srcOK)
	}
	m.afterRelease(dstEntry, dstOK)
	return 0, nil
}

// failAt fires the failpoint name, unless it is "" (a step its caller
// names no failpoint for).
func (m *Manager) failAt(name string) {
	if name != "" {
		m.fail(name)
	}
}

// lstat describes the file at abs; a file that is not there is not an
// error, any other failure is (the caller cannot tell what is there).
func (m *Manager) lstat(abs string) (st fs.FileInfo, exists bool, err error) {
	st, err = m.fs.Lstat(abs)
	switch {
	case err == nil:
		return st, true, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	}
	return nil, false, err
}

func (m *Manager) syncParents(a, b string) error {
	da, db := filepath.Dir(a), filepath.Dir(b)
	if err := m.dirs.sync(db); err != nil {
		return err
	}
	if da != db {
		return m.dirs.sync(da)
	}
	return nil
}

// renameDir renames a directory: the file system refuses a non-empty
// destination, so no live file's entry is overwritten. Entries are copied
// under the new prefix, the directory renamed and synced, then the old
// entries removed; a crash at any step leaves only entries for no file.
func (m *Manager) renameDir(oldRel, newRel string) error {
	m.treeMu.Lock()
	defer m.treeMu.Unlock()
	m.removing.settleAll()
	oldAbs, newAbs := m.abs(oldRel), m.abs(newRel)
	type moved struct {
		name string
		e    Entry
	}
	var copies []moved
	m.files.Range(func(name string, e Entry) bool {
		if strings.HasPrefix(name, oldRel+"/") {
			copies = append(copies, moved{path.Join(newRel, strings.TrimPrefix(name, oldRel+"/")), e})
		}
		return true
	})
	for _, c := range copies {
		if err := m.files.Insert(c.name, c.e); err != nil {
			return fmt.Errorf("dict: rename %s: %w", oldRel, err)
		}
		m.ref(c.e, true, +1)
	}
	m.fail("renamedir.after-copy")
	if err := m.fs.Rename(oldAbs, newAbs); err != nil {
		return err // the copies are entries for no file: harmless
	}
	if err := m.syncParents(oldAbs, newAbs); err != nil {
		return err
	}
	m.fail("renamedir.after-rename")
	return m.forgetTree(oldRel)
}

// name checks the Manager is open and turns a caller's path into its
// dictionary name. The data directory itself is refused: removing or
// renaming it would take the dictionaries along.
func (m *Manager) name(p string) (string, error) {
	if err := m.usable(); err != nil {
		return "", err
	}
	rel, err := m.rel(p)
	if err == nil && rel == "." {
		return "", fmt.Errorf("dict: %s: %w", p, ErrDataDir)
	}
	return rel, err
}

// twoNames is name for the two paths of a link or rename.
func (m *Manager) twoNames(oldname, newname string) (oldRel, newRel string, err error) {
	if oldRel, err = m.name(oldname); err != nil {
		return "", "", err
	}
	if newRel, err = m.name(newname); err != nil {
		return "", "", err
	}
	return oldRel, newRel, nil
}
