package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/dict/exportdoc"
)

// ImportOption adjusts Import.
type ImportOption func(*importOptions)

type importOptions struct {
	under  string
	resume bool
}

// ImportUnder puts the imported files under dir (relative to the data
// directory, or absolute inside it): the file exported as "a/b.sst" is
// looked for, and recorded, as dir/a/b.sst. Without it the files keep the
// relative names they had where they were exported.
func ImportUnder(dir string) ImportOption {
	return func(o *importOptions) { o.under = dir }
}

// ImportResume finishes an import that a crash or an error interrupted: a
// destination whose entry is already exactly the one the document gives
// (same method, IV and data-key bytes) is taken as imported instead of
// being a conflict. Without it, importing a file twice is refused, since
// an existing entry usually means the name holds another file.
func ImportResume() ImportOption {
	return func(o *importOptions) { o.resume = true }
}

// Import reads an export document from r, verifies it with transferKey,
// and makes the files it describes readable through m. The
// operator has copied the files, as they were on disk, into this data
// directory at the relative names they had (see ImportUnder). Import
// returns the destination names of every file in the document, relative
// and slash-separated, sorted.
//
// Everything is checked before anything is written: the transfer key, the
// document's integrity, and for every file that it is on disk here as a
// regular file of the exported size and has no entry yet (ImportResume
// relaxes the last for entries already imported). A failure changes
// nothing and wraps ErrTransferKey, ErrCorruptExport, ErrExportVersion,
// ErrImportConflict or ErrNotEncrypted (or ctr.ErrUnknownMethod, for an
// intact document from a later build that names a method this one lacks).
//
// Then the data keys the files need are added to the key dictionary,
// which is sealed again under m's own master key: a key whose
// bytes are already here is reused, one whose id is free keeps it, and one
// whose id another key has gets a fresh id. Only once the key dictionary
// is durable are the files' entries recorded, with the key ids mapped: a
// crash in between leaves keys no file uses, which the next Open drops,
// and a crash while recording leaves some files imported, which
// ImportResume finishes. An error while recording removes the entries
// recorded so far and drops the keys added, as far as the disk allows.
//
// Plaintext files need no entry: they are only checked. A directory that
// was never encrypted (opened with method plaintext and no dictionaries)
// can import a document of plaintext files only; for anything encrypted it
// refuses with ErrNotEncrypted rather than turn encryption on behind the
// operator's back: open it once with an encryption method first.
//
// Import holds every file operation of the Manager off while it checks
// and records (dict.Maintenance.Lock; open files keep working), so that
// no file it checks can change under it.
func Import(ctx context.Context, m *dict.Manager, r io.Reader, transferKey []byte, opts ...ImportOption) ([]string, error) {
	mt := m.Maintenance()
	if err := mt.Err(); err != nil {
		return nil, err
	}
	var o importOptions
	for _, f := range opts {
		f(&o)
	}
	prefix := "."
	if o.under != "" {
		rel, err := mt.Rel(o.under)
		if err != nil {
			return nil, err
		}
		prefix = rel
	}
	if len(transferKey) != TransferKeySize {
		return nil, fmt.Errorf("dict: import: %w: a transfer key is %d bytes, got %d", ErrTransferKey, TransferKeySize, len(transferKey))
	}
	raw, err := io.ReadAll(io.LimitReader(r, int64(maxExportBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("dict: import: read the document: %w", err)
	}
	if len(raw) > maxExportBytes {
		return nil, fmt.Errorf("dict: import: %w: longer than %d bytes", ErrCorruptExport, maxExportBytes)
	}
	doc, err := exportdoc.Open(raw, transferKey)
	if err != nil {
		return nil, fmt.Errorf("dict: import: %w", err)
	}
	defer doc.Release()
	// The codec keeps names inside the data directory; which of them are
	// reserved here is dict's rule.
	for i, f := range doc.Files {
		if dict.IsDictionaryFile(f.Name) {
			return nil, fmt.Errorf("dict: import: %w: file %d: path %q is reserved for the dictionaries", ErrCorruptExport, i, f.Name)
		}
	}
	dsts := make([]string, len(doc.Files))
	for i, f := range doc.Files {
		dst := path.Join(prefix, f.Name)
		rel, err := mt.Rel(dst)
		if err != nil {
			return nil, fmt.Errorf("dict: import %s: %w", f.Name, err)
		}
		if rel != dst || len(dst) > exportdoc.MaxPath {
			return nil, fmt.Errorf("dict: import %s: %w: destination %s is not usable", f.Name, ErrImportConflict, dst)
		}
		dsts[i] = dst
	}

	// No single-name operation runs while the Manager is locked, so what
	// is checked below stays true until the entries are recorded, and no
	// rotation or drop of unused keys touches the keys added before their
	// files are recorded.
	l, err := mt.Lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	encrypted := slices.ContainsFunc(doc.Files, func(f exportdoc.File) bool { return f.Entry.Method != ctr.Plaintext })
	if !l.Encrypted() && encrypted {
		return nil, fmt.Errorf("dict: import: %w: open it once with a data encryption method to create its dictionaries", ErrNotEncrypted)
	}
	todo, err := checkImport(m, l, doc, dsts, o.resume)
	if err != nil {
		return nil, err
	}
	if len(todo) == 0 {
		return dsts, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dict: import: %w", err)
	}
	// The keys the files need, in the order of their ids in the document.
	needed := make(map[uint64]exportdoc.Key)
	for _, it := range todo {
		needed[it.Entry.KeyID], _ = doc.Key(it.Entry.KeyID)
	}
	keys := make([]exportdoc.Key, 0, len(needed))
	for _, id := range slices.Sorted(maps.Keys(needed)) {
		keys = append(keys, needed[id])
	}
	ids, err := l.AddKeys(ctx, keys)
	if err != nil {
		return nil, err
	}
	for i := range todo {
		todo[i].Entry.KeyID = ids[todo[i].Entry.KeyID]
	}
	// On failure the keys added are durable: they go as keys no file uses
	// once the entries recorded are taken back (and stay for any entry
	// that cannot be).
	if err := l.Record(ctx, todo); err != nil {
		return nil, err
	}
	return dsts, nil
}

// checkImport checks every destination of the document and returns the
// entries to record, with the document's key ids. m is locked (l).
func checkImport(m *dict.Manager, l *dict.Locked, doc *exportdoc.Doc, dsts []string, resume bool) ([]dict.NamedEntry, error) {
	var conflicts []string
	var todo []dict.NamedEntry
	for i, f := range doc.Files {
		dst := dsts[i]
		st, err := m.Maintenance().FS().Lstat(abs(m, dst))
		exists := err == nil
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		switch {
		case err != nil:
			return nil, fmt.Errorf("dict: import %s: %w", dst, err)
		case !exists:
			conflicts = append(conflicts, dst+": not in the data directory (copy it here first)")
			continue
		case !st.Mode().IsRegular():
			conflicts = append(conflicts, fmt.Sprintf("%s: not a regular file but %s", dst, describeType(st.Mode())))
			continue
		case st.Size() != f.Size:
			conflicts = append(conflicts, fmt.Sprintf("%s: %d bytes, but %d were exported (an incomplete copy, or another file)", dst, st.Size(), f.Size))
			continue
		}
		if !l.Encrypted() {
			continue
		}
		cur, has := l.Lookup(dst)
		switch {
		case has && resume && sameEntry(l, cur, f, doc):
			continue
		case has:
			conflicts = append(conflicts, fmt.Sprintf("%s: already has an entry (%s, key %d)", dst, cur.Method, cur.KeyID))
			continue
		case f.Entry.Method != ctr.Plaintext:
			todo = append(todo, dict.NamedEntry{Name: dst, Entry: f.Entry})
		}
	}
	if len(conflicts) > 0 {
		const show = 5
		msg := strings.Join(conflicts[:min(show, len(conflicts))], "; ")
		if len(conflicts) > show {
			msg += fmt.Sprintf("; and %d more", len(conflicts)-show)
		}
		return nil, fmt.Errorf("dict: import: %w: %s", ErrImportConflict, msg)
	}
	return todo, nil
}

// sameEntry reports whether cur, an entry of the locked Manager, is what
// importing f would record: same method and IV, and a data key with the
// same bytes (its id may differ).
func sameEntry(l *dict.Locked, cur dict.Entry, f exportdoc.File, doc *exportdoc.Doc) bool {
	if cur.Method != f.Entry.Method || cur.IV != f.Entry.IV {
		return false
	}
	if cur.Method == ctr.Plaintext {
		return true
	}
	xk, _ := doc.Key(f.Entry.KeyID)
	return l.SameKey(cur.KeyID, xk.Method, xk.Bytes)
}
