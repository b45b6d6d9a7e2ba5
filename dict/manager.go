package dict

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"sync"
	"sync/atomic"
	"time"

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
	// ReplaceMasterKey replaces rawMK under keyMu.
	raw, own := m.rawMK, m.ownMK
	m.keyMu.Unlock()
	if own && raw != nil {
		errs = append(errs, raw.Close())
	}
	m.unlock()
	return errors.Join(errs...)
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
