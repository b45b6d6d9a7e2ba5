package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/fsys"
)

// VerifyReport is what Verify found: the dictionary compared with the disk.
type VerifyReport struct {
	// Entries is the number of file-dictionary entries checked.
	Entries int
	// MissingFiles are entries whose file is gone (cleanup drops them).
	MissingFiles []string
	// MissingKeys are entries naming a data key the key dictionary does
	// not hold: those files cannot be read.
	MissingKeys []string
	// Unrecorded are regular files with no entry, which the Manager reads
	// as plaintext.
	Unrecorded []UnrecordedFile
}

// UnrecordedFile is a file on disk with no entry.
type UnrecordedFile struct {
	Name string
	Size int64
	// LooksEncrypted is set when the file's first bytes are as uniform
	// as ciphertext (at least 4 KiB sampled, over 7.9 bits of entropy per
	// byte): probably an encrypted file whose entry was lost, which reads
	// as garbage. Plaintext and compressed data stay well below that.
	LooksEncrypted bool
}

// OK reports whether the directory is consistent: no entry without its
// file or key, and no unrecorded file that looks encrypted.
func (r VerifyReport) OK() bool {
	if len(r.MissingFiles) > 0 || len(r.MissingKeys) > 0 {
		return false
	}
	for _, u := range r.Unrecorded {
		if u.LooksEncrypted {
			return false
		}
	}
	return true
}

// Verify compares m's file dictionary with the data directory: entries
// whose file is gone, entries whose data key is missing, and files with no
// entry (those that look encrypted are problems; the others are plaintext
// files, as written before encryption was turned on). The dictionaries,
// their temporary files and re-encryption temporaries are not data files.
// Verify reads only; names are in the dictionary's form (relative, with
// forward slashes) and sorted.
func Verify(ctx context.Context, m *dict.Manager) (VerifyReport, error) {
	var r VerifyReport
	mt := m.Maintenance()
	if err := mt.Err(); err != nil {
		return r, err
	}
	// Entries settles the removals under way: files whose entries wait in
	// a batch are not missing files.
	recorded := map[string]dict.Entry{}
	for name, e := range mt.Entries() {
		recorded[name] = e
	}
	r.Entries = len(recorded)
	for name, e := range recorded {
		if e.Method == ctr.Plaintext {
			continue
		}
		if _, ok := mt.DataKey(e.KeyID); !ok {
			r.MissingKeys = append(r.MissingKeys, name)
		}
	}
	files, dir := mt.FS(), m.Dir()
	for name := range recorded {
		if _, err := files.Lstat(abs(m, name)); errors.Is(err, fs.ErrNotExist) {
			r.MissingFiles = append(r.MissingFiles, name)
		} else if err != nil {
			return r, fmt.Errorf("dict: verify %s: %w", name, err)
		}
	}
	err := fsys.Walk(files, dir, func(path string, info fs.FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if _, ok := recorded[rel]; ok || dict.IsDictionaryFile(rel) || dict.IsReencryptTemp(rel) {
			return nil
		}
		u := UnrecordedFile{Name: rel, Size: info.Size()}
		if u.LooksEncrypted, err = looksEncrypted(files, path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed since the listing: beside a live engine
			}
			return err
		}
		r.Unrecorded = append(r.Unrecorded, u)
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("dict: verify: %w", err)
	}
	slices.Sort(r.MissingFiles)
	slices.Sort(r.MissingKeys)
	slices.SortFunc(r.Unrecorded, func(a, b UnrecordedFile) int { return strings.Compare(a.Name, b.Name) })
	return r, nil
}

// looksEncrypted samples the first 64 KiB of a file and reports whether
// its byte distribution is as flat as ciphertext's.
func looksEncrypted(files fsys.FS, path string) (bool, error) {
	f, err := files.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, err
	}
	if n < 4<<10 {
		return false, nil // too short to tell
	}
	return entropy(buf[:n]) > 7.9, nil
}

// entropy is the Shannon entropy of b's bytes in bits per byte.
func entropy(b []byte) float64 {
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / float64(len(b))
			h -= p * math.Log2(p)
		}
	}
	return h
}

// ForgetMissing drops the entries of the named files of m whose file is
// gone (encctl cleanup), and returns the names it dropped. A name whose
// file exists again, or that has no entry, is left alone. Data keys no
// longer used by any file are dropped with their last entry.
func ForgetMissing(m *dict.Manager, names []string) ([]string, error) {
	mt := m.Maintenance()
	if err := mt.Err(); err != nil {
		return nil, err
	}
	if !m.Encrypted() {
		return nil, nil
	}
	var forgotten []string
	for _, name := range names {
		rel, dropped, err := mt.Forget(name)
		if err != nil {
			return forgotten, err
		}
		if dropped {
			forgotten = append(forgotten, rel)
		}
	}
	return forgotten, nil
}
