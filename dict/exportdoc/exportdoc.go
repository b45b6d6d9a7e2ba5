// Package exportdoc is the codec of atrest's export document: what
// dict.Manager.Export writes and dict.Manager.Import reads to move files
// from one data directory to another, after InnoDB's FLUSH TABLES ... FOR
// EXPORT and its .cfp file. The files themselves are copied by the
// operator as they are on disk (ciphertext); the document carries what the
// other directory needs to read them: each file's entry and the data keys,
// sealed under a transfer key that exists only in the caller's hands.
// docs/FORMAT.md ("Export document") has the layout.
//
// Seal builds a document and Open checks and decodes one; neither touches
// a data directory. What a name means there (the dictionaries' own files
// are reserved, say) is for the caller to check.
package exportdoc

import (
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/filedict"
	"github.com/atrest/atrest/keyenv"
)

// KeySize is the length in bytes of a transfer key: an AES-256 key.
const KeySize = 32

// MaxPath is the longest file name a document holds, in bytes: the file
// dictionary's limit.
const MaxPath = 4096

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
	magic       = "ATEX"
	version     = 1
	checkBytes  = 8
	headerBytes = len(magic) + 1 + checkBytes + 4
	nonceBytes  = 12
	tagBytes    = 16
	entryFixed  = 2 + 8 + 1 + ctr.IVSize + 8
	keyFixed    = 8 + 1 + 8 + 1 + 1
	flagExposed = 1
	checkLabel  = "atrest export key check v1"
)

// Errors of Open, which callers can test with errors.Is.
var (
	// ErrTransferKey: the transfer key is not the one the document was
	// sealed under (its key check differs), or is not KeySize bytes long.
	ErrTransferKey = errors.New("wrong transfer key")
	// ErrCorrupt: the document is not an export document, is truncated, or
	// was altered (it fails authentication under the right transfer key).
	ErrCorrupt = errors.New("export document is corrupt")
	// ErrVersion: the document was written in a format version this build
	// does not read.
	ErrVersion = errors.New("unknown export format version")
)

// File is one file of an export document.
type File struct {
	// Name is relative to the data directory, slash-separated.
	Name string
	// Entry is the file's entry; a plaintext file has Method ctr.Plaintext,
	// key id 0 and a zero IV.
	Entry filedict.Entry
	// Size is the file's size in bytes when exported.
	Size int64
}

// Key is one data key of an export document.
type Key struct {
	ID      uint64
	Method  ctr.Method
	Created time.Time // stored in whole seconds
	// Exposed: the key was once stored under an insecure master key.
	Exposed bool
	// Bytes is the key. In a Doc it aliases locked memory that Release
	// zeroes.
	Bytes []byte
}

// Doc is an opened, verified export document.
type Doc struct {
	// Files are sorted by name, no name twice.
	Files []File
	// Keys are sorted by id, no id twice, each used by a file of Files.
	Keys   []Key
	secret *keyenv.Secret
}

// Key returns the key with the given id.
func (d *Doc) Key(id uint64) (Key, bool) {
	i, ok := slices.BinarySearchFunc(d.Keys, id, func(k Key, id uint64) int { return cmp.Compare(k.ID, id) })
	if !ok {
		return Key{}, false
	}
	return d.Keys[i], true
}

// Release zeroes the keys' bytes and frees their memory: Keys' Bytes must
// not be used after it. It is safe to call more than once.
func (d *Doc) Release() { d.secret.Release() }

// Seal builds the document for files (sorted by name) and keys (sorted by
// id, each used by some file) under a fresh transfer key: KeySize random
// bytes, returned and stored nowhere. The document must be what Open
// accepts: Seal refuses what Open would refuse (names unsorted or not
// clean and relative, a file naming a key that is absent or of another
// method, a key no file uses, ...), with an error that wraps none of
// ErrTransferKey, ErrCorrupt and ErrVersion. A document larger than a
// reader takes is the caller's to refuse.
func Seal(files []File, keys []Key) (doc, transferKey []byte, err error) {
	transferKey = make([]byte, KeySize)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(transferKey)
	nonce := make([]byte, nonceBytes)
	_, _ = rand.Read(nonce)
	doc, err = seal(files, keys, transferKey, nonce)
	if err != nil {
		return nil, nil, err
	}
	return doc, transferKey, nil
}

