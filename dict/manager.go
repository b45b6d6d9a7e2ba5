package dict

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/filedict"
	"github.com/atrest/atrest/dict/keydict"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/keyenv"
)

// The dictionaries' names in the data directory (TiKV's names).
const (
	KeyDictName  = "key.dict"
	FileDictName = "file.dict"
)

// Errors callers can test with errors.Is.
var (
	// ErrMissingKeyDictionary: the file dictionary records files but the
	// key dictionary that holds their keys is gone.
	ErrMissingKeyDictionary = errors.New("key dictionary is missing")
	// ErrMissingFileDictionary: the key dictionary exists but the file
	// dictionary does not.
	ErrMissingFileDictionary = errors.New("file dictionary is missing")
	// ErrNotInitialized: Open was given WithExistingDictionaries and the
	// data directory lacks a dictionary or both. A single one missing
	// also matches ErrMissingKeyDictionary or ErrMissingFileDictionary.
	ErrNotInitialized = errors.New("encryption dictionaries not initialized")
	// ErrDataKeyMissing: a file's entry names a data key the key
	// dictionary does not hold.
	ErrDataKeyMissing = errors.New("the file's data key is not in the key dictionary")
	// ErrOutsideDir: an absolute path outside the data directory.
	ErrOutsideDir = errors.New("path is outside the data directory")
	// ErrReserved: the path is one of the dictionaries' own files, or a
	// re-encryption temporary file (a name ending in ReencryptTempSuffix).
	ErrReserved = errors.New("path is reserved for the encryption dictionaries")
	// ErrDataDir: the operation would remove, rename or open the data
	// directory itself, which holds the dictionaries.
	ErrDataDir = errors.New("the data directory itself cannot be removed, renamed or opened as a file")
	// ErrAppendUnsupported: O_APPEND would move writes away from the
	// offset the keystream is computed for.
	ErrAppendUnsupported = errors.New("O_APPEND is not supported on encrypted files")
	// ErrClosed: the Manager was closed.
	ErrClosed = errors.New("dict: manager is closed")
	// ErrNeedsReopen: a directory sync failed after a rename had reached
	// the file system, so whether the rename survives a crash is unknown
	// and the dictionary cannot record it either way. The Manager refuses
	// every operation from then on; close and reopen it, and the open
	// settles the rename from what the disk shows, as after a crash.
	ErrNeedsReopen = errors.New("dict: a directory sync failed; close and reopen the Manager")
)

// Entry is a file's encryption: data-key id, method and IV. A file with no
// entry is plaintext.
type Entry = filedict.Entry

// Option adjusts Open.
type Option func(*options)

type options struct {
	masterKeys  *keyenv.MasterKeys
	keyOpts     []keyenv.Option
	now         func() time.Time
	failpoint   func(string)
	fs          fsys.FS
	inspect     bool
	existing    bool
	lock        bool
	lostEntries bool
}

// WithMasterKeys uses mk instead of opening the master keys the
// configuration names. The caller keeps ownership of mk.
func WithMasterKeys(mk *keyenv.MasterKeys) Option {
	return func(o *options) { o.masterKeys = mk }
}

// WithKeyenvOptions passes options to keyenv when opening the master keys.
func WithKeyenvOptions(opts ...keyenv.Option) Option {
	return func(o *options) { o.keyOpts = append(o.keyOpts, opts...) }
}

// WithClock replaces time.Now for data-key ages (tests).
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithInspection opens a data directory for an operator's tool (encctl),
// which may run beside the engine: the Manager runs on a read-only view of
// the file system (fsys.ReadOnly), takes no lock and writes nothing, not
// the lock file, not a temporary file, not the dictionaries' tails. What a
// crash interrupted (renames, a master-key rotation the configuration
// names, a torn last write of the file dictionary) it resolves in memory
// only, so it shows the directory as the engine's next open will make it;
// stale entries are shown, not dropped. Every change asked of it fails
// with fsys.ErrReadOnly.
//
// With WithLock it takes the directory's lock, works on the writable file
// system, repairs what a crash left (a torn tail, temporary files) and
// makes the changes it is asked for (ForgetMissing, RotateMasterKey,
// Import); the rest of the open-time maintenance is skipped all the same:
// it creates no dictionaries where there are none (nor removes the empty
// file dictionary a crashed first start leaves), rotates no data key that
// is due, and drops no unused key or stale entry.
func WithInspection() Option {
	return func(o *options) { o.inspect = true }
}

