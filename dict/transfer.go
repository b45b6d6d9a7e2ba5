package dict

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/keydict"
	"github.com/atrest/atrest/keyenv"
)

// Export and import with a transfer key, after InnoDB's FLUSH TABLES ...
// FOR EXPORT and its .cfp file: the files themselves are copied by the
// operator as they are on disk (ciphertext), and the export document
// carries what the other directory needs to read them: each file's entry
// and the data keys, sealed under a transfer key that exists only in the
// caller's hands. docs/FORMAT.md ("Export document") has the layout.

// TransferKeySize is the length in bytes of a transfer key: an AES-256 key.
const TransferKeySize = 32

// The export document (docs/FORMAT.md has the table):
//
//	magic "ATEX" | version u8 | key check (8) | manifest length u32 |
//	manifest | nonce (12) | GCM ciphertext and tag of the key section
//
// The manifest (file count u32, then per file: path length u16 | path |
// key id u64 | method u8 | IV (16) | size u64) is in the clear but is the
// associated data of the GCM body, as are magic, version and key check:
// the tag covers every byte of the document.
const (
	exportMagic       = "ATEX"
	exportVersion     = 1
	exportCheckBytes  = 8
	exportHeaderBytes = len(exportMagic) + 1 + exportCheckBytes + 4
	exportNonceBytes  = 12
	exportTagBytes    = 16
	exportEntryFixed  = 2 + 8 + 1 + ctr.IVSize + 8
	exportKeyFixed    = 8 + 1 + 8 + 1 + 1
	exportFlagExposed = 1
	exportMaxPath     = 4096 // the file dictionary's limit
	exportCheckLabel  = "atrest export key check v1"
	// importWorkers bounds the entries recorded at once: the file
	// dictionary commits concurrent inserts with one fsync, so an import
	// of many files costs a few fsyncs rather than one each.
	importWorkers = 8
)

// maxExportBytes bounds what Import reads, so a wrong file (a database,
// say) given as the document fails fast instead of filling memory. A
// million files with 200-byte paths fit. A variable for tests only.
var maxExportBytes = 256 << 20

// Errors of Export and Import, which callers can test with errors.Is.
var (
	// ErrTransferKey: the transfer key is not the one the document was
	// sealed under (its key check differs), or is not TransferKeySize
	// bytes long.
	ErrTransferKey = errors.New("wrong transfer key")
	// ErrCorruptExport: the document is not an export document, is
	// truncated, or was altered (it fails authentication under the right
	// transfer key).
	ErrCorruptExport = errors.New("export document is corrupt")
	// ErrExportVersion: the document was written in a format version this
	// build does not read.
	ErrExportVersion = errors.New("unknown export format version")
	// ErrImportConflict: a destination file is missing, is not the size
	// the document gives, or already has an entry in the file dictionary.
	ErrImportConflict = errors.New("import conflict")
	// ErrNotEncrypted: the document holds encrypted files but the data
	// directory has no dictionaries (encryption was never turned on).
	ErrNotEncrypted = errors.New("the data directory is not encrypted")
)

// exportedFile is one file of an export document.
type exportedFile struct {
	name string // relative to the data directory, slash-separated
	// e is the file's entry; a plaintext file has Method ctr.Plaintext,
	// key id 0 and a zero IV.
	e    Entry
	size int64
}

// exportedKey is one data key of an export document. key aliases locked
// memory (a Secret) that its owner releases.
type exportedKey struct {
	id      uint64
	method  ctr.Method
	created time.Time
	exposed bool
	key     []byte
}

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
	files := make([]exportedFile, 0, len(names))
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
	slices.SortFunc(files, func(a, b exportedFile) int { return strings.Compare(a.name, b.name) })
	keys := make([]exportedKey, 0, len(held))
	for _, k := range held {
		keys = append(keys, k.exportedKey)
	}
	slices.SortFunc(keys, func(a, b exportedKey) int { return cmp.Compare(a.id, b.id) })
	doc, transferKey, err := sealExport(files, keys)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(doc); err != nil {
		return nil, fmt.Errorf("dict: export: write the document: %w", err)
	}
	return transferKey, nil
}

