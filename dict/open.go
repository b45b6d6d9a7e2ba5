package dict

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/filedict"
	"github.com/atrest/atrest/dict/keydict"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/keyenv"
)

// Opening a data directory: Open, and what the open checks, creates and
// settles before the Manager is handed out (the dictionaries, renames a
// crash interrupted, a data key that is due for rotation, unused keys).

// Open opens the dictionaries of the data directory dir (which must
// exist), creating them on the first start with encryption on. cfg gives
// the data method, rotation period, dictionary format and master keys.
//
//   - A directory that was never encrypted, opened with method plaintext,
//     gets no dictionaries: every file stays plaintext.
//   - The first start with encryption writes an empty file dictionary and
//     then the key dictionary with a fresh data key; a crash between the
//     two leaves an empty file dictionary, which the next open takes as a
//     first start.
//   - A missing key dictionary (with files recorded) or a missing file
//     dictionary (with a key dictionary) is an error, and no file is
//     touched.
//   - Opened WithExistingDictionaries, a directory that does not have both
//     dictionaries is an error (ErrNotInitialized), and nothing is created
//     or removed.
//   - Renames a crash interrupted are finished or undone from what the
//     file system shows; the current data key is rotated if its period has
//     passed, the method changed, or it was exposed under an insecure master
//     key that is now secure; keys no file uses are dropped.
func Open(ctx context.Context, dir string, cfg keyenv.Config, opts ...Option) (*Manager, error) {
	o := options{now: time.Now, fs: fsys.OS()}
	for _, f := range opts {
		f(&o)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("dict: %w", err)
	}
	locks := !o.inspect || o.lock
	if !locks {
		o.fs = fsys.ReadOnly(o.fs)
	}
	st, err := o.fs.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("dict: data directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("dict: data directory %s is not a directory", abs)
	}
	m := &Manager{dir: abs, cfg: cfg, now: o.now, fail: o.failpoint, fs: o.fs, refs: make(map[uint64]int), seed: maphash.MakeSeed(), inspect: o.inspect, existing: o.existing, allowLost: o.lostEntries, locks: locks}
	m.dirs.fs = m.fs
	m.removing.write = m.forgetBatch
	if m.fail == nil {
		m.fail = func(string) {}
	}
	if m.existing {
		// Before the master keys: a directory refused costs no call to
		// their backend, and a tool sees this error before any of theirs.
		haveKeys, haveFiles, err := m.dictionaries()
		if err == nil {
			err = m.requireDictionaries(haveKeys, haveFiles)
		}
		if err != nil {
			return nil, err
		}
	}
	if m.locks {
		// Before the master keys and before anything is read or cleaned
		// up: another Manager's half-written temporary file is not a
		// crash's leftover.
		if err := m.lockIfManaged(); err != nil {
			return nil, err
		}
	}
	mk := o.masterKeys
	if mk == nil {
		if mk, err = keyenv.OpenMasterKeys(ctx, cfg, o.keyOpts...); err != nil {
			m.unlock()
			return nil, fmt.Errorf("dict: %w", err)
		}
		m.ownMK = true
	} else if err := keyenv.CheckSecure(cfg.DataEncryptionMethod, mk.Current); err != nil {
		m.unlock()
		return nil, fmt.Errorf("dict: %w", err)
	}
	m.rawMK = mk
	m.mk = instrument(mk, &m.ops.backend)
	if err := m.open(ctx); err != nil {
		m.closeAll()
		return nil, err
	}
	return m, nil
}

func (m *Manager) keyPath() string { return filepath.Join(m.dir, KeyDictName) }

func (m *Manager) filePath() string { return filepath.Join(m.dir, FileDictName) }

func (m *Manager) fileOptions() filedict.Options {
	v := 2
	if !m.cfg.EnableFileDictionaryLog {
		v = 1
	}
	return filedict.Options{Version: v, RewriteThreshold: m.cfg.FileDictionaryRewriteThreshold, Failpoint: m.fail, BeforeRemove: m.syncRemoved, CheckTail: m.checkTail, FS: m.fs}
}