// WithExistingDictionaries makes Open refuse, with ErrNotInitialized, a
// data directory that does not already have both dictionaries, rather
// than create them (a first start with encryption on) or start over from
// the empty file dictionary a crashed first start leaves: for tools that
// must never turn a directory into an encrypted one, as an operator's
// mistyped path would be. A single dictionary is refused whatever it
// holds, and the error also names it as Open without the option would
// (ErrMissingKeyDictionary or ErrMissingFileDictionary). The check comes
// before the master keys are opened, and a refused directory is left as it
// was.
func WithExistingDictionaries() Option {
	return func(o *options) { o.existing = true }
}

// WithLock makes a Manager opened WithInspection take the data directory's
// lock (LockName) as any other Manager does, refusing with ErrLocked a
// directory another open Manager holds: for tools that inspect first and
// then change what they are asked to (a master-key rotation, an import),
// which must not do it under a running engine. Without WithInspection it
// changes nothing.
func WithLock() Option {
	return func(o *options) { o.lock = true }
}

// WithFailpoint calls fn at named points of every multi-step operation
// (crash tests kill the process there). The names are the arguments of
// m.fail calls and the fields of renameFailpoints values:
// "create.after-entry", "rename.after-intent", "rotate-master.after-save",
// "import.after-key-dict", ... (grep for them).
func WithFailpoint(fn func(name string)) Option {
	return func(o *options) { o.failpoint = fn }
}

// Manager keeps a data directory's dictionaries and opens its files. It is
// safe for concurrent use.
type Manager struct {
	dir string
	cfg keyenv.Config
	// mk is rawMK with its backends' calls timed (status.go); rawMK is
	// what was opened or given, and what Close closes when ownMK.
	mk    *keyenv.MasterKeys
	rawMK *keyenv.MasterKeys
	ownMK bool
	now   func() time.Time
	fail  func(string)
	// fs holds the whole directory: dictionaries, lock, temporaries and
	// data files; a read-only view for an inspection without the lock.
	fs fsys.FS

	// files is nil while the directory has never been encrypted: no
	// dictionaries exist and every file is plaintext.
	files *filedict.Dict

	// keyMu guards keys. Creating a file holds it for reading from choosing
	// the current key until its entry is durable, so a rotation (which
	// holds it for writing) never leaves a new file naming a dropped key.
	keyMu sync.RWMutex
	keys  *keydict.Dict

	refMu sync.Mutex
	refs  map[uint64]int // files per data key

	// treeMu is held for reading by operations on single names and for
	// writing by those on whole directories (rename of a directory,
	// RemoveAll), which touch names they cannot lock one by one.
	treeMu sync.RWMutex
	names  [64]sync.Mutex
	seed   maphash.Seed
	dirs   dirSyncer

	removing pendingRemoves

	// ops is what operators see of the Manager: backend calls,
	// rotations, re-encryption progress (status.go).
	ops operatorState
	// reenc is the names being re-encrypted (reencrypt.go).
	reenc reencryptState
	// recovery is what Open found a crash had left (recovery.go); set
	// before Open returns, read-only after.
	recovery RecoveryStats

	// inspect: opened WithInspection; existing: WithExistingDictionaries;
	// allowLost: WithLostEntries.
	inspect, existing, allowLost bool
	// lock holds the data directory's lock (LockName) when locks is set:
	// not for a plain inspection, which may run beside the engine.
	lock  io.Closer
	locks bool

	closed atomic.Bool
	// stopped holds the error that stopped the Manager (ErrNeedsReopen),
	// nil while it works.
	stopped atomic.Pointer[error]
}

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

func (m *Manager) keyPath() string  { return filepath.Join(m.dir, KeyDictName) }
func (m *Manager) filePath() string { return filepath.Join(m.dir, FileDictName) }

func (m *Manager) fileOptions() filedict.Options {
	v := 2
	if !m.cfg.EnableFileDictionaryLog {
		v = 1
	}
	return filedict.Options{Version: v, RewriteThreshold: m.cfg.FileDictionaryRewriteThreshold, Failpoint: m.fail, BeforeRemove: m.syncRemoved, CheckTail: m.checkTail, FS: m.fs}
}