// seal is Seal with the transfer key and nonce given.
func seal(files []File, keys []Key, transferKey, nonce []byte) ([]byte, error) {
	manifest := binary.BigEndian.AppendUint32(nil, uint32(len(files)))
	for i, f := range files {
		if len(f.Name) > MaxPath {
			return nil, fmt.Errorf("not a valid document: file %d: a path of %d bytes (at most %d)", i, len(f.Name), MaxPath)
		}
		manifest = binary.BigEndian.AppendUint16(manifest, uint16(len(f.Name)))
		manifest = append(manifest, f.Name...)
		manifest = binary.BigEndian.AppendUint64(manifest, f.Entry.KeyID)
		manifest = append(manifest, byte(f.Entry.Method))
		manifest = append(manifest, f.Entry.IV[:]...)
		manifest = binary.BigEndian.AppendUint64(manifest, uint64(f.Size))
	}
	// The key section goes into locked memory: it is data keys in the
	// clear until sealed.
	n := 4
	for _, k := range keys {
		n += keyFixed + len(k.Bytes)
	}
	plain, err := keyenv.NewSecret(n)
	if err != nil {
		return nil, err
	}
	defer plain.Release()
	b := binary.BigEndian.AppendUint32(plain.Bytes()[:0], uint32(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint64(b, k.ID)
		b = append(b, byte(k.Method))
		b = binary.BigEndian.AppendUint64(b, uint64(k.Created.Unix()))
		var flags byte
		if k.Exposed {
			flags |= flagExposed
		}
		if len(k.Bytes) > 255 {
			return nil, fmt.Errorf("not a valid document: key %d: %d bytes", k.ID, len(k.Bytes))
		}
		b = append(b, flags, byte(len(k.Bytes)))
		b = append(b, k.Bytes...)
	}
	// What Open would refuse is refused here, by Open's own rules: a
	// document that is sealed opens.
	if _, _, err := parse(manifest, plain.Bytes(), fmt.Errorf); err != nil {
		return nil, fmt.Errorf("not a valid document: %w", err)
	}

	aead, err := newGCM(transferKey)
	if err != nil {
		return nil, err
	}
	ad := make([]byte, 0, headerBytes+len(manifest))
	ad = append(ad, magic...)
	ad = append(ad, version)
	ad = append(ad, keyCheck(transferKey)...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(manifest)))
	ad = append(ad, manifest...)
	// Sealed into its own slice: GCM's output must not overlap its
	// associated data.
	body := aead.Seal(nil, nonce, plain.Bytes(), ad)
	return slices.Concat(ad, nonce, body), nil
}

// keyCheck is a fingerprint of a transfer key stored in the document, so
// that a wrong key is told apart from an altered document. It is an HMAC,
// which reveals nothing of the key, and not a GCM encryption of a known
// block under it.
func keyCheck(transferKey []byte) []byte {
	h := hmac.New(sha256.New, transferKey)
	h.Write([]byte(checkLabel))
	return h.Sum(nil)[:checkBytes]
}

func newGCM(transferKey []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(transferKey)
	if err != nil {
		return nil, fmt.Errorf("transfer key: %w", err)
	}
	return cipher.NewGCM(block)
}