// heldKey is a copy of a data key Export took, in its own locked memory
// (which key aliases), so the key dictionary's lock is held only while
// copying.
type heldKey struct {
	exportedKey
	secret *keyenv.Secret
}

// exportFile describes one file for Export and copies its data key into
// held. The name is locked meanwhile, so the entry read is the one the
// file has, and its key, counted as used, cannot be dropped before it is
// copied.
func (m *Manager) exportFile(rel string, held map[uint64]*heldKey) (exportedFile, error) {
	if len(rel) > exportMaxPath {
		return exportedFile{}, fmt.Errorf("dict: export %s: a path of %d bytes (at most %d)", rel, len(rel), exportMaxPath)
	}
	if m.files != nil {
		defer m.lockNames(rel, rel).unlock()
		m.removing.settle(rel)
	}
	st, err := m.fs.Lstat(m.abs(rel))
	if err != nil {
		return exportedFile{}, fmt.Errorf("dict: export %s: %w", rel, err)
	}
	if !st.Mode().IsRegular() {
		return exportedFile{}, fmt.Errorf("dict: export %s: not a regular file but %s", rel, describeType(st.Mode()))
	}
	f := exportedFile{name: rel, e: Entry{Method: ctr.Plaintext}, size: st.Size()}
	if m.files == nil {
		return f, nil
	}
	e, ok := m.files.Get(rel)
	if !ok || e.Method == ctr.Plaintext {
		return f, nil
	}
	f.e = e
	if k, ok := held[e.KeyID]; ok {
		if k.method != e.Method {
			return exportedFile{}, fmt.Errorf("dict: export %s: entry says %s but data key %d is %s", rel, e.Method, e.KeyID, k.method)
		}
		return f, nil
	}
	m.keyMu.RLock()
	defer m.keyMu.RUnlock()
	k, found := m.keys.Get(e.KeyID)
	if !found {
		return exportedFile{}, fmt.Errorf("dict: export %s: %w (key id %d)", rel, ErrDataKeyMissing, e.KeyID)
	}
	if k.Method != e.Method {
		return exportedFile{}, fmt.Errorf("dict: export %s: entry says %s but data key %d is %s", rel, e.Method, e.KeyID, k.Method)
	}
	s, err := keyenv.NewSecret(len(k.Bytes()))
	if err != nil {
		return exportedFile{}, fmt.Errorf("dict: export: %w", err)
	}
	copy(s.Bytes(), k.Bytes())
	held[e.KeyID] = &heldKey{exportedKey{id: k.ID, method: k.Method, created: k.Created, exposed: k.Exposed, key: s.Bytes()}, s}
	return f, nil
}

// sealExport builds the document for files (sorted by name) and keys
// (sorted by id, each used by some file) under a fresh transfer key.
func sealExport(files []exportedFile, keys []exportedKey) (doc, transferKey []byte, err error) {
	manifest := binary.BigEndian.AppendUint32(nil, uint32(len(files)))
	for _, f := range files {
		manifest = binary.BigEndian.AppendUint16(manifest, uint16(len(f.name)))
		manifest = append(manifest, f.name...)
		manifest = binary.BigEndian.AppendUint64(manifest, f.e.KeyID)
		manifest = append(manifest, byte(f.e.Method))
		manifest = append(manifest, f.e.IV[:]...)
		manifest = binary.BigEndian.AppendUint64(manifest, uint64(f.size))
	}
	// The key section goes into locked memory: it is data keys in the
	// clear until sealed.
	n := 4
	for _, k := range keys {
		n += exportKeyFixed + len(k.key)
	}
	plain, err := keyenv.NewSecret(n)
	if err != nil {
		return nil, nil, fmt.Errorf("dict: export: %w", err)
	}
	defer plain.Release()
	b := binary.BigEndian.AppendUint32(plain.Bytes()[:0], uint32(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint64(b, k.id)
		b = append(b, byte(k.method))
		b = binary.BigEndian.AppendUint64(b, uint64(k.created.Unix()))
		var flags byte
		if k.exposed {
			flags |= exportFlagExposed
		}
		b = append(b, flags, byte(len(k.key)))
		b = append(b, k.key...)
	}

	transferKey = make([]byte, TransferKeySize)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(transferKey)
	aead, err := exportGCM(transferKey)
	if err != nil {
		return nil, nil, err
	}
	ad := make([]byte, 0, exportHeaderBytes+len(manifest))
	ad = append(ad, exportMagic...)
	ad = append(ad, exportVersion)
	ad = append(ad, exportKeyCheck(transferKey)...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(manifest)))
	ad = append(ad, manifest...)
	nonce := make([]byte, exportNonceBytes)
	_, _ = rand.Read(nonce)
	// Sealed into its own slice: GCM's output must not overlap its
	// associated data.
	body := aead.Seal(nil, nonce, plain.Bytes(), ad)
	doc = slices.Concat(ad, nonce, body)
	if len(doc) > maxExportBytes {
		return nil, nil, fmt.Errorf("dict: export: a document of %d bytes is larger than Import reads (%d): export fewer files at once", len(doc), maxExportBytes)
	}
	return doc, transferKey, nil
}

