package dict

import (
	"cmp"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/exportdoc"
	"github.com/atrest/atrest/dict/keydict"
	"github.com/atrest/atrest/keyenv"
)

// Export and import with a transfer key, after InnoDB's FLUSH TABLES ...
// FOR EXPORT and its .cfp file: the files themselves are copied by the
// operator as they are on disk (ciphertext), and the export document
// carries what the other directory needs to read them: each file's entry
// and the data keys, sealed under a transfer key that exists only in the
// caller's hands. Package exportdoc is the document's codec;
// docs/FORMAT.md ("Export document") has the layout.

// TransferKeySize is the length in bytes of a transfer key: an AES-256 key.
const TransferKeySize = exportdoc.KeySize

// importWorkers bounds the entries recorded at once: the file dictionary
// commits concurrent inserts with one fsync, so an import of many files
// costs a few fsyncs rather than one each.
const importWorkers = 8

// maxExportBytes bounds what Import reads, so a wrong file (a database,
// say) given as the document fails fast instead of filling memory. A
// million files with 200-byte paths fit. A variable for tests only.
var maxExportBytes = 256 << 20

// Errors of Export and Import, which callers can test with errors.Is.
var (
	// ErrTransferKey: the transfer key is not the one the document was
	// sealed under (its key check differs), or is not TransferKeySize
	// bytes long.
	ErrTransferKey = exportdoc.ErrTransferKey
	// ErrCorruptExport: the document is not an export document, is
	// truncated, or was altered (it fails authentication under the right
	// transfer key).
	ErrCorruptExport = exportdoc.ErrCorrupt
	// ErrExportVersion: the document was written in a format version this
	// build does not read.
	ErrExportVersion = exportdoc.ErrVersion
	// ErrImportConflict: a destination file is missing, is not the size
	// the document gives, or already has an entry in the file dictionary.
	ErrImportConflict = errors.New("import conflict")
	// ErrNotEncrypted: the document holds encrypted files but the data
	// directory has no dictionaries (encryption was never turned on).
	ErrNotEncrypted = errors.New("the data directory is not encrypted")
)

// Export writes to w an export document for the named files (paths as
// the Manager takes them) and returns the transfer key it is sealed under:
// TransferKeySize fresh random bytes that the library never stores. The
// caller shows the key to the operator once or writes it where the
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
func (m *Manager) Export(ctx context.Context, names []string, w io.Writer) (transferKey []byte, err error) {
	if err := m.usable(); err != nil {
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
		rel, err := m.name(n)
		if err != nil {
			return nil, err
		}
		if seen[rel] {
			continue
		}
		seen[rel] = true
		f, err := m.exportFile(rel, held)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
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

// exportFile describes one file for Export and copies its data key into
// held. The name is locked meanwhile, so the entry read is the one the
// file has, and its key, counted as used, cannot be dropped before it is
// copied.
func (m *Manager) exportFile(rel string, held map[uint64]*heldKey) (exportdoc.File, error) {
	if len(rel) > exportdoc.MaxPath {
		return exportdoc.File{}, fmt.Errorf("dict: export %s: a path of %d bytes (at most %d)", rel, len(rel), exportdoc.MaxPath)
	}
	if m.files != nil {
		defer m.lockNames(rel, rel).unlock()
		m.removing.settle(rel)
	}
	st, err := m.fs.Lstat(m.abs(rel))
	if err != nil {
		return exportdoc.File{}, fmt.Errorf("dict: export %s: %w", rel, err)
	}
	if !st.Mode().IsRegular() {
		return exportdoc.File{}, fmt.Errorf("dict: export %s: not a regular file but %s", rel, describeType(st.Mode()))
	}
	f := exportdoc.File{Name: rel, Entry: Entry{Method: ctr.Plaintext}, Size: st.Size()}
	if m.files == nil {
		return f, nil
	}
	e, ok := m.files.Get(rel)
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
	m.keyMu.RLock()
	defer m.keyMu.RUnlock()
	k, found := m.keys.Get(e.KeyID)
	if !found {
		return exportdoc.File{}, fmt.Errorf("dict: export %s: %w (key id %d)", rel, ErrDataKeyMissing, e.KeyID)
	}
	if k.Method != e.Method {
		return exportdoc.File{}, fmt.Errorf("dict: export %s: entry says %s but data key %d is %s", rel, e.Method, e.KeyID, k.Method)
	}
	s, err := keyenv.NewSecret(len(k.Bytes()))
	if err != nil {
		return exportdoc.File{}, fmt.Errorf("dict: export: %w", err)
	}
	copy(s.Bytes(), k.Bytes())
	held[e.KeyID] = &heldKey{exportdoc.Key{ID: k.ID, Method: k.Method, Created: k.Created, Exposed: k.Exposed, Bytes: s.Bytes()}, s}
	return f, nil
}

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

// describeType names a file type for an operator.
func describeType(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return fmt.Sprintf("of type %v", mode.Type())
}
