package dict

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/atrest/atrest/encfile"
	"github.com/atrest/atrest/fsys"
)

// One file's re-encryption around the copy (reencryptCopy, in
// reencrypt.go): the temporary file is created with a fresh entry
// (reencryptBegin), made durable (reencryptSyncTemp), then swapped in over
// the file as Rename does (reencryptSwap) or thrown away (reencryptDiscard).

// reencryptJob is one file's re-encryption between its steps.
type reencryptJob struct {
	rel, tmpRel, abs, tmpAbs string
	old                      Entry // the file's entry when the copy began
	hadOld                   bool
	srcInfo, tmpInfo         fs.FileInfo
	src, tmp                 *encfile.File
	copied                   int64
}

// reencryptOne re-encrypts rel, whose name the caller has claimed; run is
// nil for a lone Reencrypt (no rate limit, no progress).
func (m *Manager) reencryptOne(ctx context.Context, rel string, run *reencryptRun) error {
	if m.files == nil {
		// Never encrypted, so the method is plaintext and so is every
		// file: nothing to do, once the file is known to be there.
		_, err := m.regularFile(rel)
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dict: reencrypt %s: %w", rel, err)
	}
	j, err := m.reencryptBegin(rel)
	if err != nil || j == nil {
		return err
	}
	err = m.reencryptCopy(ctx, j, run)
	if err == nil {
		err = m.reencryptSyncTemp(j)
	}
	if err != nil {
		return m.reencryptDiscard(j, err)
	}
	return m.reencryptSwap(j)
}

// regularFile describes rel, which must be a regular file.
func (m *Manager) regularFile(rel string) (fs.FileInfo, error) {
	st, err := m.fs.Lstat(m.abs(rel))
	if err != nil {
		return nil, fmt.Errorf("dict: reencrypt %s: %w", rel, err)
	}
	if err := checkRegular(rel, st); err != nil {
		return nil, err
	}
	return st, nil
}

// checkRegular refuses what is not a regular file (Reencrypt's contract).
func checkRegular(rel string, st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("dict: reencrypt %s: not a regular file (%s)", rel, st.Mode().Type())
	}
	return nil
}

// reencryptBegin checks the file and, if it needs re-encrypting, opens it
// and creates its temporary file with a fresh entry. Both names are locked
// meanwhile, not during the copy that follows: opens of the file would
// wait for the whole copy. A nil job means there is nothing to do.
func (m *Manager) reencryptBegin(rel string) (*reencryptJob, error) {
	j := &reencryptJob{rel: rel, tmpRel: rel + ReencryptTempSuffix}
	j.abs, j.tmpAbs = m.abs(j.rel), m.abs(j.tmpRel)
	defer m.lockNames(j.rel, j.tmpRel).unlock()
	if err := m.usable(); err != nil {
		return nil, err // a Close during ReencryptAll
	}
	m.removing.settle(j.rel, j.tmpRel)
	if _, err := m.regularFile(rel); err != nil {
		return nil, err
	}
	j.old, j.hadOld = m.files.Get(rel)
	if !m.reencryptNeeded(j.old, j.hadOld, 0, false) {
		return nil, nil
	}
	f, err := m.fs.OpenFile(j.abs, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("dict: reencrypt %s: %w", rel, err)
	}
	// The inode actually opened is the one whose name the swap must
	// still find in place.
	if j.srcInfo, err = f.Stat(); err != nil {
		f.Close()
		return nil, fmt.Errorf("dict: reencrypt %s: %w", rel, err)
	}
	if err := checkRegular(rel, j.srcInfo); err != nil {
		f.Close()
		return nil, err
	}
	s, err := m.stream(rel, j.old, j.hadOld)
	if err != nil {
		f.Close()
		return nil, err
	}
	j.src = encfile.New(f, s)

	// A leftover of an interrupted re-encryption of this file (the
	// caller's claim on the name rules out one in progress).
	if _, exists, err := m.lstat(j.tmpAbs); err != nil || exists {
		if err == nil {
			err = m.removeLocked(j.tmpRel, j.tmpAbs)
			m.removing.settle(j.tmpRel)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			j.src.Close()
			return nil, fmt.Errorf("dict: reencrypt %s: removing the leftover %s: %w", rel, j.tmpRel, err)
		}
	}
	// O_EXCL: never truncate a file the leftover check did not see.
	h, ts, err := m.createFresh(j.tmpRel, j.tmpAbs, os.O_RDWR|os.O_CREATE|os.O_EXCL, func(path string, flag int) (Handle, error) {
		return m.fs.OpenFile(path, flag, j.srcInfo.Mode().Perm())
	})
	if err != nil {
		j.src.Close()
		return nil, fmt.Errorf("dict: reencrypt %s: creating %s: %w", rel, j.tmpRel, err)
	}
	j.tmp = encfile.New(h.(fsys.File), ts)
	if j.tmpInfo, err = j.tmp.Stat(); err != nil {
		j.src.Close()
		j.tmp.Close()
		j.tmp = nil // it has no identity to check: leave it as a leftover
		return nil, fmt.Errorf("dict: reencrypt %s: %w", rel, err)
	}
	return j, nil
}

