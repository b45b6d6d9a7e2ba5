package dict

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Names: how a caller's path becomes the name the dictionaries know the
// file by, and which names are reserved.

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
	// operator.ReencryptAll removes every such file it finds as a crash's
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

// ReencryptTempSuffix ends the name of the temporary file
// Maintenance.Rewrite (re-encryption) writes next to a file: "000123.sst"
// is re-encrypted through "000123.sst.atrest-reencrypt". Names with this
// suffix are reserved: the Manager refuses them, operator.ReencryptAll
// never selects them and removes any it finds (with their entries) as
// leftovers of an interrupted run, so a storage engine must not create
// files with such names.
const ReencryptTempSuffix = ".atrest-reencrypt"

// IsReencryptTemp reports whether name is a re-encryption temporary file
// (see ReencryptTempSuffix). Adapters may hide such files from listings,
// as they hide the dictionaries' files (IsDictionaryFile).
func IsReencryptTemp(name string) bool {
	return strings.HasSuffix(name, ReencryptTempSuffix) && len(name) > len(ReencryptTempSuffix) &&
		!strings.HasSuffix(name, "/"+ReencryptTempSuffix)
}
