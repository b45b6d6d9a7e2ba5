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

// Renames and hard links: a file getting another name, and the rename
// steps (intent, rename, directory sync, commit) that re-encryption shares.

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
	defer m.lockSettled(oldRel, newRel).unlock()
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
	defer m.lockSettled(oldRel, newRel).unlock()
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
