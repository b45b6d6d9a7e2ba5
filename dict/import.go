package dict

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/exportdoc"
	"github.com/atrest/atrest/dict/keydict"
)

// importWorkers bounds the entries recorded at once: the file dictionary
// commits concurrent inserts with one fsync, so an import of many files
// costs a few fsyncs rather than one each.
const importWorkers = 8

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
// and makes the files it describes readable through this Manager. The
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
// which is sealed again under this Manager's own master key: a key whose
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
// and records (open files keep working), so that no file it checks can
// change under it.
func (m *Manager) Import(ctx context.Context, r io.Reader, transferKey []byte, opts ...ImportOption) ([]string, error) {
	if err := m.usable(); err != nil {
		return nil, err
	}
	var o importOptions
	for _, f := range opts {
		f(&o)
	}
	prefix := "."
	if o.under != "" {
		rel, err := m.rel(o.under)
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
	// reserved here is this package's rule.
	for i, f := range doc.Files {
		if IsDictionaryFile(f.Name) {
			return nil, fmt.Errorf("dict: import: %w: file %d: path %q is reserved for the dictionaries", ErrCorruptExport, i, f.Name)
		}
	}
	dsts := make([]string, len(doc.Files))
	for i, f := range doc.Files {
		dst := path.Join(prefix, f.Name)
		rel, err := m.rel(dst)
		if err != nil {
			return nil, fmt.Errorf("dict: import %s: %w", f.Name, err)
		}
		if rel != dst || len(dst) > exportdoc.MaxPath {
			return nil, fmt.Errorf("dict: import %s: %w: destination %s is not usable", f.Name, ErrImportConflict, dst)
		}
		dsts[i] = dst
	}

	// No single-name operation runs while the treeMu is held for writing,
	// so what is checked below stays true until the entries are recorded;
	// keyMu keeps rotations and drops of unused keys away from the keys
	// added before their files are recorded.
	m.treeMu.Lock()
	defer m.treeMu.Unlock()
	m.removing.settleAll()
	if err := m.usable(); err != nil {
		return nil, err
	}
	encrypted := slices.ContainsFunc(doc.Files, func(f exportdoc.File) bool { return f.Entry.Method != ctr.Plaintext })
	if m.files == nil && encrypted {
		return nil, fmt.Errorf("dict: import: %w: open it once with a data encryption method to create its dictionaries", ErrNotEncrypted)
	}
	if m.keys != nil {
		m.keyMu.Lock()
		defer m.keyMu.Unlock()
	}
	todo, err := m.checkImport(doc, dsts, o.resume)
	if err != nil {
		return nil, err
	}
	if len(todo) == 0 {
		return dsts, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dict: import: %w", err)
	}
	ids, err := m.addImportedKeys(ctx, doc, todo)
	if err != nil {
		return nil, err
	}
	recorded, err := m.recordImported(todo, ids)
	if err != nil {
		// The keys added are durable now: they go as keys no file uses
		// once the entries recorded are taken back (and stay for any
		// entry that cannot be).
		return nil, errors.Join(err, m.unrecordImported(ctx, recorded))
	}
	return dsts, nil
}

// importItem is a file Import records.
type importItem struct {
	dst string
	e   Entry // with the document's key id; recordImported maps it
}

// checkImport checks every destination of the document and returns those
// whose entries are to be recorded. treeMu is held for writing, keyMu too
// when there is a key dictionary.
func (m *Manager) checkImport(doc *exportdoc.Doc, dsts []string, resume bool) ([]importItem, error) {
	var conflicts []string
	var todo []importItem
	for i, f := range doc.Files {
		dst := dsts[i]
		st, exists, err := m.lstat(m.abs(dst))
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
		if m.files == nil {
			continue
		}
		cur, has := m.files.Get(dst)
		switch {
		case has && resume && m.sameEntry(cur, f, doc):
			continue
		case has:
			conflicts = append(conflicts, fmt.Sprintf("%s: already has an entry (%s, key %d)", dst, cur.Method, cur.KeyID))
			continue
		case f.Entry.Method != ctr.Plaintext:
			todo = append(todo, importItem{dst: dst, e: f.Entry})
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

// sameEntry reports whether cur, an entry of this Manager, is what
// importing f would record: same method and IV, and a data key with the
// same bytes (its id may differ). keyMu held.
func (m *Manager) sameEntry(cur Entry, f exportdoc.File, doc *exportdoc.Doc) bool {
	if cur.Method != f.Entry.Method || cur.IV != f.Entry.IV {
		return false
	}
	if cur.Method == ctr.Plaintext {
		return true
	}
	k, ok := m.keys.Get(cur.KeyID)
	if !ok {
		return false
	}
	xk, _ := doc.Key(f.Entry.KeyID)
	return k.Method == xk.Method && hmac.Equal(k.Bytes(), xk.Bytes)
}

// addImportedKeys puts the data keys todo needs into the key dictionary
// and stores it, returning the map from the document's key ids to this
// dictionary's. When it fails, nothing is changed. keyMu held for
// writing.
func (m *Manager) addImportedKeys(ctx context.Context, doc *exportdoc.Doc, todo []importItem) (map[uint64]uint64, error) {
	needed := make(map[uint64]bool, len(doc.Keys))
	for _, it := range todo {
		needed[it.e.KeyID] = true
	}
	ids := make(map[uint64]uint64, len(needed))
	var added []uint64
	var marked []*keydict.Key
	undo := func() {
		for _, id := range added {
			_ = m.keys.Drop(id)
		}
		for _, k := range marked {
			k.Exposed = false
		}
	}
	for _, id := range slices.Sorted(maps.Keys(needed)) {
		xk, _ := doc.Key(id)
		if k, ok := m.keys.Find(xk.Method, xk.Bytes); ok {
			ids[id] = k.ID
			if xk.Exposed && !k.Exposed {
				// Known to whoever read the other disk: so it is here.
				k.Exposed = true
				marked = append(marked, k)
			}
			continue
		}
		k, err := m.keys.Add(id, xk.Method, xk.Created, xk.Exposed, xk.Bytes)
		if err != nil {
			undo()
			return nil, fmt.Errorf("dict: import: %w", err)
		}
		added = append(added, k.ID)
		ids[id] = k.ID
	}
	if len(added) == 0 && len(marked) == 0 {
		return ids, nil
	}
	m.fail("import.before-key-dict")
	if err := m.keys.Save(ctx, m.fs, m.keyPath(), m.mk); err != nil {
		undo()
		return nil, fmt.Errorf("dict: import: store the key dictionary: %w", err)
	}
	m.fail("import.after-key-dict")
	return ids, nil
}

// recordImported records the entries of todo with their key ids mapped,
// a few at a time so that the file dictionary commits them in groups. It
// returns the items recorded, also on failure. treeMu and keyMu held for
// writing, so nothing else changes these names or drops these keys.
func (m *Manager) recordImported(todo []importItem, ids map[uint64]uint64) (recorded []importItem, err error) {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan importItem)
	for range min(importWorkers, len(todo)) {
		wg.Go(func() {
			for it := range next {
				it.e.KeyID = ids[it.e.KeyID]
				_, _, err := m.record(it.dst, it.e)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					recorded = append(recorded, it)
				}
				mu.Unlock()
				if err == nil {
					m.fail("import.after-entry")
				}
			}
		})
	}
	for _, it := range todo {
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed {
			break
		}
		next <- it
	}
	close(next)
	wg.Wait()
	return recorded, errors.Join(errs...)
}

// unrecordImported takes back the entries an import recorded before it
// failed, so that the import can be retried as it was, then drops the
// keys no file uses any more. keyMu held for writing.
func (m *Manager) unrecordImported(ctx context.Context, recorded []importItem) error {
	var errs []error
	for _, it := range recorded {
		if err := m.files.Remove(it.dst); err != nil {
			// The entry stays, correct for its file: ImportResume
			// takes it as imported.
			errs = append(errs, fmt.Errorf("dict: import: take back the entry of %s: %w", it.dst, err))
			continue
		}
		m.ref(it.e, true, -1)
	}
	if err := m.dropUnusedLocked(context.WithoutCancel(ctx)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
