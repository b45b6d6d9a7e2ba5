package dict

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/atrest/atrest/encfile"
	"github.com/atrest/atrest/fsys"
)

// Rewriting a file is how re-encryption (package operator) replaces it
// under the current data key and the configured method, as InnoDB
// rebuilds a table to change its key. The file's plaintext is copied into
// a temporary file next to it, which gets a fresh entry like any new
// file; the temporary file is synced and then renamed over the original
// through a rename intent, as Rename does. A crash therefore leaves each
// file wholly old or wholly new:
//
//   - before the intent is durable, the original and its entry are
//     untouched; the temporary file (empty, partial or complete) has an
//     entry of its own and is a leftover;
//   - the temporary file's data and its name in the directory are synced
//     before the intent is recorded, so the next Open, seeing the intent,
//     finds the temporary file still there exactly when the file-system
//     rename did not happen (and aborts the intent: the old file keeps
//     its old entry), and gone exactly when it did (and commits it: the
//     new file takes the new entry);
//   - after the commit, the old entry is gone and its data key is dropped
//     once no file uses it (at the latest by the next Open).
//
// The original file is never written: it is only replaced, whole, by the
// rename. The copy runs without the name's lock (opens of the file would
// wait for it), so the swap, under the lock, first checks that the name
// still holds the inode copied, with the same entry, size and modification
// time; otherwise the copy is thrown away (ErrReencryptChanged).
//
// Leftover temporary files are removed by the next Rewrite of the same
// file and by RemoveRewriteTemp (which operator.ReencryptAll calls for
// every one it finds); Open leaves them alone.
//
// The failpoints (WithFailpoint) of a rewrite, in order: those of the
// copy (operator's "reencrypt.after-chunk"), "reencrypt.after-temp-sync"
// (the temporary file and its name are durable), "reencrypt.after-intent",
// "reencrypt.after-rename" (before the directory is synced) and
// "reencrypt.after-commit" (before the old data key is released). The
// temporary file's creation passes "create.after-entry" as every create
// does.

// Errors of re-encryption, for errors.Is.
var (
	// ErrReencryptBusy: a re-encryption run (operator.ReencryptAll) is
	// already under way on this Manager, or the file named is being
	// rewritten by another call.
	ErrReencryptBusy = errors.New("re-encryption already under way")
	// ErrReencryptChanged: the file was removed, replaced or written while
	// it was being copied, so the copy was thrown away and the file left
	// as it is (a file that is gone also matches fs.ErrNotExist).
	// operator.ReencryptAll counts such a file as done: what now has the
	// name is not what was selected.
	ErrReencryptChanged = errors.New("file changed during re-encryption")
)

// Rewriting is a file being rewritten, as Rewrite hands it to the
// function that copies it.
type Rewriting struct {
	// Name is the file's dictionary name and Temp its temporary file's
	// (Name+ReencryptTempSuffix), for messages.
	Name, Temp string
	// Src is the file, open for reading through its entry; Dst the
	// temporary file under its fresh entry, open for writing, empty.
	Src, Dst *encfile.File
	// Size is Src's size when it was opened: all of it must be copied.
	Size int64
}