// exportKeyCheck is a fingerprint of a transfer key stored in the
// document, so that a wrong key is told apart from an altered document.
// It is an HMAC, which reveals nothing of the key, and not a GCM
// encryption of a known block under it.
func exportKeyCheck(transferKey []byte) []byte {
	h := hmac.New(sha256.New, transferKey)
	h.Write([]byte(exportCheckLabel))
	return h.Sum(nil)[:exportCheckBytes]
}

func exportGCM(transferKey []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(transferKey)
	if err != nil {
		return nil, fmt.Errorf("dict: transfer key: %w", err)
	}
	return cipher.NewGCM(block)
}

// exportDoc is an opened, verified export document. Its keys alias
// secret, which release zeroes.
type exportDoc struct {
	files  []exportedFile // sorted by name
	keys   map[uint64]exportedKey
	secret *keyenv.Secret
}

func (d *exportDoc) release() { d.secret.Release() }

func corruptExport(format string, args ...any) error {
	return fmt.Errorf("dict: import: %w: "+format, append([]any{ErrCorruptExport}, args...)...)
}

// openExport checks the document's framing and key check, authenticates
// it under transferKey, and only then parses what it holds: nothing of an
// altered document is ever acted on.
func openExport(doc, transferKey []byte) (*exportDoc, error) {
	if len(doc) < len(exportMagic)+1 || string(doc[:len(exportMagic)]) != exportMagic {
		return nil, corruptExport("not an export document")
	}
	if v := doc[len(exportMagic)]; v != exportVersion {
		return nil, fmt.Errorf("dict: import: %w %d (this build reads version %d)", ErrExportVersion, v, exportVersion)
	}
	if len(doc) < exportHeaderBytes {
		return nil, corruptExport("truncated header")
	}
	check := doc[len(exportMagic)+1 : len(exportMagic)+1+exportCheckBytes]
	if !hmac.Equal(check, exportKeyCheck(transferKey)) {
		return nil, fmt.Errorf("dict: import: %w: the document was sealed under another transfer key", ErrTransferKey)
	}
	mlen := uint64(binary.BigEndian.Uint32(doc[exportHeaderBytes-4:]))
	adLen := uint64(exportHeaderBytes) + mlen
	if uint64(len(doc)) < adLen+exportNonceBytes+exportTagBytes+4 {
		return nil, corruptExport("truncated")
	}
	ad := doc[:adLen]
	nonce := doc[adLen : adLen+exportNonceBytes]
	body := doc[adLen+exportNonceBytes:]
	aead, err := exportGCM(transferKey)
	if err != nil {
		return nil, err
	}
	secret, err := keyenv.NewSecret(len(body) - exportTagBytes)
	if err != nil {
		return nil, fmt.Errorf("dict: import: %w", err)
	}
	if _, err := aead.Open(secret.Bytes()[:0], nonce, body, ad); err != nil {
		secret.Release()
		// The key check matched, so the key is right: the bytes changed.
		return nil, corruptExport("authentication failed")
	}
	d := &exportDoc{secret: secret}
	if err := d.parse(ad[exportHeaderBytes:], secret.Bytes()); err != nil {
		secret.Release()
		return nil, err
	}
	return d, nil
}