// reencryptSyncTemp makes the temporary file durable, data and name,
// before any intent names it: after a crash, its absence must mean it was
// renamed.
func (m *Manager) reencryptSyncTemp(j *reencryptJob) error {
	// The mode asked for at the create went through the umask.
	if osf := j.tmp.OSFile(); osf != nil {
		if err := osf.Chmod(j.srcInfo.Mode().Perm()); err != nil {
			return fmt.Errorf("dict: reencrypt %s: %w", j.rel, err)
		}
	}
	if err := j.tmp.Sync(); err != nil {
		return fmt.Errorf("dict: reencrypt %s: syncing %s: %w", j.rel, j.tmpRel, err)
	}
	err := errors.Join(j.tmp.Close(), j.src.Close())
	j.tmp, j.src = nil, nil
	if err != nil {
		return fmt.Errorf("dict: reencrypt %s: %w", j.rel, err)
	}
	if err := m.dirs.sync(filepath.Dir(j.tmpAbs)); err != nil {
		return fmt.Errorf("dict: reencrypt %s: syncing its directory: %w", j.rel, err)
	}
	m.fail("reencrypt.after-temp-sync")
	return nil
}

// reencryptDiscard closes the job's files and removes its temporary file,
// if the name still holds it, returning cause with any failure to.
func (m *Manager) reencryptDiscard(j *reencryptJob, cause error) error {
	if j.src != nil {
		j.src.Close()
	}
	if j.tmp != nil {
		j.tmp.Close()
	}
	j.src, j.tmp = nil, nil
	defer m.lockNames(j.rel, j.tmpRel).unlock()
	return m.discardAfter(j, cause)
}

// discardTempLocked removes the job's temporary file and its entry, unless
// the name holds another file by now. Names locked.
func (m *Manager) discardTempLocked(j *reencryptJob) error {
	m.removing.settle(j.tmpRel)
	st, exists, err := m.lstat(j.tmpAbs)
	if err != nil || !exists || !sameFile(st, j.tmpInfo) {
		return err
	}
	if err := m.removeLocked(j.tmpRel, j.tmpAbs); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dict: reencrypt %s: removing %s: %w", j.rel, j.tmpRel, err)
	}
	return nil
}

// reencryptSwap renames the temporary file over the file as Rename does
// (renameFileLocked: intent, rename, directory sync, commit), with both
// names locked from the checks that the file is still the one copied to
// the commit, so that nothing can replace it in between.
func (m *Manager) reencryptSwap(j *reencryptJob) error {
	defer m.lockSettled(j.rel, j.tmpRel).unlock()
	tst, tmpThere, err := m.lstat(j.tmpAbs)
	if err != nil {
		return m.discardAfter(j, fmt.Errorf("dict: reencrypt %s: %w", j.rel, err))
	}
	if !tmpThere || !sameFile(tst, j.tmpInfo) {
		return fmt.Errorf("dict: reencrypt %s: its temporary file %s was removed or replaced: %w", j.rel, j.tmpRel, ErrReencryptChanged)
	}
	st, exists, err := m.lstat(j.abs)
	cur, hadCur := m.files.Get(j.rel)
	switch {
	case err != nil:
		return m.discardAfter(j, fmt.Errorf("dict: reencrypt %s: %w", j.rel, err))
	case !exists:
		return m.discardAfter(j, fmt.Errorf("dict: reencrypt %s: removed meanwhile: %w: %w", j.rel, ErrReencryptChanged, fs.ErrNotExist))
	case !sameFile(st, j.srcInfo) || cur != j.old || hadCur != j.hadOld:
		return m.discardAfter(j, fmt.Errorf("dict: reencrypt %s: replaced meanwhile: %w", j.rel, ErrReencryptChanged))
	case st.Size() != j.srcInfo.Size() || !st.ModTime().Equal(j.srcInfo.ModTime()) || j.copied != j.srcInfo.Size():
		return m.discardAfter(j, fmt.Errorf("dict: reencrypt %s: written meanwhile (%d bytes, copied %d): %w", j.rel, st.Size(), j.copied, ErrReencryptChanged))
	}
	// The entry the rename replaces, and releases (with, once no file
	// uses it, its data key), is the one just checked to be j.old; the
	// temporary file's entry, counted when it was created, now belongs to
	// the file.
	step, err := m.renameFileLocked(j.tmpRel, j.rel, nil, renameFailpoints{
		afterIntent: "reencrypt.after-intent",
		afterRename: "reencrypt.after-rename",
		afterCommit: "reencrypt.after-commit",
	})
	switch {
	case err == nil:
		return nil
	case step == renameIntentLeft:
		// The intent stays; the next Open aborts it (the temporary file
		// is still there) and ReencryptAll removes the file.
		return fmt.Errorf("dict: reencrypt %s: %w", j.rel, err)
	case step == renameUncommitted:
		return fmt.Errorf("dict: reencrypt %s: %w", j.rel, err)
	}
	// Nothing changed: the copy goes.
	return m.discardAfter(j, fmt.Errorf("dict: reencrypt %s: %w", j.rel, err))
}

// discardAfter removes the temporary file after a failed swap (names
// locked) and returns cause with any failure to.
func (m *Manager) discardAfter(j *reencryptJob, cause error) error {
	return errors.Join(cause, m.discardTempLocked(j))
}
