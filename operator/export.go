package operator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/dict/exportdoc"
	"github.com/atrest/atrest/keyenv"
)

// Export writes to w an export document for the named files of m (paths
// as the Manager takes them) and returns the transfer key it is sealed
// under: TransferKeySize fresh random bytes that the library never stores.
// The caller shows the key to the operator once or writes it where the
// operator says; without it the document is useless, and with it the data
// keys of the exported files are known, so it must be kept like a key.
//
// For each file the document holds its relative name, size, method, IV
// and data-key id, and it holds the data keys those files use (their
// method, creation time and exposure too). A file with no entry, or one
// with method plaintext, is exported as plaintext, with no key. A name
// with no file behind it is an error wrapping fs.ErrNotExist; one that is
// not a regular file is an error too. Names given twice are exported once.
//
// The files should be quiescent (closed, or at least no longer written)
// from the export until the operator has copied them: Import checks each
// copy's size against the document. Export itself changes nothing.
func Export(ctx context.Context, m *dict.Manager, names []string, w io.Writer) (transferKey []byte, err error) {
	mt := m.Maintenance()
	if err := mt.Err(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("dict: export: no files named")
	}
	held := make(map[uint64]*heldKey)
	defer func() {
		for _, k := range held {
			k.secret.Release()
		}
	}()
	files := make([]exportdoc.File, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("dict: export: %w", err)
		}
		err := mt.Hold(n, func(rel string, e dict.Entry, ok bool) error {
			if seen[rel] {
				return nil
			}
			seen[rel] = true
			f, err := exportFile(m, rel, e, ok, held)
			if err == nil {
				files = append(files, f)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(files, func(a, b exportdoc.File) int { return strings.Compare(a.Name, b.Name) })
	keys := make([]exportdoc.Key, 0, len(held))
	for _, k := range held {
		keys = append(keys, k.Key)
	}
	slices.SortFunc(keys, func(a, b exportdoc.Key) int { return cmp.Compare(a.ID, b.ID) })
	doc, transferKey, err := exportdoc.Seal(files, keys)
	if err != nil {
		return nil, fmt.Errorf("dict: export: %w", err)
	}
	if len(doc) > maxExportBytes {
		return nil, fmt.Errorf("dict: export: a document of %d bytes is larger than Import reads (%d): export fewer files at once", len(doc), maxExportBytes)
	}
	if _, err := w.Write(doc); err != nil {
		return nil, fmt.Errorf("dict: export: write the document: %w", err)
	}
	return transferKey, nil
}

// heldKey is a copy of a data key Export took, in its own locked memory
// (which Key.Bytes aliases), so the key dictionary's lock is held only
// while copying.
type heldKey struct {
	exportdoc.Key
	secret *keyenv.Secret
}

// exportFile describes one file, whose entry is e (ok false: none), for
// Export and copies its data key into held. The name is held
// (dict.Maintenance.Hold), so the entry is the one the file has, and its
// key, counted as used, cannot be dropped before it is copied.
func exportFile(m *dict.Manager, rel string, e dict.Entry, ok bool, held map[uint64]*heldKey) (exportdoc.File, error) {
	if len(rel) > exportdoc.MaxPath {
		return exportdoc.File{}, fmt.Errorf("dict: export %s: a path of %d bytes (at most %d)", rel, len(rel), exportdoc.MaxPath)
	}
	st, err := m.Maintenance().FS().Lstat(abs(m, rel))
	if err != nil {
		return exportdoc.File{}, fmt.Errorf("dict: export %s: %w", rel, err)
	}
	if !st.Mode().IsRegular() {
		return exportdoc.File{}, fmt.Errorf("dict: export %s: not a regular file but %s", rel, describeType(st.Mode()))
	}
	f := exportdoc.File{Name: rel, Entry: dict.Entry{Method: ctr.Plaintext}, Size: st.Size()}
	if !ok || e.Method == ctr.Plaintext {
		return f, nil
	}
	f.Entry = e
	if k, ok := held[e.KeyID]; ok {
		if k.Method != e.Method {
			return exportdoc.File{}, fmt.Errorf("dict: export %s: entry says %s but data key %d is %s", rel, e.Method, e.KeyID, k.Method)
		}
		return f, nil
	}
	k, s, err := m.Maintenance().DataKeySecret(e.KeyID)
	switch {
	case errors.Is(err, dict.ErrDataKeyMissing):
		return exportdoc.File{}, fmt.Errorf("dict: export %s: %w (key id %d)", rel, err, e.KeyID)
	case err != nil:
		return exportdoc.File{}, fmt.Errorf("dict: export: %w", err)
	case k.Method != e.Method:
		s.Release()
		return exportdoc.File{}, fmt.Errorf("dict: export %s: entry says %s but data key %d is %s", rel, e.Method, e.KeyID, k.Method)
	}
	held[e.KeyID] = &heldKey{exportdoc.Key{ID: k.ID, Method: k.Method, Created: k.Created, Exposed: k.Exposed, Bytes: s.Bytes()}, s}
	return f, nil
}