// parse decodes an authenticated manifest and key section. The encoding is
// canonical (sorted, no repeats, every key used, nothing left over), so a
// document that decodes means exactly one thing.
func (d *exportDoc) parse(manifest, keySection []byte) error {
	p := manifest
	if len(p) < 4 {
		return corruptExport("truncated manifest")
	}
	n := uint64(binary.BigEndian.Uint32(p))
	p = p[4:]
	if n > uint64(len(p)/exportEntryFixed) {
		return corruptExport("%d files do not fit in the manifest", n)
	}
	d.files = make([]exportedFile, 0, n)
	for i := uint64(0); i < n; i++ {
		if len(p) < 2 {
			return corruptExport("truncated at file %d of %d", i, n)
		}
		l := int(binary.BigEndian.Uint16(p))
		if l == 0 || l > exportMaxPath || len(p) < 2+l+exportEntryFixed-2 {
			return corruptExport("file %d of %d: path length %d", i, n, l)
		}
		f := exportedFile{name: string(p[2 : 2+l])}
		p = p[2+l:]
		f.e.KeyID = binary.BigEndian.Uint64(p)
		f.e.Method = ctr.Method(p[8])
		copy(f.e.IV[:], p[9:9+ctr.IVSize])
		size := binary.BigEndian.Uint64(p[9+ctr.IVSize:])
		p = p[exportEntryFixed-2:]
		if err := checkExportName(f.name); err != nil {
			return corruptExport("file %d: %v", i, err)
		}
		if len(d.files) > 0 && f.name <= d.files[len(d.files)-1].name {
			return corruptExport("%s: files unsorted or repeated", f.name)
		}
		if !f.e.Method.Valid() {
			return fmt.Errorf("dict: import: %s: %w %d", f.name, ctr.ErrUnknownMethod, uint8(f.e.Method))
		}
		if f.e.Method == ctr.Plaintext && (f.e.KeyID != 0 || f.e.IV != [ctr.IVSize]byte{}) {
			return corruptExport("%s: a plaintext file with a key id or an IV", f.name)
		}
		if f.e.Method != ctr.Plaintext && f.e.KeyID == 0 {
			return corruptExport("%s: an encrypted file with key id 0", f.name)
		}
		if size > 1<<63-1 {
			return corruptExport("%s: size %d", f.name, size)
		}
		f.size = int64(size)
		d.files = append(d.files, f)
	}
	if len(p) != 0 {
		return corruptExport("%d bytes after the last file", len(p))
	}

	p = keySection
	if len(p) < 4 {
		return corruptExport("truncated key section")
	}
	n = uint64(binary.BigEndian.Uint32(p))
	p = p[4:]
	if n > uint64(len(p)/exportKeyFixed) {
		return corruptExport("%d keys do not fit in the key section", n)
	}
	d.keys = make(map[uint64]exportedKey, n)
	var last uint64
	for i := uint64(0); i < n; i++ {
		if len(p) < exportKeyFixed {
			return corruptExport("truncated at key %d of %d", i, n)
		}
		k := exportedKey{
			id:      binary.BigEndian.Uint64(p),
			method:  ctr.Method(p[8]),
			created: time.Unix(int64(binary.BigEndian.Uint64(p[9:])), 0).UTC(),
			exposed: p[17]&exportFlagExposed != 0,
		}
		flags, klen := p[17], int(p[18])
		p = p[exportKeyFixed:]
		switch {
		case k.id == 0 || k.id <= last:
			return corruptExport("key id %d is zero, unsorted or repeated", k.id)
		case !k.method.Valid():
			return fmt.Errorf("dict: import: key %d: %w %d", k.id, ctr.ErrUnknownMethod, uint8(k.method))
		case k.method == ctr.Plaintext:
			return corruptExport("key %d: method plaintext", k.id)
		case klen != k.method.KeySize():
			return corruptExport("key %d: a %d-byte %s key", k.id, klen, k.method)
		case flags&^exportFlagExposed != 0:
			return corruptExport("key %d: unknown flags %#x", k.id, flags)
		case len(p) < klen:
			return corruptExport("key %d truncated", k.id)
		}
		k.key = p[:klen:klen]
		p = p[klen:]
		last = k.id
		d.keys[k.id] = k
	}
	if len(p) != 0 {
		return corruptExport("%d bytes after the last key", len(p))
	}

	used := make(map[uint64]bool, len(d.keys))
	for _, f := range d.files {
		if f.e.Method == ctr.Plaintext {
			continue
		}
		k, ok := d.keys[f.e.KeyID]
		if !ok {
			return corruptExport("%s: data key %d is not in the document", f.name, f.e.KeyID)
		}
		if k.method != f.e.Method {
			return corruptExport("%s: entry says %s but data key %d is %s", f.name, f.e.Method, k.id, k.method)
		}
		used[k.id] = true
	}
	if len(used) != len(d.keys) {
		return corruptExport("%d data keys no file uses", len(d.keys)-len(used))
	}
	return nil
}

