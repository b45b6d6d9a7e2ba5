package dict

import (
	"errors"
	"fmt"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/filedict"
)

// Stats is a snapshot of a Manager for operators and metrics (the
// dict/metrics package turns it into Prometheus metrics). Counting uses
// what the Manager keeps in memory, so a snapshot costs the same for a
// directory of ten files as for one of a million: no walk of the file
// dictionary, two os.Stat calls.
type Stats struct {
	// Initialized reports whether the directory has dictionaries, that is
	// encryption was on at some start. While it is false every file is
	// plaintext and the counts, keys and sizes below are zero.
	Initialized bool
	// Method is the configured data encryption method: the method of the
	// files created from now on.
	Method ctr.Method
	// DataKeyRotationPeriod is the configured age at which the current
	// data key is replaced (0: never by age).
	DataKeyRotationPeriod time.Duration

	// DataKeys is the number of data keys in the key dictionary.
	DataKeys int
	// Keys describes every data key, ordered by id.
	Keys []DataKeyInfo
	// CurrentKeyID is the id of the current data key, the one new files
	// use; 0 when the directory was never encrypted. While the method is
	// plaintext the last current key keeps the title (new files get
	// plaintext entries instead).
	CurrentKeyID uint64
	// ExposedKeys counts the data keys that were once stored under an
	// insecure (plaintext) master key.
	ExposedKeys int

	// Files is the number of entries in the file dictionary: the files
	// created or truncated since encryption was first turned on,
	// including those recorded as plaintext because the method was
	// plaintext at the time. Files written before that have no entry and
	// are not counted (TiKV's encryption_file_num counts the same).
	Files int
	// FilesByMethod splits Files by method. A method no file uses is
	// absent. The encrypted counts are exact; the plaintext count is
	// Files minus the encrypted ones, and so may be off by the few files
	// whose create or remove is in flight at the moment of the snapshot.
	FilesByMethod map[ctr.Method]int
	// FilesByKey counts the encrypted files per data-key id, including
	// ids the key dictionary does not hold (see FilesWithoutKey).
	FilesByKey map[uint64]int
	// FilesWithoutKey counts the encrypted files whose data key is not in
	// the key dictionary: they cannot be read (ErrDataKeyMissing). It is
	// 0 unless the key dictionary was damaged or replaced by hand.
	FilesWithoutKey int

	// KeyDictionaryBytes and FileDictionaryBytes are the sizes of the
	// contents of key.dict and file.dict. Each dictionary is one file: the
	// file dictionary's log (EnableFileDictionaryLog) is appended to the
	// same file after its snapshot, so its size includes the log; while
	// open, up to 1 MiB of zeros follow the log on disk, which are not
	// counted. The temporary files of an atomic rewrite in progress are
	// not counted either.
	KeyDictionaryBytes  int64
	FileDictionaryBytes int64
	// FileDictionary gives the file dictionary's format version, log
	// length and dead records (what the next compaction drops).
	FileDictionary filedict.Stats

	// Rotation counts master-key and data-key rotations since Open.
	Rotation RotationStats
	// Reencrypt is the progress of the running or last re-encryption.
	Reencrypt ReencryptProgress
	// MasterKey counts and times the master-key backend's calls since
	// Open.
	MasterKey BackendStats
	// Recovery is what Open found a crash had left.
	Recovery RecoveryStats
}

// DataKeyInfo describes a data key without its material.
type DataKeyInfo struct {
	ID      uint64
	Method  ctr.Method
	Created time.Time
	// Exposed is true once the key was stored under an insecure master
	// key.
	Exposed bool
}

// CurrentKey returns the description of the current data key, if there is
// one.
func (s Stats) CurrentKey() (DataKeyInfo, bool) {
	if s.CurrentKeyID == 0 {
		return DataKeyInfo{}, false
	}
	for _, k := range s.Keys {
		if k.ID == s.CurrentKeyID {
			return k, true
		}
	}
	return DataKeyInfo{}, false
}

// Stats returns a snapshot of the Manager, cheap enough for every metrics
// scrape whatever the number of files.
//
// The keys and the per-key file counts are read together under the key
// lock (for reading), so every key id a count names is in Keys unless its
// key really is missing. Stats does no I/O under a lock, but the lock
// makes it wait for a data-key or master-key rotation in progress (a
// master-key backend call and an fsync). It does not wait for pending
// removals, unlike DataKeys, so that a scrape answers while the disk is
// slow: a file removed a moment ago may still be counted.
//
// A closed Manager returns ErrClosed, since Close forgets the keys. When
// a dictionary file cannot be stat'ed the error says so and the Stats are
// complete except for that size, which is 0.
func (m *Manager) Stats() (Stats, error) {
	if err := m.usable(); err != nil {
		return Stats{}, err
	}
	s := Stats{
		Initialized:   m.files != nil,
		FilesByMethod: make(map[ctr.Method]int),
		FilesByKey:    make(map[uint64]int),
		Rotation:      m.ops.rotationStats(),
		Reencrypt:     m.ops.reencryptProgress(),
		MasterKey:     m.ops.backend.snapshot(),
		Recovery:      m.recovery,
	}

	// Files are counted from refs, which the Manager keeps per data key;
	// a key has one method, so the per-method counts follow without a walk
	// over the file dictionary. keyMu (for reading) keeps the key set and
	// the configuration still, and refMu is taken inside it as everywhere
	// else.
	encrypted := 0
	m.keyMu.RLock()
	s.Method = m.cfg.DataEncryptionMethod
	s.DataKeyRotationPeriod = m.cfg.DataKeyRotationPeriod
	if m.keys != nil {
		s.CurrentKeyID = m.keys.Current
		for _, id := range m.keys.IDs() {
			k, _ := m.keyInfo(id)
			s.Keys = append(s.Keys, k)
			if k.Exposed {
				s.ExposedKeys++
			}
		}
		s.DataKeys = len(s.Keys)
	}
	m.refMu.Lock()
	for id, n := range m.refs {
		s.FilesByKey[id] = n
		encrypted += n
		if k, ok := m.keyInfo(id); ok {
			s.FilesByMethod[k.Method] += n
		} else {
			s.FilesWithoutKey += n
		}
	}
	m.refMu.Unlock()
	m.keyMu.RUnlock()
	if !s.Initialized {
		return s, nil
	}

	s.FileDictionary = m.files.Stats()
	s.Files = s.FileDictionary.Entries
	if plain := s.Files - encrypted; plain > 0 {
		s.FilesByMethod[ctr.Plaintext] = plain
	}

	var errs []error
	if st, err := m.fs.Stat(m.keyPath()); err == nil {
		s.KeyDictionaryBytes = st.Size()
	} else {
		errs = append(errs, err)
	}
	// The file dictionary knows its own length: no stat per scrape.
	s.FileDictionaryBytes = s.FileDictionary.FileSize
	// Close may have run meanwhile and released the keys: say so rather
	// than report an empty key dictionary.
	if err := m.usable(); err != nil {
		return Stats{}, err
	}
	if len(errs) > 0 {
		return s, fmt.Errorf("dict: stats: %w", errors.Join(errs...))
	}
	return s, nil
}

// keyInfo describes the data key id, if the key dictionary holds it.
// keyMu held.
func (m *Manager) keyInfo(id uint64) (DataKeyInfo, bool) {
	if m.keys == nil {
		return DataKeyInfo{}, false
	}
	k, ok := m.keys.Get(id)
	if !ok {
		return DataKeyInfo{}, false
	}
	return DataKeyInfo{ID: k.ID, Method: k.Method, Created: k.Created, Exposed: k.Exposed}, true
}