// Rewrite replaces the file name (as the Manager takes it) with a copy
// under the current data key and the configured method: fill copies
// r.Src's content into r.Dst and returns the number of bytes it copied,
// and Rewrite swaps the copy in, crash-safely (see the comment at the top
// of rewrite.go for what each step leaves). A file whose entry already is
// what a file created now gets (see Outdated) is left alone: fill is not
// called and Rewrite returns nil; so is a file of a directory that was
// never encrypted, once it is known to be a regular file.
//
// The name is locked while the temporary file is created, replacing a
// leftover of an earlier crash, and while the copy is swapped in; fill
// runs without the lock. The swap checks that the name still holds the
// file copied, with the same entry, size and modification time, and that
// fill copied Size bytes; otherwise it throws the copy away and returns
// ErrReencryptChanged. The new file gets the old one's permission bits;
// other hard links keep the old file. A failure of fill throws the copy
// away and is returned.
//
// Errors: the name is checked as the engine's operations check it
// (ErrClosed, ErrOutsideDir, ErrReserved, ErrDataDir); a missing file
// matches fs.ErrNotExist, one that is not a regular file is refused, a
// concurrent Rewrite of the same name is ErrReencryptBusy, a file whose
// data key is not in the key dictionary ErrDataKeyMissing.
func (mt *Maintenance) Rewrite(ctx context.Context, name string, fill func(r *Rewriting) (int64, error)) error {
	m := mt.m
	rel, err := m.name(name) // refuses temporary files too (ErrReserved)
	if err != nil {
		return err
	}
	if !m.reenc.claim(rel) {
		return fmt.Errorf("dict: reencrypt %s: %w", rel, ErrReencryptBusy)
	}
	defer m.reenc.release(rel)
	return m.reencryptOne(ctx, rel, fill)
}

// RemoveRewriteTemp removes name, a temporary file of Rewrite (see
// IsReencryptTemp) left by an interrupted rewrite, and its entry, which
// may be there without the file. While a Rewrite of its file runs it does
// nothing and returns nil: the temporary file is that rewrite's. A file
// that is not there is an error matching fs.ErrNotExist, once its entry
// is gone.
func (mt *Maintenance) RemoveRewriteTemp(name string) error {
	m := mt.m
	if !IsReencryptTemp(name) {
		return fmt.Errorf("dict: %s: not a temporary file of re-encryption", name)
	}
	// Claimed like a rewrite of the file it belongs to, so that a
	// Rewrite of that file running now keeps its temporary file.
	base := strings.TrimSuffix(name, ReencryptTempSuffix)
	if !m.reenc.claim(base) {
		return nil
	}
	defer m.reenc.release(base)
	if err := m.usable(); err != nil {
		return err
	}
	return m.removeRel(name)
}

// reencryptState is a Manager's bookkeeping of rewrites (its field reenc):
// which names are being rewritten (or their leftovers removed), so two
// rewrites of one file never share its temporary file. Whether a
// re-encryption run is under way is its progress's Running
// (operatorState).
type reencryptState struct {
	mu   sync.Mutex
	busy map[string]struct{}
}

// claim marks rel busy; false if it already is.
func (s *reencryptState) claim(rel string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.busy[rel]; ok {
		return false
	}
	if s.busy == nil {
		s.busy = make(map[string]struct{})
	}
	s.busy[rel] = struct{}{}
	return true
}

func (s *reencryptState) release(rel string) {
	s.mu.Lock()
	delete(s.busy, rel)
	s.mu.Unlock()
}

// reencryptJob is one file's re-encryption between its steps.
type reencryptJob struct {
	rel, tmpRel, abs, tmpAbs string
	old                      Entry // the file's entry when the copy began
	hadOld                   bool
	srcInfo, tmpInfo         fs.FileInfo
	src, tmp                 *encfile.File
	copied                   int64
}

// reencryptOne rewrites rel, whose name the caller has claimed, with
// fill copying it.
func (m *Manager) reencryptOne(ctx context.Context, rel string, fill func(r *Rewriting) (int64, error)) error {
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
	j.copied, err = fill(&Rewriting{Name: j.rel, Temp: j.tmpRel, Src: j.src, Dst: j.tmp, Size: j.srcInfo.Size()})
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

// checkRegular refuses what is not a regular file (Rewrite's contract).
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
		return nil, err // a Close during a re-encryption run
	}
	m.removing.settle(j.rel, j.tmpRel)
	if _, err := m.regularFile(rel); err != nil {
		return nil, err
	}
	j.old, j.hadOld = m.files.Get(rel)
	if !m.outdated(j.old, j.hadOld, 0) {
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
		// is still there) and RemoveRewriteTemp removes the file.
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