// syncRemoved makes the unlinks of a group of removed files durable: one
// fsync per directory they were in.
func (m *Manager) syncRemoved(names []string) error {
	done := make(map[string]bool, 1)
	for _, n := range names {
		dir := filepath.Dir(m.abs(n))
		if done[dir] {
			continue
		}
		done[dir] = true
		if err := m.fs.SyncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
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
// (Verify reports it).
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

// needsRotation: keyMu held.
func (m *Manager) needsRotation() bool {
	method := m.cfg.DataEncryptionMethod
	if method == ctr.Plaintext {
		return false
	}
	k, ok := m.keys.CurrentKey()
	switch {
	case !ok, k.Method != method:
		return true
	case m.cfg.DataKeyRotationPeriod > 0 && m.now().Sub(k.Created) >= m.cfg.DataKeyRotationPeriod:
		return true
	case k.Exposed && m.mk.Current.Secure():
		return true
	}
	return false
}

// rotateLocked makes a new current data key and stores the key dictionary;
// on failure the old key stays current. keyMu held for writing.
func (m *Manager) rotateLocked(ctx context.Context) error {
	prev := m.keys.Current
	k, err := m.keys.NewKey(m.cfg.DataEncryptionMethod, m.now())
	if err != nil {
		return fmt.Errorf("dict: rotate data key: %w", err)
	}
	m.fail("rotate.before-save")
	if err := m.keys.Save(context.WithoutCancel(ctx), m.fs, m.keyPath(), m.mk); err != nil {
		m.keys.Current = prev
		m.keys.Drop(k.ID)
		return fmt.Errorf("dict: rotate data key: %w", err)
	}
	m.fail("rotate.after-save")
	m.ops.mu.Lock()
	m.ops.rotations.DataKeyRotations++
	m.ops.mu.Unlock()
	return nil
}

// dropUnusedLocked drops the keys no file uses (never the current one).
// keyMu held for writing.
func (m *Manager) dropUnusedLocked(ctx context.Context) error {
	m.refMu.Lock()
	var unused []uint64
	for _, id := range m.keys.IDs() {
		if id != m.keys.Current && m.refs[id] == 0 {
			unused = append(unused, id)
		}
	}
	m.refMu.Unlock()
	if len(unused) == 0 {
		return nil
	}
	for _, id := range unused {
		m.keys.Drop(id)
	}
	if err := m.keys.Save(context.WithoutCancel(ctx), m.fs, m.keyPath(), m.mk); err != nil {
		// The keys stay on disk until the next save: harmless.
		return fmt.Errorf("dict: drop unused data keys: %w", err)
	}
	return nil
}

// RotateDataKey makes a new current data key now, whatever its age.
func (m *Manager) RotateDataKey(ctx context.Context) error {
	if err := m.usable(); err != nil {
		return err
	}
	if m.files == nil || m.cfg.DataEncryptionMethod == ctr.Plaintext {
		return fmt.Errorf("dict: no data key to rotate: the method is plaintext")
	}
	m.keyMu.Lock()
	defer m.keyMu.Unlock()
	// Close releases the keys under keyMu after marking the Manager
	// closed: checked again here, a rotation racing Close cannot save an
	// emptied dictionary over the real one.
	if err := m.usable(); err != nil {
		return err
	}
	if err := m.rotateLocked(ctx); err != nil {
		return err
	}
	return m.dropUnusedLocked(ctx)
}

// DataKeys returns the ids of the data keys and the current one, once
// the removals under way have settled (a key goes with its last file).
func (m *Manager) DataKeys() (ids []uint64, current uint64) {
	if m.keys == nil {
		return nil, 0
	}
	m.removing.settleAll()
	m.keyMu.RLock()
	defer m.keyMu.RUnlock()
	return m.keys.IDs(), m.keys.Current
}

// Dir returns the data directory's absolute path.
func (m *Manager) Dir() string { return m.dir }

// Encrypted reports whether the directory has dictionaries (encryption was
// on at some start).
func (m *Manager) Encrypted() bool { return m.files != nil }

// Lookup returns a file's entry; false means the file is plaintext.
func (m *Manager) Lookup(name string) (Entry, bool, error) {
	rel, err := m.rel(name)
	if err != nil || m.files == nil {
		return Entry{}, false, err
	}
	m.removing.settle(rel)
	e, ok := m.files.Get(rel)
	return e, ok, nil
}

// FileDictionaryStats reports the file dictionary's size and log.
func (m *Manager) FileDictionaryStats() (filedict.Stats, bool) {
	if m.files == nil {
		return filedict.Stats{}, false
	}
	return m.files.Stats(), true
}

// Close closes the dictionaries and zeroes the data keys; open files stay
// usable until closed.
func (m *Manager) Close() error {
	if !m.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	return m.closeAll()
}

func (m *Manager) closeAll() error {
	m.removing.settleAll()
	var errs []error
	if m.files != nil {
		errs = append(errs, m.files.Close())
	}
	m.keyMu.Lock()
	if m.keys != nil {
		m.keys.Release()
	}
	// RotateMasterKey replaces rawMK under keyMu.
	raw, own := m.rawMK, m.ownMK
	m.keyMu.Unlock()
	if own && raw != nil {
		errs = append(errs, raw.Close())
	}
	m.unlock()
	return errors.Join(errs...)
}

// lockIfManaged takes the data directory's lock (LockName) unless it is
// held already or the Manager will keep no dictionaries: a directory never
// encrypted, opened with the plaintext method, gets no lock file.
func (m *Manager) lockIfManaged() error {
	if m.lock != nil {
		return nil
	}
	haveKeys, haveFiles, err := m.dictionaries()
	if err != nil {
		return err
	}
	if !haveKeys && !haveFiles && m.cfg.DataEncryptionMethod == ctr.Plaintext {
		return nil
	}
	m.lock, err = m.lockDataDir()
	return err
}

// unlock lets another Manager open the data directory.
func (m *Manager) unlock() {
	if m.lock != nil {
		m.lock.Close()
		m.lock = nil
	}
}

func (m *Manager) usable() error {
	if m.closed.Load() {
		return ErrClosed
	}
	if err := m.stopped.Load(); err != nil {
		return *err
	}
	return nil
}

// stop makes every later operation fail with ErrNeedsReopen and cause,
// which it returns.
func (m *Manager) stop(cause error) error {
	err := fmt.Errorf("%w: %w", ErrNeedsReopen, cause)
	m.stopped.CompareAndSwap(nil, &err)
	return err
}

// rel turns a caller's path into the dictionary's name for it: relative to
// the data directory, cleaned, with forward slashes.
func (m *Manager) rel(name string) (string, error) {
	p := name
	if filepath.IsAbs(p) {
		r, err := filepath.Rel(m.dir, p)
		if err != nil {
			return "", fmt.Errorf("dict: %s: %w", name, ErrOutsideDir)
		}
		p = r
	}
	p = filepath.ToSlash(filepath.Clean(p))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("dict: %s: %w", name, ErrOutsideDir)
	}
	if IsDictionaryFile(p) {
		return "", fmt.Errorf("dict: %s: %w", name, ErrReserved)
	}
	// ReencryptAll removes every such file it finds as a crash's
	// leftover, so nobody else may make one.
	if IsReencryptTemp(p) {
		return "", fmt.Errorf("dict: %s: %w (re-encryption's temporary file)", name, ErrReserved)
	}
	return p, nil
}

// IsDictionaryFile reports whether name (relative to the data directory,
// with forward slashes) is one of the dictionaries' own files: key.dict,
// file.dict, one of their temporary files or the lock file (LockName). Adapters hide them from
// listings; the Manager refuses to open, remove or rename them.
func IsDictionaryFile(name string) bool {
	if name == KeyDictName || name == FileDictName || name == LockName {
		return true
	}
	// Temporary files: ".key.dict.tmp-…" from atomic writes,
	// "file.dict.tmp-…" from the file dictionary's rewrites.
	name = strings.TrimPrefix(name, ".")
	return strings.HasPrefix(name, KeyDictName+".tmp-") || strings.HasPrefix(name, FileDictName+".tmp-")
}

func (m *Manager) abs(rel string) string {
	return filepath.Join(m.dir, filepath.FromSlash(rel))
}

// heldNames is the name stripes an operation holds (second is -1 when
// one stripe covers both names).
type heldNames struct {
	m             *Manager
	first, second int
}

// lockNames locks the stripes of one or two names (pass a twice for one)
// in index order, so two renames in opposite directions cannot deadlock,
// under treeMu for reading. It allocates nothing: every open goes through
// it.
func (m *Manager) lockNames(a, b string) heldNames {
	m.treeMu.RLock()
	i := int(maphash.String(m.seed, a) % uint64(len(m.names)))
	j := int(maphash.String(m.seed, b) % uint64(len(m.names)))
	if i > j {
		i, j = j, i
	}
	h := heldNames{m: m, first: i, second: j}
	if i == j {
		h.second = -1
	}
	m.names[h.first].Lock()
	if h.second >= 0 {
		m.names[h.second].Lock()
	}
	return h
}

func (h heldNames) unlock() {
	if h.second >= 0 {
		h.m.names[h.second].Unlock()
	}
	h.m.names[h.first].Unlock()
	h.m.treeMu.RUnlock()
}

// freshEntry chooses the entry of a new file: the current data key and a
// random IV. It returns with keyMu held for reading; the caller releases
// it once the entry is durable (and counted), so no rotation can drop the
// key in between. A due rotation happens here first.
func (m *Manager) freshEntry(ctx context.Context) (Entry, error) {
	m.keyMu.RLock()
	if m.needsRotation() {
		m.keyMu.RUnlock()
		m.keyMu.Lock()
		err := m.usable() // see RotateDataKey
		if err == nil && m.needsRotation() {
			if err = m.rotateLocked(ctx); err == nil {
				err = m.dropUnusedLocked(ctx)
			}
		}
		m.keyMu.Unlock()
		if err != nil {
			return Entry{}, err
		}
		m.keyMu.RLock()
	}
	if m.cfg.DataEncryptionMethod == ctr.Plaintext {
		return Entry{Method: ctr.Plaintext}, nil
	}
	k, ok := m.keys.CurrentKey()
	if !ok {
		m.keyMu.RUnlock()
		return Entry{}, fmt.Errorf("dict: no current data key")
	}
	e := Entry{KeyID: k.ID, Method: k.Method}
	_, _ = rand.Read(e.IV[:])
	return e, nil
}

// stream returns the keystream for an entry; nil for plaintext.
func (m *Manager) stream(name string, e Entry, ok bool) (*ctr.Stream, error) {
	if !ok || e.Method == ctr.Plaintext {
		return nil, nil
	}
	m.keyMu.RLock()
	defer m.keyMu.RUnlock()
	k, found := m.keys.Get(e.KeyID)
	if !found {
		return nil, fmt.Errorf("dict: %s: %w (key id %d)", name, ErrDataKeyMissing, e.KeyID)
	}
	if k.Method != e.Method {
		return nil, fmt.Errorf("dict: %s: entry says %s but data key %d is %s", name, e.Method, e.KeyID, k.Method)
	}
	s, err := ctr.New(e.Method, k.Bytes(), e.IV[:])
	if err != nil {
		return nil, fmt.Errorf("dict: %s: %w", name, err)
	}
	return s, nil
}

// ref adjusts the file count of a data key.
func (m *Manager) ref(e Entry, ok bool, delta int) {
	if !ok || e.Method == ctr.Plaintext {
		return
	}
	m.refMu.Lock()
	m.refs[e.KeyID] += delta
	if m.refs[e.KeyID] <= 0 {
		delete(m.refs, e.KeyID)
	}
	m.refMu.Unlock()
}

// afterRelease drops a data key whose last file went, unless it is
// current. Errors are not the caller's: the key simply stays stored.
func (m *Manager) afterRelease(e Entry, ok bool) {
	if !ok || e.Method == ctr.Plaintext {
		return
	}
	m.refMu.Lock()
	unused := m.refs[e.KeyID] == 0
	m.refMu.Unlock()
	if !unused {
		return
	}
	m.keyMu.Lock()
	defer m.keyMu.Unlock()
	if m.keys != nil && e.KeyID != m.keys.Current {
		_ = m.dropUnusedLocked(context.Background())
	}
}

// withStream pairs an opened file with its entry's keystream, closing the
// file if there is none to be had.
func (m *Manager) withStream(h Handle, rel string, e Entry, ok bool) (Handle, *ctr.Stream, error) {
	s, err := m.stream(rel, e, ok)
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return h, s, nil
}