// corrupt is the error of a document Open refuses.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// Open checks the document's framing and key check, authenticates it
// under transferKey, and only then parses what it holds: nothing of an
// altered document is ever acted on. Its errors wrap ErrTransferKey,
// ErrCorrupt or ErrVersion, or ctr.ErrUnknownMethod for an intact
// document from a later build that names a method this one lacks. The
// caller releases the Doc.
func Open(doc, transferKey []byte) (*Doc, error) {
	if len(transferKey) != KeySize {
		return nil, fmt.Errorf("%w: a transfer key is %d bytes, got %d", ErrTransferKey, KeySize, len(transferKey))
	}
	if len(doc) < len(magic)+1 || string(doc[:len(magic)]) != magic {
		return nil, corrupt("not an export document")
	}
	if v := doc[len(magic)]; v != version {
		return nil, fmt.Errorf("%w %d (this build reads version %d)", ErrVersion, v, version)
	}
	if len(doc) < headerBytes {
		return nil, corrupt("truncated header")
	}
	check := doc[len(magic)+1 : len(magic)+1+checkBytes]
	if !hmac.Equal(check, keyCheck(transferKey)) {
		return nil, fmt.Errorf("%w: the document was sealed under another transfer key", ErrTransferKey)
	}
	mlen := uint64(binary.BigEndian.Uint32(doc[headerBytes-4:]))
	adLen := uint64(headerBytes) + mlen
	if uint64(len(doc)) < adLen+nonceBytes+tagBytes+4 {
		return nil, corrupt("truncated")
	}
	ad := doc[:adLen]
	nonce := doc[adLen : adLen+nonceBytes]
	body := doc[adLen+nonceBytes:]
	aead, err := newGCM(transferKey)
	if err != nil {
		return nil, err
	}
	secret, err := keyenv.NewSecret(len(body) - tagBytes)
	if err != nil {
		return nil, err
	}
	if _, err := aead.Open(secret.Bytes()[:0], nonce, body, ad); err != nil {
		secret.Release()
		// The key check matched, so the key is right: the bytes changed.
		return nil, corrupt("authentication failed")
	}
	files, keys, err := parse(ad[headerBytes:], secret.Bytes(), corrupt)
	if err != nil {
		secret.Release()
		return nil, err
	}
	return &Doc{Files: files, Keys: keys, secret: secret}, nil
}