// checkExportName refuses a name that would not stay inside the data
// directory, on this system or any other: a document authenticated under
// the transfer key is still not allowed to write anywhere but below the
// destination.
func checkExportName(name string) error {
	switch {
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("path %q holds a NUL byte", name)
	case path.Clean(name) != name, path.IsAbs(name), name == ".", name == "..", strings.HasPrefix(name, "../"):
		return fmt.Errorf("path %q is not a clean relative path", name)
	case !filepath.IsLocal(filepath.FromSlash(name)):
		return fmt.Errorf("path %q is not local to the data directory here", name)
	case IsDictionaryFile(name):
		return fmt.Errorf("path %q is reserved for the dictionaries", name)
	}
	return nil
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
		return nil, corruptExport("longer than %d bytes", maxExportBytes)
	}
	doc, err := openExport(raw, transferKey)
	if err != nil {
		return nil, err
	}
	defer doc.release()
	dsts := make([]string, len(doc.files))
	for i, f := range doc.files {
		dst := path.Join(prefix, f.name)
		rel, err := m.rel(dst)
		if err != nil {
			return nil, fmt.Errorf("dict: import %s: %w", f.name, err)
		}
		if rel != dst || len(dst) > exportMaxPath {
			return nil, fmt.Errorf("dict: import %s: %w: destination %s is not usable", f.name, ErrImportConflict, dst)
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
	encrypted := slices.ContainsFunc(doc.files, func(f exportedFile) bool { return f.e.Method != ctr.Plaintext })
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
func (m *Manager) checkImport(doc *exportDoc, dsts []string, resume bool) ([]importItem, error) {
	var conflicts []string
	var todo []importItem
	for i, f := range doc.files {
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
		case st.Size() != f.size:
			conflicts = append(conflicts, fmt.Sprintf("%s: %d bytes, but %d were exported (an incomplete copy, or another file)", dst, st.Size(), f.size))
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
		case f.e.Method != ctr.Plaintext:
			todo = append(todo, importItem{dst: dst, e: f.e})
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
func (m *Manager) sameEntry(cur Entry, f exportedFile, doc *exportDoc) bool {
	if cur.Method != f.e.Method || cur.IV != f.e.IV {
		return false
	}
	if cur.Method == ctr.Plaintext {
		return true
	}
	k, ok := m.keys.Get(cur.KeyID)
	if !ok {
		return false
	}
	xk := doc.keys[f.e.KeyID]
	return k.Method == xk.method && hmac.Equal(k.Bytes(), xk.key)
}

// addImportedKeys puts the data keys todo needs into the key dictionary
// and stores it, returning the map from the document's key ids to this
// dictionary's. When it fails, nothing is changed. keyMu held for
// writing.
func (m *Manager) addImportedKeys(ctx context.Context, doc *exportDoc, todo []importItem) (map[uint64]uint64, error) {
	needed := make(map[uint64]bool, len(doc.keys))
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
		xk := doc.keys[id]
		if k, ok := m.keys.Find(xk.method, xk.key); ok {
			ids[id] = k.ID
			if xk.exposed && !k.Exposed {
				// Known to whoever read the other disk: so it is here.
				k.Exposed = true
				marked = append(marked, k)
			}
			continue
		}
		k, err := m.keys.Add(id, xk.method, xk.created, xk.exposed, xk.key)
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