func (m *Manager) open(ctx context.Context) error {
	if m.locks {
		// Again, in case dictionaries appeared since Open looked.
		if err := m.lockIfManaged(); err != nil {
			return err
		}
	}
	if m.locks { // a reader beside the engine leaves even temporary files alone
		if err := fsys.CleanTemps(m.fs, m.keyPath()); err != nil {
			return fmt.Errorf("dict: %w", err)
		}
	}
	haveKeys, haveFiles, err := m.dictionaries()
	if err != nil {
		return err
	}
	if m.existing {
		// Open checked already; one gone since must not be made again.
		if err := m.requireDictionaries(haveKeys, haveFiles); err != nil {
			return err
		}
	}
	switch {
	case !haveKeys && haveFiles:
		// A first start that crashed after the file dictionary and before
		// the key dictionary leaves an empty file dictionary: start again.
		// Anything recorded in it means keys were lost: refuse.
		fd, err := filedict.Open(m.filePath(), m.fileOptions())
		if err != nil {
			return fmt.Errorf("dict: %w", err)
		}
		empty := fd.Len() == 0 && len(fd.PendingRenames()) == 0
		fd.Close()
		if !empty {
			return fmt.Errorf("dict: %s: %w, but %s records files", m.keyPath(), ErrMissingKeyDictionary, m.filePath())
		}
		if m.inspect {
			return nil // as never encrypted; the next normal open cleans up
		}
		if err := m.fs.Remove(m.filePath()); err != nil {
			return fmt.Errorf("dict: remove orphan %s: %w", m.filePath(), err)
		}
		return m.open(ctx)
	case haveKeys && !haveFiles:
		return fmt.Errorf("dict: %s: %w, but %s exists", m.filePath(), ErrMissingFileDictionary, m.keyPath())
	case !haveKeys && !haveFiles:
		if m.cfg.DataEncryptionMethod == ctr.Plaintext || m.inspect {
			return nil // never encrypted: no dictionaries
		}
		if m.files, err = filedict.Create(m.filePath(), m.fileOptions()); err != nil {
			return fmt.Errorf("dict: %w", err)
		}
		m.fail("open.after-file-dict")
		m.keys = keydict.New()
		if _, err := m.keys.NewKey(m.cfg.DataEncryptionMethod, m.now()); err != nil {
			return err
		}
		if err := m.keys.Save(ctx, m.fs, m.keyPath(), m.mk); err != nil {
			return fmt.Errorf("dict: %w", err)
		}
		return nil
	}
	if m.keys, _, err = keydict.Load(ctx, m.fs, m.keyPath(), m.mk); err != nil {
		return fmt.Errorf("dict: %w", err)
	}
	if m.files, err = filedict.Open(m.filePath(), m.fileOptions()); err != nil {
		return fmt.Errorf("dict: %w", err)
	}
	if err := m.resolveRenames(); err != nil {
		return err
	}
	if !m.inspect {
		if err := m.dropStaleEntries(); err != nil {
			return err
		}
	}
	m.files.Range(func(_ string, e Entry) bool {
		if e.Method != ctr.Plaintext {
			m.refs[e.KeyID]++
		}
		return true
	})
	if !m.locks {
		return m.catchUpKeys(ctx)
	}
	if m.inspect {
		return nil
	}
	m.keyMu.Lock()
	defer m.keyMu.Unlock()
	if m.needsRotation() {
		if err := m.rotateLocked(ctx); err != nil {
			return err
		}
	}
	return m.dropUnusedLocked(ctx)
}

// catchUpKeys reads the key dictionary again when a file's entry names a
// key it lacks, a few times: an open beside the engine reads key.dict
// before file.dict, and a data key the engine made in between is only in
// the newer key.dict. A key still missing after that is really missing
// (operator.Verify reports it).
func (m *Manager) catchUpKeys(ctx context.Context) error {
	for try := 0; try < 3 && m.keyMissing(); try++ {
		keys, _, err := keydict.Load(ctx, m.fs, m.keyPath(), m.mk)
		if err != nil {
			return fmt.Errorf("dict: %w", err)
		}
		m.keys.Release()
		m.keys = keys
	}
	return nil
}

// keyMissing reports whether an entry names a data key the key
// dictionary does not hold.
func (m *Manager) keyMissing() bool {
	for id := range m.refs {
		if _, ok := m.keys.Get(id); !ok {
			return true
		}
	}
	return false
}

// dictionaries reports which of the dictionaries are in the directory.
func (m *Manager) dictionaries() (haveKeys, haveFiles bool, err error) {
	if haveKeys, err = fsys.Exists(m.fs, m.keyPath()); err != nil {
		return false, false, fmt.Errorf("dict: %w", err)
	}
	if haveFiles, err = fsys.Exists(m.fs, m.filePath()); err != nil {
		return false, false, fmt.Errorf("dict: %w", err)
	}
	return haveKeys, haveFiles, nil
}

// requireDictionaries is the check of WithExistingDictionaries: nil only
// when both dictionaries exist.
func (m *Manager) requireDictionaries(haveKeys, haveFiles bool) error {
	switch {
	case haveKeys && haveFiles:
		return nil
	case haveKeys:
		return fmt.Errorf("dict: %s: %w, but %s exists (%w)", m.filePath(), ErrMissingFileDictionary, m.keyPath(), ErrNotInitialized)
	case haveFiles:
		return fmt.Errorf("dict: %s: %w, but %s exists (%w)", m.keyPath(), ErrMissingKeyDictionary, m.filePath(), ErrNotInitialized)
	}
	return fmt.Errorf("dict: %s: %w (no %s, no %s)", m.dir, ErrNotInitialized, KeyDictName, FileDictName)
}

// resolveRenames finishes or undoes renames a crash interrupted: the file
// system's rename is atomic, so the source still existing means it did
// not happen.
func (m *Manager) resolveRenames() error {
	for _, r := range m.files.PendingRenames() {
		_, err := m.fs.Lstat(m.abs(r.Src))
		switch {
		case err == nil:
			err = m.files.AbortRename(r.Src, r.Dst)
		case errors.Is(err, fs.ErrNotExist):
			err = m.files.CommitRename(r.Src, r.Dst)
		}
		if err != nil {
			return fmt.Errorf("dict: resolve the interrupted rename of %s to %s: %w", r.Src, r.Dst, err)
		}
	}
	return nil
}