// parse decodes a manifest and key section; bad words what it refuses. The
// encoding is canonical (sorted, no repeats, every key used, nothing left
// over), so a document that decodes means exactly one thing. The keys'
// bytes alias keySection.
func parse(manifest, keySection []byte, bad func(format string, args ...any) error) ([]File, []Key, error) {
	p := manifest
	if len(p) < 4 {
		return nil, nil, bad("truncated manifest")
	}
	n := uint64(binary.BigEndian.Uint32(p))
	p = p[4:]
	if n > uint64(len(p)/entryFixed) {
		return nil, nil, bad("%d files do not fit in the manifest", n)
	}
	files := make([]File, 0, n)
	for i := uint64(0); i < n; i++ {
		if len(p) < 2 {
			return nil, nil, bad("truncated at file %d of %d", i, n)
		}
		l := int(binary.BigEndian.Uint16(p))
		if l == 0 || l > MaxPath || len(p) < 2+l+entryFixed-2 {
			return nil, nil, bad("file %d of %d: path length %d", i, n, l)
		}
		f := File{Name: string(p[2 : 2+l])}
		p = p[2+l:]
		f.Entry.KeyID = binary.BigEndian.Uint64(p)
		f.Entry.Method = ctr.Method(p[8])
		copy(f.Entry.IV[:], p[9:9+ctr.IVSize])
		size := binary.BigEndian.Uint64(p[9+ctr.IVSize:])
		p = p[entryFixed-2:]
		if err := checkName(f.Name); err != nil {
			return nil, nil, bad("file %d: %v", i, err)
		}
		if len(files) > 0 && f.Name <= files[len(files)-1].Name {
			return nil, nil, bad("%s: files unsorted or repeated", f.Name)
		}
		if !f.Entry.Method.Valid() {
			return nil, nil, fmt.Errorf("%s: %w %d", f.Name, ctr.ErrUnknownMethod, uint8(f.Entry.Method))
		}
		if f.Entry.Method == ctr.Plaintext && (f.Entry.KeyID != 0 || f.Entry.IV != [ctr.IVSize]byte{}) {
			return nil, nil, bad("%s: a plaintext file with a key id or an IV", f.Name)
		}
		if f.Entry.Method != ctr.Plaintext && f.Entry.KeyID == 0 {
			return nil, nil, bad("%s: an encrypted file with key id 0", f.Name)
		}
		if size > 1<<63-1 {
			return nil, nil, bad("%s: size %d", f.Name, size)
		}
		f.Size = int64(size)
		files = append(files, f)
	}
	if len(p) != 0 {
		return nil, nil, bad("%d bytes after the last file", len(p))
	}

	p = keySection
	if len(p) < 4 {
		return nil, nil, bad("truncated key section")
	}
	n = uint64(binary.BigEndian.Uint32(p))
	p = p[4:]
	if n > uint64(len(p)/keyFixed) {
		return nil, nil, bad("%d keys do not fit in the key section", n)
	}
	keys := make([]Key, 0, n)
	var last uint64
	for i := uint64(0); i < n; i++ {
		if len(p) < keyFixed {
			return nil, nil, bad("truncated at key %d of %d", i, n)
		}
		k := Key{
			ID:      binary.BigEndian.Uint64(p),
			Method:  ctr.Method(p[8]),
			Created: time.Unix(int64(binary.BigEndian.Uint64(p[9:])), 0).UTC(),
			Exposed: p[17]&flagExposed != 0,
		}
		flags, klen := p[17], int(p[18])
		p = p[keyFixed:]
		switch {
		case k.ID == 0 || k.ID <= last:
			return nil, nil, bad("key id %d is zero, unsorted or repeated", k.ID)
		case !k.Method.Valid():
			return nil, nil, fmt.Errorf("key %d: %w %d", k.ID, ctr.ErrUnknownMethod, uint8(k.Method))
		case k.Method == ctr.Plaintext:
			return nil, nil, bad("key %d: method plaintext", k.ID)
		case klen != k.Method.KeySize():
			return nil, nil, bad("key %d: a %d-byte %s key", k.ID, klen, k.Method)
		case flags&^flagExposed != 0:
			return nil, nil, bad("key %d: unknown flags %#x", k.ID, flags)
		case len(p) < klen:
			return nil, nil, bad("key %d truncated", k.ID)
		}
		k.Bytes = p[:klen:klen]
		p = p[klen:]
		last = k.ID
		keys = append(keys, k)
	}
	if len(p) != 0 {
		return nil, nil, bad("%d bytes after the last key", len(p))
	}

	d := Doc{Files: files, Keys: keys}
	used := make(map[uint64]bool, len(keys))
	for _, f := range files {
		if f.Entry.Method == ctr.Plaintext {
			continue
		}
		k, ok := d.Key(f.Entry.KeyID)
		if !ok {
			return nil, nil, bad("%s: data key %d is not in the document", f.Name, f.Entry.KeyID)
		}
		if k.Method != f.Entry.Method {
			return nil, nil, bad("%s: entry says %s but data key %d is %s", f.Name, f.Entry.Method, k.ID, k.Method)
		}
		used[k.ID] = true
	}
	if len(used) != len(keys) {
		return nil, nil, bad("%d data keys no file uses", len(keys)-len(used))
	}
	return files, keys, nil
}

// checkName refuses a name that would not stay inside the data directory,
// on this system or any other: a document authenticated under the
// transfer key is still not allowed to write anywhere but below the
// destination. Names reserved in a data directory are the caller's to
// refuse.
func checkName(name string) error {
	switch {
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("path %q holds a NUL byte", name)
	case path.Clean(name) != name, path.IsAbs(name), name == ".", name == "..", strings.HasPrefix(name, "../"):
		return fmt.Errorf("path %q is not a clean relative path", name)
	case !filepath.IsLocal(filepath.FromSlash(name)):
		return fmt.Errorf("path %q is not local to the data directory here", name)
	}
	return nil
}
